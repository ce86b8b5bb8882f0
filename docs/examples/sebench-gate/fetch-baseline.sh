#!/usr/bin/env bash
# Copy the last accepted report, last.json on the baseline branch of origin, to baseline/last.json.
#
# In:  BASELINE_BRANCH (default sebench-baseline), BASELINE_DIR (default baseline), GIT_TOKEN
#      (optional: sent as an HTTP header for this step's git commands only, see below).
# Out: found=true|false and commit=<the branch's commit, empty when there is no branch> in
#      $GITHUB_OUTPUT (on stdout without it); promote.sh builds on that commit.
#
# Only the absence of the branch means "no baseline" (a first run). Any other failure of
# `git ls-remote` (network, credentials) fails the step: treating it as "no baseline" would let a
# regressed checkpoint through unchecked. A branch without last.json (a reset) is a first run too.
#
# The checkout runs with persist-credentials: false, so the token is in no file; it reaches git
# through GIT_CONFIG_* variables of this process only (not its command line, which other users can
# read), and is gone when the step ends, before any answer runs.
set -euo pipefail

fail() { echo "::error::$*"; exit 1; }
output() { echo "$1=$2" >> "${GITHUB_OUTPUT:-/dev/stdout}"; }

if [ -n "${GIT_TOKEN:-}" ]; then
    basic=$(printf 'x-access-token:%s' "$GIT_TOKEN" | base64 -w0)
    if [ "${GITHUB_ACTIONS:-}" = true ]; then echo "::add-mask::$basic"; fi
    export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0="http.${GITHUB_SERVER_URL:-https://github.com}/.extraheader"
    export GIT_CONFIG_VALUE_0="AUTHORIZATION: basic $basic"
fi

branch=${BASELINE_BRANCH:-sebench-baseline}
dir=${BASELINE_DIR:-baseline}
rm -rf "$dir"
mkdir -p "$dir"

# ls-remote exits 2 when the branch does not exist.
status=0
git ls-remote --exit-code --heads origin "refs/heads/$branch" > /dev/null || status=$?
if [ "$status" = 2 ]; then
    echo "no branch $branch yet: a first run, no comparison"
    output found false
    output commit ""
    exit 0
elif [ "$status" != 0 ]; then
    fail "cannot list the branches of origin (git ls-remote exited $status)"
fi

ref="refs/remotes/origin/$branch"
git fetch -q --no-tags --depth=1 origin "+refs/heads/$branch:$ref"
output commit "$(git rev-parse "$ref")"
if git cat-file -e "$ref:last.json" 2>/dev/null; then
    git show "$ref:last.json" > "$dir/last.json"
    output found true
    echo "baseline: $(git log -1 --format='%h %s' "$ref")"
else
    echo "branch $branch has no last.json (a reset): no comparison"
    output found false
fi
