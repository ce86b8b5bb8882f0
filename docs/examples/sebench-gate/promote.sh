#!/usr/bin/env bash
# Make report.json the accepted baseline: commit it as last.json onto the baseline commit this run
# compared against, and push that commit to the baseline branch of origin, never forced.
#
# In:  GATE_EXIT_CODE (must be 0), SELECT (must be empty), PROMOTE_REF (when set, GITHUB_REF must
#      equal it), PARENT (the commit fetch-baseline.sh reported; empty: the first promotion creates
#      the branch), BASELINE_BRANCH (default sebench-baseline), REPORT (default report.json),
#      REVISION, CKPT, RUN_URL, SEBENCH_REPO and SEBENCH_COMMIT (for the commit message), GIT_TOKEN
#      (optional: sent as an HTTP header for this step's push only).
#
# The commit is built in a scratch index: the checkout stays untouched and other files on the branch
# are kept. If the branch moved after this run fetched it, the push is refused: this run was judged
# against a baseline that is no longer the current one. Git hooks are not run.
set -euo pipefail

fail() { echo "::error::$*"; exit 1; }

if [ "${GATE_EXIT_CODE:-}" != 0 ]; then
    fail "not promoting: the gate exited ${GATE_EXIT_CODE:-(not at all)}; only a green run becomes the baseline"
fi
if [ -n "${SELECT:-}" ]; then
    fail "not promoting: a rerun of selected items (-k) is not a full measurement"
fi
if [ -n "${PROMOTE_REF:-}" ] && [ "${GITHUB_REF:-}" != "$PROMOTE_REF" ]; then
    fail "not promoting: only runs of $PROMOTE_REF move the baseline (this is ${GITHUB_REF:-unknown})"
fi
report=${REPORT:-report.json}
[ -f "$report" ] || fail "no $report to promote"

if [ -n "${GIT_TOKEN:-}" ]; then
    basic=$(printf 'x-access-token:%s' "$GIT_TOKEN" | base64 -w0)
    if [ "${GITHUB_ACTIONS:-}" = true ]; then echo "::add-mask::$basic"; fi
    export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0="http.${GITHUB_SERVER_URL:-https://github.com}/.extraheader"
    export GIT_CONFIG_VALUE_0="AUTHORIZATION: basic $basic"
fi
export GIT_AUTHOR_NAME="github-actions[bot]"
export GIT_AUTHOR_EMAIL="41898282+github-actions[bot]@users.noreply.github.com"
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export GIT_INDEX_FILE="$scratch/index"
parent=()
if [ -n "${PARENT:-}" ]; then
    git read-tree "$PARENT"
    parent=(-p "$PARENT")
else
    git read-tree --empty
fi
blob=$(git hash-object -w "$report")
git update-index --add --cacheinfo "100644,$blob,last.json"
tree=$(git write-tree)

figures=$(python3 - "$report" <<'PY'
import json
import sys

try:
    splits = json.load(open(sys.argv[1], encoding="utf-8"))["summary"]["splits"]
    for name, stats in splits.items():
        print(f"{name}: mean@{stats['k']} {100 * stats['mean_at_k']:.1f}% over {stats['items']} items")
except Exception as error:
    print(f"(figures unavailable: {error!r})")
PY
)
message=$(printf 'sebench baseline: %s\n\ncheckpoint: %s\nrun: %s\npytest-sebench: %s@%s\n\n%s\n' \
    "${REVISION:-?}" "${CKPT:-?}" "${RUN_URL:-?}" "${SEBENCH_REPO:-?}" "${SEBENCH_COMMIT:-?}" "$figures")
commit=$(git commit-tree "$tree" "${parent[@]}" -m "$message")

branch=${BASELINE_BRANCH:-sebench-baseline}
if ! git -c core.hooksPath=/dev/null push origin "$commit:refs/heads/$branch"; then
    fail "push to $branch refused (see above): the branch moved after this run fetched it, so this run was judged against an older baseline (dispatch it again), or the token may not push there"
fi
promoted="baseline is now ${REVISION:-?} ($commit)"
echo "$promoted"
# after a blank line: a line right under the gate's Markdown summary would join its last table or list
printf '\n%s\n' "$promoted" >> "${GITHUB_STEP_SUMMARY:-/dev/null}"
