#!/usr/bin/env bash
# Stop the server started by serve-vllm.sh, engine workers included, so the GPU is free for the next job.
#
# In:  VLLM_PORT (default 8000), RUNNER_TEMP (vllm-<port>.pid). Nothing to do without that file (the
#      server never started).
#
# Sends SIGTERM to the server's whole process group, waits up to STOP_SECONDS (default 30), then
# sends SIGKILL.
set -euo pipefail

pidfile="${RUNNER_TEMP:?is not set}/vllm-${VLLM_PORT:-8000}.pid"
[ -f "$pidfile" ] || exit 0
pid=$(cat "$pidfile")
rm -f "$pidfile"
kill -TERM -- "-$pid" 2>/dev/null || exit 0
for _ in $(seq 1 "${STOP_SECONDS:-30}"); do
    if ! kill -0 -- "-$pid" 2>/dev/null; then
        echo "vLLM stopped"
        exit 0
    fi
    sleep 1
done
echo "vLLM still running after ${STOP_SECONDS:-30} s: killing it"
kill -KILL -- "-$pid" 2>/dev/null || true
