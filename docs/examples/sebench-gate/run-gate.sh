#!/usr/bin/env bash
# Run the SE-Bench gate: pytest-sebench against the served checkpoint, compared with the baseline.
#
# In:  REVISION (from resolve-checkpoint.sh), SERVED_NAME (default ckpt), BASE_URL (default
#      http://127.0.0.1:$VLLM_PORT/v1), HAS_BASELINE (true: compare with $BASELINE_DIR/last.json),
#      SELECT (a -k expression: a rerun of some items, without the aggregate gates),
#      GATE_SAMPLES (5), GATE_WORKERS (16 xdist workers), GATE_FAIL_UNDER (single_test:0.3) and
#      GATE_MAX_DROP (5 points; set empty, either gate is off), GATE_MAX_TOKENS (8192; prompt + this
#      must fit the server's context, vLLM's --max-model-len, or the server refuses every request),
#      GATE_SANDBOX (docker), ANSWER_CACHE (.sebench-cache), BASELINE_DIR (baseline), GATE_HTML
#      (sebench-report.html, the run's HTML page; set empty, none is written).
#      Arguments are passed on to pytest. Everything else (data, split, mode, prompt) comes from the
#      sebench_* ini keys of the repository.
# Out: report.json, junit.xml, correct.jsonl, the HTML page, pytest.log; exit-code=N in $GITHUB_OUTPUT;
#      exits with pytest's status (0 only when every gate passed). The plugin itself appends the run's
#      Markdown summary to $GITHUB_STEP_SUMMARY (the job summary on the run's page) when the run ends.
#
# This step runs model-written code. It refuses to start while a token is in its environment or in
# .git/config (actions/checkout without persist-credentials: false): with --sebench-sandbox=local as
# a normal user, an answer can read and write whatever the runner's user can. The docker sandbox keeps
# answers in a container without network and without the runner's files.
set -euo pipefail

fail() { echo "::error::$*"; exit 1; }

for variable in GITHUB_TOKEN GH_TOKEN GIT_TOKEN; do
    if [ -n "${!variable:-}" ]; then
        fail "$variable is set in the gate's environment, where model-written code runs: pass tokens only to the steps that push or fetch"
    fi
done
if git config --get-regexp '^http\..*\.extraheader$' > /dev/null 2>&1; then
    fail "git keeps credentials in its configuration (an http extraheader) where model-written code runs: check out with persist-credentials: false"
fi

samples=${GATE_SAMPLES:-5}
max_drop=${GATE_MAX_DROP-5}
fail_under=${GATE_FAIL_UNDER-single_test:0.3}
html=${GATE_HTML-sebench-report.html}
args=(
    --sebench-model="${SERVED_NAME:-ckpt}"
    --sebench-base-url="${BASE_URL:-http://127.0.0.1:${VLLM_PORT:-8000}/v1}"
    --sebench-model-revision="${REVISION:?the checkpoint revision}"
    --sebench-samples="$samples"
    --sebench-max-tokens="${GATE_MAX_TOKENS:-8192}"
    --sebench-sandbox="${GATE_SANDBOX:-docker}"
    --sebench-cache="${ANSWER_CACHE:-.sebench-cache}"
    --sebench-report=report.json
    --junitxml=junit.xml
    --sebench-save-correct=correct.jsonl
    -n "${GATE_WORKERS:-16}"
)
if [ -n "$html" ]; then
    args+=(--sebench-html="$html")
fi
if [ -n "${SELECT:-}" ]; then
    args+=(-k "$SELECT")  # a subset: aggregate bars mean nothing on a hand-picked subset
elif [ -n "$fail_under" ]; then
    args+=(--sebench-fail-under="$fail_under")
fi
if [ "${HAS_BASELINE:-false}" = true ]; then
    args+=(--sebench-baseline="${BASELINE_DIR:-baseline}/last.json")
    if [ -z "${SELECT:-}" ] && [ -n "$max_drop" ]; then
        args+=(--sebench-max-drop="$max_drop")  # needs a baseline: a usage error without one
    fi
fi
args+=("$@")

echo "pytest $(printf '%q ' "${args[@]}")"
set +e
pytest "${args[@]}" 2>&1 | tee pytest.log
status=${PIPESTATUS[0]}
set -e
echo "exit-code=$status" >> "${GITHUB_OUTPUT:-/dev/stdout}"
case $status in
    0) echo "gate passed" ;;
    1) echo "::error::gate failed: a regression, an infrastructure error or a bar missed (see the summary)" ;;
    2) echo "::error::the run stopped early (a model server refusing every request: see the last lines)" ;;
    4) echo "::error::usage error (an incomparable baseline? the docker image missing?): see the log" ;;
    *) echo "::error::pytest exited $status" ;;
esac
exit "$status"
