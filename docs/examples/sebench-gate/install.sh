#!/usr/bin/env bash
# Install pytest-sebench from its repository at a pinned commit, and vLLM in a virtual env of its own.
#
# In:  SEBENCH_REPO (owner/name of pytest-sebench on GitHub) and SEBENCH_COMMIT (a full 40-character
#      commit sha): repository variables you set; PYTHON (default python: the one the gate runs with);
#      VLLM_BIN (a vllm already on the runner: no vLLM install), else VLLM_PIP_SPEC (default vllm;
#      pin it, e.g. vllm==X.Y.Z) into $RUNNER_TEMP/vllm-venv.
#
# pytest-sebench is not on PyPI, and its name there is unclaimed: `pip install pytest-sebench` could
# one day install someone else's package on a runner that holds a write token. A commit sha cannot
# move, unlike a branch or a tag. vLLM gets its own environment so that its torch and NumPy pins never
# move the NumPy the answers are graded with.
set -euo pipefail

fail() { echo "::error::$*"; exit 1; }

repo=${SEBENCH_REPO:-}
commit=${SEBENCH_COMMIT:-}
if ! [[ $repo =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]]; then
    fail "set the repository variable SEBENCH_REPO to the owner/name of pytest-sebench on GitHub (now $(printf '%q' "$repo"))"
fi
if ! [[ $commit =~ ^[0-9a-fA-F]{40}$ ]]; then
    fail "set the repository variable SEBENCH_COMMIT to the full 40-character sha of the pytest-sebench commit to install (now $(printf '%q' "$commit")): a branch or a tag can move"
fi
commit=${commit,,}

python=${PYTHON:-python}
"$python" -m pip install -q --upgrade pip
"$python" -m pip install "pytest-sebench[test,docker] @ git+https://github.com/${repo}@${commit}"

if [ -z "${VLLM_BIN:-}" ]; then
    venv="${RUNNER_TEMP:?is not set}/vllm-venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
    "$venv/bin/python" -m pip install "${VLLM_PIP_SPEC:-vllm}"
fi
