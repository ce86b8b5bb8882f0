#!/usr/bin/env bash
# Write the SE-Bench section of pytest.log to the job summary (whatever happened before).
#
# In:  REVISION, EXIT_CODE (the gate's; empty when it did not run), BASELINE_FOUND (true|false),
#      BASELINE_COMMIT, BASELINE_BRANCH (default sebench-baseline), GITHUB_STEP_SUMMARY (default:
#      stdout). Reads pytest.log when there is one.
#
# The section runs from the "SE-Bench summary" banner to the end (table, gates, regressions, rerun
# command, request counts, warnings), without the one line per failed item that the JUnit check shows.
set -euo pipefail

baseline=none
if [ "${BASELINE_FOUND:-}" = true ]; then
    baseline=${BASELINE_COMMIT:-?}
fi
{
    echo "## SE-Bench gate, revision ${REVISION:-?}: pytest exit ${EXIT_CODE:-(did not run)}"
    echo
    echo "Baseline: \`$baseline\` on branch \`${BASELINE_BRANCH:-sebench-baseline}\`"
    echo
    if [ -f pytest.log ]; then
        echo '```'
        if grep -q ' SE-Bench summary ' pytest.log; then
            sed -n '/ SE-Bench summary /,$p' pytest.log | { grep -Ev '^(FAILED|ERROR) sebench::' || true; } | tail -n 200
        else
            tail -n 60 pytest.log
        fi
        echo '```'
    else
        echo "pytest did not run; see the failed step's log."
    fi
} >> "${GITHUB_STEP_SUMMARY:-/dev/stdout}"
