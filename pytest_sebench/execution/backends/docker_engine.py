"""The ``docker`` backend: the warm template of the local backend, inside a long-lived container.

One container per backend instance runs ``sandbox/template.py`` (image: ``sandbox/Dockerfile``), and
the host speaks the protocol of ``sandbox/PROTOCOL.md`` to it over the container's attached
stdin/stdout with the same client as the local backend (``stream.py``). So an answer costs one fork
inside the container, not a container or a ``docker exec``. The container has no network, a
read-only root with a small tmpfs on /tmp (emptied after every answer), memory / pids / CPU limits, a
non-root user, the template itself as PID 1 (no init for answers to reach the stream through), no
capabilities and no-new-privileges. When the template dies the container goes, the next answer gets a new one.

Containers are labelled with their owner (host, pid, process start time) and removed by ``close()``,
at exit, on SIGTERM/SIGHUP, and, should this process be killed outright, by the engine itself: they
run with ``--rm`` and stdin-once, so the template sees end-of-file when our end of the stream goes away
and exits. Leftovers of owners that are gone are swept at start (``docker_owners``).

The ``docker`` SDK is imported only in this module, which only ``--sebench-sandbox=docker`` imports.
"""

from __future__ import annotations

import hashlib
import os
import select
import socket
import time
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..base import Execution, Job, Limits, Sandbox, SandboxBackend, SandboxUnavailable, named
from ..docker_owners import LABEL_KIND, LABEL_OWNER, install_cleanup, owner, remove, sweep_leftovers, track
from ..stream import CLOSE_GRACE, Stream, TemplateClient

if TYPE_CHECKING:  # the SDK is optional: only type checkers import it at module level
    import docker

LABEL_CODE = "org.sebench.code"  # digest of the sandbox code an image was built from
IMAGE_ENV = "SEBENCH_DOCKER_IMAGE"  # use this image instead of looking one up by its code digest
SANDBOX_USER = "10001:10001"  # the image's unprivileged user (sandbox/Dockerfile)
MiB = 1024**2
TEMPLATE_HEADROOM = 512 * MiB  # the template and NumPy, above what one answer may use
TMPFS_BYTES = 64 * MiB
MAX_PROCESSES = 256  # the whole container: template, answer, whatever the answer starts
CPUS = 1.0
STDERR_TAIL = 4096  # what the template printed on its own stderr, kept for error messages
_CHUNK = 1024**2

HOW_TO_GET_AN_ENGINE = (
    "the docker sandbox needs a running Docker engine, and none answered ({error}). Start one "
    "(Debian/Ubuntu as root: `apt-get install docker.io && dockerd &`; elsewhere Docker Desktop or "
    "Docker Engine), or point DOCKER_HOST at a remote engine; `.ci/docker-setup.sh` in the repository "
    "does all of it and builds the image. Or use --sebench-sandbox=local."
)
HOW_TO_BUILD = (
    "no Docker image of the sebench sandbox was built from this version of its code (label "
    "{label}={digest}). Build it with `.ci/docker-setup.sh` from the repository (no registry needed), "
    "or set {env} to an image built from sandbox/Dockerfile with --build-arg CODE_DIGEST={digest}."
)


# -- the engine and the image -----------------------------------------------------------------------

def sandbox_folder() -> Path:
    return Path(str(resources.files("pytest_sebench.sandbox_files")))


def code_digest(folder: Path | None = None) -> str:
    """Digest of the sandbox's *.py files; .ci/docker-setup.sh labels the image with the same one."""
    digest = hashlib.sha256()
    for path in sorted((folder or sandbox_folder()).glob("*.py"), key=lambda p: p.name):
        digest.update(f"{path.name}\0{hashlib.sha256(path.read_bytes()).hexdigest()}\n".encode())
    return digest.hexdigest()


def connect() -> "docker.DockerClient":
    """A client of a running engine (DOCKER_HOST or the local socket), or SandboxUnavailable saying how."""
    try:
        import docker
    except ImportError:
        raise SandboxUnavailable("the docker sandbox needs the `docker` Python package: "
                                 "pip install 'pytest-sebench[docker]' (or pip install docker)") from None
    client = None
    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except docker.errors.DockerException as error:
        if client is not None:
            client.close()
        raise SandboxUnavailable(HOW_TO_GET_AN_ENGINE.format(error=_short(error))) from None
    return client


def find_image(client: "docker.DockerClient") -> str:
    """The id of an image built from this sandbox code: $SEBENCH_DOCKER_IMAGE, else the newest labelled one."""
    import docker

    digest = code_digest()
    name = os.environ.get(IMAGE_ENV, "").strip()
    if name:
        try:
            image = client.images.get(name)
        except docker.errors.ImageNotFound:
            raise SandboxUnavailable(f"{IMAGE_ENV}={name}: no such image in the engine") from None
        if image.labels.get(LABEL_CODE) != digest:
            raise SandboxUnavailable(f"{IMAGE_ENV}={name} was built from other sandbox code: "
                                     + HOW_TO_BUILD.format(label=LABEL_CODE, digest=digest, env=IMAGE_ENV))
        return str(image.id)
    images = client.images.list(filters={"label": f"{LABEL_CODE}={digest}"})
    if not images:
        raise SandboxUnavailable(HOW_TO_BUILD.format(label=LABEL_CODE, digest=digest, env=IMAGE_ENV))
    return str(max(images, key=lambda image: image.attrs.get("Created", "")).id)


def check() -> str:
    """Fail fast: raise SandboxUnavailable (no SDK, no engine, no image) saying how to fix it.

    Meant for configure time, before any item runs. Returns the id of the image the backend will use.
    """
    client = connect()
    try:
        return find_image(client)
    finally:
        client.close()


def _preflight() -> None:
    check()  # the image id is of no use here


def _short(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= 300 else text[:297] + "..."


# -- how a container runs ---------------------------------------------------------------------------

def create_options(client: "docker.DockerClient", limits: Limits) -> dict[str, Any]:
    """Every isolation setting of a sandbox container, in one place (``APIClient.create_container``).

    The low-level API, because only it opens stdin once: our end of the stream closing then closes
    the template's stdin, the template exits, and auto-remove (``--rm``) removes the container.
    """
    from docker.types import LogConfig, Ulimit

    # The answer's own limit is an address-space rlimit set by the template; the container's memory
    # also holds the template, NumPy and the tmpfs.
    memory = limits.memory_bytes + TEMPLATE_HEADROOM + TMPFS_BYTES
    host_config = client.api.create_host_config(
        network_mode="none",
        read_only=True,
        tmpfs={"/tmp": f"rw,nosuid,nodev,noexec,size={TMPFS_BYTES},mode=1777"},
        mem_limit=memory,
        memswap_limit=memory,  # no swap: the limit is the limit
        pids_limit=MAX_PROCESSES,
        nano_cpus=int(CPUS * 1e9),
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        ulimits=[Ulimit(name="core", soft=0, hard=0)],
        ipc_mode="none",  # no /dev/shm: /tmp is the only place an answer can write
        # The protocol travels over stdout: a logging driver would keep a copy of every job on disk.
        log_config=LogConfig(type="none"),
        auto_remove=True,
    )
    return dict(
        user=SANDBOX_USER,
        hostname="sandbox",
        stdin_open=True,
        detach=False,  # with stdin_open: attach stdin/stdout/stderr, stdin once
        tty=False,  # a TTY would rewrite the bytes of the stream
        network_disabled=True,
        labels={LABEL_KIND: "container", LABEL_OWNER: owner()},
        host_config=host_config,
    )


# -- the attached stream ----------------------------------------------------------------------------

class _Demultiplexer:
    """Splits the engine's attach stream into stdout and stderr.

    Without a TTY the engine multiplexes them into frames: an 8-byte header (stream number, three
    zero bytes, big-endian length), then that many bytes. Stdout is the protocol; of stderr (the
    template's own complaints) only a short tail is kept, for error messages.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._stdout = bytearray()
        self.stderr = bytearray()

    def feed(self, chunk: bytes) -> None:
        self._buffer += chunk
        while len(self._buffer) >= 8:
            size = int.from_bytes(self._buffer[4:8], "big")
            if len(self._buffer) < 8 + size:
                return
            kind, payload = self._buffer[0], self._buffer[8:8 + size]
            del self._buffer[:8 + size]
            if kind == 1:
                self._stdout += payload
            elif kind == 2:
                self.stderr += payload
                del self.stderr[:-STDERR_TAIL]

    def take_stdout(self) -> bytes:
        data = bytes(self._stdout)
        self._stdout.clear()
        return data


class ContainerStream(Stream):
    """A template in a new container of ours, spoken to over the attach connection.

    The connection is made before the container starts, so nothing the template says is missed.
    """

    def __init__(self, client: "docker.DockerClient", image: str, limits: Limits) -> None:
        import docker

        self._api = client.api
        try:
            self.container_id = str(self._api.create_container(image, **create_options(client, limits))["Id"])
        except docker.errors.DockerException as error:
            raise SandboxUnavailable(f"cannot create a sandbox container: {_short(error)}") from None
        track(self.container_id)
        try:
            attached = self._api.attach_socket(self.container_id, params={
                "stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
            self._attached = attached  # closed with the socket: it holds a reference that keeps it open
            self._socket = _raw_socket(attached)
            self._api.start(self.container_id)
        except (docker.errors.DockerException, SandboxUnavailable) as error:
            remove(self._api, self.container_id)
            raise SandboxUnavailable(f"cannot start a sandbox container: {_short(error)}") from None
        self._demux = _Demultiplexer()
        self._ended = False
        self.closed = False

    def write(self, data: bytes) -> None:
        self._socket.sendall(data)

    def read(self, timeout: float) -> bytes:
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            data = self._demux.take_stdout()
            if data or self._ended:
                return data
            if not self._readable(deadline - time.monotonic()):
                raise TimeoutError
            chunk = self._socket.recv(_CHUNK)
            self._ended = not chunk
            self._demux.feed(chunk)

    def _readable(self, timeout: float) -> bool:
        pending = getattr(self._socket, "pending", None)  # TLS: bytes decrypted but not yet taken
        if pending is not None and pending():
            return True
        return bool(select.select([self._socket], [], [], max(timeout, 0.0))[0])

    def close(self) -> None:
        """End of stdin: the template finishes, exits, and the engine removes the container; it is
        removed by force if that takes longer than the grace period."""
        self.closed = True
        try:
            self._socket.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + CLOSE_GRACE
            while self.read(deadline - time.monotonic()):
                pass
        except (OSError, TimeoutError):
            pass
        finally:
            self._socket.close()
            if hasattr(self._attached, "close"):
                self._attached.close()
            remove(self._api, self.container_id)

    def diagnostics(self) -> str:
        tail = bytes(self._demux.stderr).decode("utf-8", errors="replace").strip().splitlines()[-8:]
        return "; ".join(part for part in (f"container {self.container_id[:12]}", "\n".join(tail)) if part)


def _raw_socket(attached: Any) -> socket.socket:
    """The socket under what ``attach_socket`` returns (a SocketIO for unix sockets and plain TCP)."""
    raw = getattr(attached, "_sock", attached)
    if not isinstance(raw, socket.socket):
        raise SandboxUnavailable(f"cannot attach over {type(raw).__name__} (use a unix or tcp DOCKER_HOST)")
    return raw


# -- the backend ------------------------------------------------------------------------------------

class DockerSandbox(Sandbox):
    """One long-lived container, its template reused by every answer and replaced when it dies."""

    name = "docker"

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.client = connect()
        self.image = find_image(self.client)
        install_cleanup()
        sweep_leftovers(self.client)
        self._current: ContainerStream | None = None
        # TemplateClient: one job at a time, a new container when the stream ends or breaks.
        self.template = TemplateClient(self._start, limits, name="docker")

    @property
    def container_id(self) -> str | None:
        """The container of the running template, if one runs."""
        current = self._current
        return current.container_id if current is not None and not current.closed else None

    def execute(self, job: Job) -> Execution:
        return self.template.execute(job)

    def submit(self, job: Job) -> Callable[[], Execution]:
        return self.template.submit(job)

    def _start(self) -> ContainerStream:
        self._current = ContainerStream(self.client, self.image, self.limits)
        return self._current

    def hello(self) -> dict[str, Any]:
        return self.template.start()

    def close(self) -> None:
        self.template.close()  # a later job would start a new container
        # and the engine client's connections (a later request opens new ones): left to the garbage
        # collector, an open socket is a ResourceWarning in whatever runs then
        self.client.close()


BACKEND = SandboxBackend(name="docker", choices="docker", accepts=named("docker"),
                         build=lambda choice, limits, options: DockerSandbox(limits),
                         preflight=lambda choice: _preflight())
