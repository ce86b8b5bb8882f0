#!/usr/bin/env bash
# Start vLLM in the background on loopback, serving the checkpoint under a fixed name.
#
# In:  CKPT (the folder), SERVED_NAME (default ckpt), VLLM_PORT (default 8000), VLLM_BIN (default
#      $RUNNER_TEMP/vllm-venv/bin/vllm), VLLM_MAX_MODEL_LEN (the context, --max-model-len; empty: the
#      model's own), GATE_MAX_TOKENS (checked against it), VLLM_EXTRA_ARGS (split into words),
#      VLLM_LOG (default vllm.log), RUNNER_TEMP (vllm-<port>.pid goes there, for the other scripts).
#
# Every request is prompt + max_tokens: with GATE_MAX_TOKENS at or above the context, vLLM refuses all
# of them, so this fails before the weights spend minutes loading. setsid makes vLLM lead its own
# process group, so that stop-vllm.sh ends its engine workers too.
set -euo pipefail

fail() { echo "::error::$*"; exit 1; }

ckpt=${CKPT:?the checkpoint folder}
state=${RUNNER_TEMP:?is not set}
port=${VLLM_PORT:-8000}
context=${VLLM_MAX_MODEL_LEN:-}
max_tokens=${GATE_MAX_TOKENS:-}
for number in "$port" "$context" "$max_tokens"; do
    [[ $number =~ ^[0-9]*$ ]] || fail "not a number: $(printf '%q' "$number") (VLLM_PORT, VLLM_MAX_MODEL_LEN, GATE_MAX_TOKENS)"
done
if [ -n "$context" ] && [ -n "$max_tokens" ] && [ "$max_tokens" -ge "$context" ]; then
    fail "GATE_MAX_TOKENS=$max_tokens leaves no room for the prompt in VLLM_MAX_MODEL_LEN=$context: vLLM would refuse every request; lower one or raise the other"
fi

# A server left over from an earlier run would answer for the wrong weights under the same name.
if curl -s --max-time 2 -o /dev/null "http://127.0.0.1:$port/v1/models"; then
    fail "something already answers on port $port (a vLLM left over from an earlier run?): stop it or change VLLM_PORT"
fi

args=(serve "$ckpt" --served-model-name "${SERVED_NAME:-ckpt}" --host 127.0.0.1 --port "$port")
if [ -n "$context" ]; then
    args+=(--max-model-len "$context")
fi
read -r -a extra <<< "${VLLM_EXTRA_ARGS:-}"
args+=("${extra[@]}")

log=${VLLM_LOG:-vllm.log}
setsid "${VLLM_BIN:-$state/vllm-venv/bin/vllm}" "${args[@]}" > "$log" 2>&1 < /dev/null &
echo $! > "$state/vllm-$port.pid"
echo "vLLM started (pid $!): ${args[*]}; log in $log"
