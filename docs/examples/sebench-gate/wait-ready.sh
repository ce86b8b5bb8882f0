#!/usr/bin/env bash
# Wait until the server started by serve-vllm.sh answers GET /v1/models and lists the served name.
#
# In:  SERVED_NAME (default ckpt), VLLM_PORT (default 8000), VLLM_READY_ATTEMPTS (default 240),
#      VLLM_READY_INTERVAL (seconds, default 5: 20 minutes in all), VLLM_LOG (default vllm.log),
#      RUNNER_TEMP (vllm-<port>.pid).
#
# Fails at once, with the end of the log, when the server process dies (out of memory, a bad
# checkpoint), and fails when the deadline passes or the server does not list the name: a broken
# server fails here, in one clear place, instead of as a run of ERROR items. Prints what the server
# reports as the weights' path (vLLM's `root`), which the plugin adds to its answer-cache key.
set -euo pipefail

name=${SERVED_NAME:-ckpt}
port=${VLLM_PORT:-8000}
attempts=${VLLM_READY_ATTEMPTS:-240}
log=${VLLM_LOG:-vllm.log}
pid=$(cat "${RUNNER_TEMP:?is not set}/vllm-$port.pid")
url="http://127.0.0.1:$port/v1/models"
models="$RUNNER_TEMP/models.json"

for attempt in $(seq 1 "$attempts"); do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "::error::vLLM exited before it answered $url (the end of $log below)"
        tail -n 80 "$log"
        exit 1
    fi
    if curl -fsS --max-time 5 -o "$models" "$url" 2>/dev/null; then
        python3 - "$models" "$name" <<'PY'
import json
import sys

path, name = sys.argv[1:]
listed = {model.get("id"): model for model in json.load(open(path, encoding="utf-8")).get("data", [])}
if name not in listed:
    print(f"::error::the server answers but does not list the model {name!r} (it lists {sorted(map(str, listed))})")
    sys.exit(1)
root = listed[name].get("root")
print(f"serving {name!r}; weights reported: {root if root else '(none: only the revision tells checkpoints apart)'}")
PY
        echo "vLLM ready after $attempt attempt(s)"
        exit 0
    fi
    sleep "${VLLM_READY_INTERVAL:-5}"
done
echo "::error::vLLM did not answer $url after $attempts attempts (the end of $log below)"
tail -n 80 "$log"
exit 1
