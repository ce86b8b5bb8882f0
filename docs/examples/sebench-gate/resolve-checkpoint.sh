#!/usr/bin/env bash
# Resolve the checkpoint folder and name it with a revision that is unique across training runs.
#
# In:  CKPT_INPUT (the dispatch input) or else CKPT_SCHEDULED (the nightly folder, often a `latest`
#      symlink, resolved here); REVISION_INPUT (optional: overrides the derived revision).
# Out: path=<the resolved folder> and revision=<name> in $GITHUB_OUTPUT (on stdout without it).
#
# The revision defaults to the folder's two last path components joined by a dot:
# /ckpts/run-7/step-1200 gives run-7.step-1200. The folder's name alone (step-1200) recurs in every
# training run, and the revision keys both --sebench-model-revision and the actions/cache entry, so
# run 8's step 1200 would be graded with run 7's answers. The revision is restricted to letters,
# digits, '.', '_' and '-' (first a letter or digit, at most 100) because it ends up in cache keys,
# artifact names and commit messages.
set -euo pipefail

fail() { echo "::error::$*"; exit 1; }
output() { echo "$1=$2" >> "${GITHUB_OUTPUT:-/dev/stdout}"; }

ckpt=${CKPT_INPUT:-${CKPT_SCHEDULED:-}}
if [ -z "$ckpt" ]; then
    fail "no checkpoint: pass the 'checkpoint' input, or set the repository variable SEBENCH_LATEST_CHECKPOINT for scheduled runs"
fi
if ! resolved=$(realpath -e -- "$ckpt" 2>/dev/null) || [ ! -d "$resolved" ]; then
    fail "checkpoint folder $(printf '%q' "$ckpt") does not exist on runner ${RUNNER_NAME:-$(hostname)}"
fi
if [[ $resolved == *$'\n'* ]]; then
    fail "the checkpoint's path contains a line break"
fi

if [ -n "${REVISION_INPUT:-}" ]; then
    revision=$REVISION_INPUT
else
    revision="$(basename -- "$(dirname -- "$resolved")").$(basename -- "$resolved")"
fi
if ! [[ $revision =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$ ]]; then
    fail "revision $(printf '%q' "$revision") (from $resolved): give the 'revision' input, 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit"
fi

output path "$resolved"
output revision "$revision"
echo "checkpoint $resolved, revision $revision"
