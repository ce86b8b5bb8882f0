#!/usr/bin/env bash
# Make the docker sandbox usable on this machine: an engine, a base image, our image.
#
# Idempotent and non-interactive (safe under CI=true with no stdin); each step is skipped when its
# result is already there, so a second run costs a few seconds:
#   1. docker.io and debootstrap from Debian, when missing;
#   2. dockerd started in the background, when no engine answers (`docker info`);
#   3. the base image sebench-base:bookworm, when absent: debootstrap of Debian bookworm (Python
#      3.11, tini) imported with `docker import`; it stays in the engine's storage between runs;
#   4. the wheels of sandbox/docker/requirements.txt, downloaded on the host (no HTTPS inside builds);
#   5. our image sebench-sandbox:<hash of its build context>, built only when that hash is new.
# Prints the image's name last. No registry is used.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
BASE_IMAGE=sebench-base:bookworm
IMAGE_REPO=sebench-sandbox
MIRROR=${SEBENCH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
WHEELS=sandbox/docker/wheels
DOCKERD_LOG=${SEBENCH_DOCKERD_LOG:-/var/log/sebench-dockerd.log}
# Any Python with pip does for the download and the digest; the project's venv when there is one.
PYTHON=${SEBENCH_SETUP_PYTHON:-python3}
if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; fi

step() { printf '[docker-setup %4ss] %s\n' "$SECONDS" "$*"; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi
}

install_packages() {
    local missing=()
    command -v dockerd >/dev/null || missing+=(docker.io)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    if [ ${#missing[@]} -eq 0 ]; then return; fi
    step "installing ${missing[*]}"
    as_root apt-get update -q >/dev/null
    as_root apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

start_engine() {
    if docker info >/dev/null 2>&1; then return; fi
    if [ -n "${DOCKER_HOST:-}" ]; then
        echo "docker-setup: DOCKER_HOST=$DOCKER_HOST does not answer" >&2; exit 1
    fi
    step "starting dockerd (log: $DOCKERD_LOG)"
    # setsid + nohup: the engine outlives this script and the CI step that ran it.
    as_root setsid nohup dockerd --storage-driver=overlay2 </dev/null >>"$DOCKERD_LOG" 2>&1 &
    for _ in $(seq 1 60); do
        if docker info >/dev/null 2>&1; then return; fi
        sleep 1
    done
    echo "docker-setup: dockerd did not answer within 60 s; the end of $DOCKERD_LOG:" >&2
    tail -n 20 "$DOCKERD_LOG" >&2 || true
    exit 1
}

build_base() {
    if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then return; fi
    step "building $BASE_IMAGE with debootstrap from $MIRROR"
    local root
    root=$(mktemp -d /var/tmp/sebench-base.XXXXXX)
    # shellcheck disable=SC2064  # expand now: the trap must remove this folder
    trap "as_root rm -rf '$root'" EXIT
    as_root debootstrap --variant=minbase --include=python3,tini bookworm "$root" "$MIRROR" >/dev/null
    as_root rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    as_root tar -C "$root" -c . | docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >/dev/null
    as_root rm -rf "$root"
    trap - EXIT
}

download_wheels() {
    # A stamp of the requirements file: the same requirements need no index look-up again.
    local stamp="$WHEELS/.requirements.sha256" wanted
    wanted=$(sha256sum sandbox/docker/requirements.txt | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] && compgen -G "$WHEELS/*.whl" >/dev/null; then
        return
    fi
    step "downloading wheels for $(uname -m), CPython 3.11"
    rm -rf "$WHEELS" && mkdir -p "$WHEELS"
    local arch
    arch=$(uname -m)
    "$PYTHON" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
        --implementation cp --python-version 3.11 --abi cp311 \
        --platform "manylinux_2_28_$arch" --platform "manylinux2014_$arch" \
        -r sandbox/docker/requirements.txt -d "$WHEELS"
    echo "$wanted" >"$stamp"
}

# The digest the image is labelled with; docker_backend.code_digest() computes the same one from
# the installed package, so the backend only uses an image built from the code it expects.
code_digest() {
    "$PYTHON" - "$1" <<'EOF'
import hashlib, sys
from pathlib import Path
digest = hashlib.sha256()
for path in sorted(Path(sys.argv[1]).glob("*.py"), key=lambda p: p.name):
    digest.update(f"{path.name}\0{hashlib.sha256(path.read_bytes()).hexdigest()}\n".encode())
print(digest.hexdigest())
EOF
}

# The build context: exactly what the Dockerfile uses, copied once (a snapshot: the digest, the tag
# and the build all see the same files even while someone edits sandbox/).
snapshot_context() {
    mkdir -p "$1/docker/wheels"
    cp sandbox/*.py sandbox/Dockerfile "$1/"
    cp sandbox/docker/install_wheels.py "$1/docker/"
    cp "$WHEELS"/*.whl "$1/docker/wheels/"
}

build_image() {
    local context digest base_id tag
    context=$(mktemp -d /var/tmp/sebench-context.XXXXXX)
    snapshot_context "$context"
    digest=$(code_digest "$context")
    base_id=$(docker image inspect --format '{{.Id}}' "$BASE_IMAGE")
    # A reproducible tar of the context (sorted, no times or owners): its hash names the image.
    tar -C "$context" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --mode=a+rX,go-w \
        -cf "$context.tar" .
    rm -rf "$context"
    tag=$(cat "$context.tar" <(echo "$base_id") | sha256sum | cut -c1-16)
    IMAGE="$IMAGE_REPO:$tag"
    if docker image inspect "$IMAGE" >/dev/null 2>&1; then
        rm -f "$context.tar"
        return
    fi
    step "building $IMAGE"
    # The legacy builder needs no buildx plugin; its RUN steps need no network either. Its output
    # (and its deprecation notice) is shown only when the build fails.
    if ! DOCKER_BUILDKIT=0 docker build --network=none --build-arg "BASE=$BASE_IMAGE" \
            --build-arg "CODE_DIGEST=$digest" -t "$IMAGE" -t "$IMAGE_REPO:latest" - \
            <"$context.tar" >"$context.log" 2>&1; then
        cat "$context.log" >&2
        rm -f "$context.tar" "$context.log"
        echo "docker-setup: building $IMAGE failed" >&2
        exit 1
    fi
    rm -f "$context.tar" "$context.log"
    remove_old_images "$tag"
}

remove_old_images() {
    # Earlier builds of our image only take disk space; containers still using one keep it alive.
    docker image ls --format '{{.Repository}}:{{.Tag}}' "$IMAGE_REPO" \
        | grep -v -e ":$1\$" -e ':latest$' | xargs -r docker image rm >/dev/null 2>&1 || true
}

install_packages
start_engine
build_base
download_wheels
build_image
step "ready: $IMAGE"
