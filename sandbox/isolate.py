"""The isolation layers around one answer, set up by the template (once) and by each child (per answer).

Layers, each used where the OS permits it (``Layers`` records which are active; the host warns when
one is missing, because then the sandbox is not a security boundary):

- ``network``: the template moves into a new, empty network namespace at start (no interface is up,
  not even loopback), so no child can reach any host, 127.0.0.1 included. Needs root on Linux.
- ``mounts``: the template moves into a private mount namespace at start and covers the paths the
  host asks to hide (home, project, data and caches) with empty read-only tmpfs, keeping the
  interpreter's own folders visible read-only. Each child then gets its own mount namespace with a
  fresh /tmp (its working folder lives there), /dev/shm, /var/tmp and an empty /proc: nothing one
  answer writes is seen by the next one, and /proc/<pid>/environ or /proc/self/mem are out of reach.
- ``user``: each child drops to its own unprivileged uid/gid (``UID_BASE + pid``), so the process
  limit (RLIMIT_NPROC) counts only that answer's processes, it cannot signal the template or the host,
  and every process it leaves behind (also after setsid) is killed with one ``kill(-1)`` from a helper
  running as that uid. Needs root.
- Always: own process group, default signal handlers, resource limits (CPU time, address space, file
  size = output cap, open files, core 0), stdout/stderr in capped memory files, stdin from /dev/null,
  no other inherited descriptors, an environment without secrets (HOME = the working folder).

Standard library only (ctypes for unshare/mount/prctl on Python 3.11, which lacks os.unshare).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import os
import resource
import signal
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Any

UID_BASE = 1_000_000_000  # far above real users and the usual subuid ranges (uids are 32-bit)
PROCESS_LIMIT = 64  # per answer, with its own uid
OPEN_FILES = 256

_CLONE_NEWNS, _CLONE_NEWIPC, _CLONE_NEWNET = 0x00020000, 0x08000000, 0x40000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_REMOUNT = 0x1, 0x2, 0x4, 0x20
_MS_BIND, _MS_REC, _MS_PRIVATE = 0x1000, 0x4000, 0x40000
PR_SET_PDEATHSIG, _PR_SET_DUMPABLE, _PR_SET_CHILD_SUBREAPER, _PR_SET_NO_NEW_PRIVS = 1, 4, 36, 38
# The system itself: the only top-level folders the answers see (besides the interpreter's own
# folders, bound back read-only). Everything else (/home, /root, /work, /mnt, /opt, /srv, /tmp, /var,
# /run, ...) is covered, so data, caches and projects stay hidden wherever they live.
_SYSTEM = {"/", "/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/etc", "/dev", "/sys", "/proc"}
# Shared, writable or socket-holding places replaced for every answer inside its own namespace.
_FRESH_PER_ANSWER = ("/tmp", "/var/tmp", "/dev/shm")
_ENV_PASSTHROUGH = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")


@dataclass
class Layers:
    """Which layers this template could set up, and why the others are missing."""

    network: bool = False
    mounts: bool = False
    user: bool = False
    missing: dict[str, str] = field(default_factory=dict)
    sweeper: Any = field(default=None, repr=False)  # a cleanup.Sweeper, set with ``user``
    # Computed once for every child's private filesystem: the fresh places that exist, and the
    # interpreter folders inside them (bound back read-only).
    fresh: list[str] = field(default_factory=list)
    rebound: list[str] = field(default_factory=list)
    # What this template owns alone (a container): its uid (every other process of it after an answer
    # is a leftover) and its temporary folder (emptied after every answer). Not with a uid per answer.
    exclusive_uid: bool = False
    own_tmp: bool = False

    def describe(self) -> dict[str, Any]:
        return {"network": self.network, "mounts": self.mounts, "user": self.user, "missing": self.missing}


def uid_for(pid: int) -> int:
    """The uid a child runs as: its own pid (unique among live processes) above UID_BASE."""
    return UID_BASE + pid


class _Libc:
    def __init__(self) -> None:
        self.lib = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)

    def call(self, name: str, *args: Any) -> None:
        if getattr(self.lib, name)(*args) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"{name}: {os.strerror(error)}")

    def mount(self, source: str | None, target: str, kind: str | None, flags: int, data: str | None = None) -> None:
        encode = lambda text: None if text is None else text.encode()  # noqa: E731
        self.call("mount", encode(source), encode(target), encode(kind), ctypes.c_ulong(flags), encode(data))


_LIBC: _Libc | None = None


def libc() -> _Libc:
    global _LIBC
    if _LIBC is None:
        _LIBC = _Libc()
    return _LIBC


# --- once, in the template -----------------------------------------------------------------------

def prepare_template(hide: list[str], keep: list[str], wanted: bool = True) -> Layers:
    """Enter the template's namespaces and hide ``hide`` (but not ``keep``); report what worked.

    Called before NumPy is imported (see ``cleanup.Sweeper``) and after moving to ``/``.
    """
    layers = Layers()
    if not wanted:
        layers.missing = {name: "turned off (--no-isolation)" for name in ("network", "mounts", "user")}
        return layers
    if not sys.platform.startswith("linux"):
        layers.missing = {name: f"not available on {sys.platform}" for name in ("network", "mounts", "user")}
        return layers
    if os.geteuid() != 0:
        layers.missing = {name: "needs root (namespaces, a separate uid per answer)"
                          for name in ("network", "mounts", "user")}
        return layers
    layers.user = True  # the template then starts its cleanup.Sweeper, while it is still small
    layers.network = _try(layers, "network", lambda: libc().call("unshare", _CLONE_NEWNET))
    layers.mounts = _try(layers, "mounts", lambda: _hide_paths(hide + _top_level_non_system(), keep))
    # As the children will find them: after hiding (/var/tmp, say, may be gone with /var).
    layers.fresh = [path for path in _FRESH_PER_ANSWER if os.path.isdir(path)]
    layers.rebound = [path for path in _outermost(_existing(keep))
                      if any(_inside(path, fresh) for fresh in layers.fresh)]
    return layers


def _try(layers: Layers, name: str, action: Any) -> bool:
    try:
        action()
    except OSError as error:
        layers.missing[name] = str(error)
        return False
    return True


def _hide_paths(hide: list[str], keep: list[str]) -> None:
    c_lib = libc()
    c_lib.call("unshare", _CLONE_NEWNS)
    c_lib.mount(None, "/", None, _MS_REC | _MS_PRIVATE)  # nothing we mount reaches the host
    kept = _existing(keep)
    # Opened before anything is covered: afterwards the kept folders are bound back from these.
    handles = {path: os.open(path, os.O_PATH | os.O_DIRECTORY) for path in kept}
    try:
        for path in _outermost(_existing(hide) - _SYSTEM - kept):
            if os.path.isdir(path):
                c_lib.mount("tmpfs", path, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=64k,nr_inodes=256,mode=755")
                for inner in sorted(p for p in kept if _inside(p, path)):
                    os.makedirs(inner, exist_ok=True)
                    c_lib.mount(f"/proc/self/fd/{handles[inner]}", inner, None, _MS_BIND | _MS_REC)
                    c_lib.mount(None, inner, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY)
                c_lib.mount(None, path, None, _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)
            else:
                c_lib.mount("/dev/null", path, None, _MS_BIND)
    finally:
        for handle in handles.values():
            os.close(handle)


def _top_level_non_system() -> list[str]:
    # Symbolic links at the top (/bin -> usr/bin) lead into the system: their targets stay.
    return [path for path in (os.path.join("/", name) for name in os.listdir("/"))
            if path not in _SYSTEM and not os.path.islink(path)]


def _existing(paths: list[str]) -> set[str]:
    return {os.path.realpath(path) for path in paths if path and os.path.lexists(path)}


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _outermost(paths: set[str]) -> list[str]:
    """Drop paths that lie inside another one: covering the outer folder hides them already."""
    return sorted(p for p in paths if not any(o != p and _inside(p, o) for o in paths))


# --- per answer, in the forked child (still root until drop_privileges) --------------------------

def enter_own_group() -> None:
    os.setpgid(0, 0)
    # The template's own handlers must not run in the child; Python's defaults are kept where the
    # runner relies on them (SIGPIPE and SIGXFSZ ignored: writes past the cap raise OSError).
    for number in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD, signal.SIGUSR1, signal.SIGUSR2,
                   signal.SIGALRM, signal.SIGQUIT):
        signal.signal(number, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_SETMASK, ())


def private_filesystem(output_bytes: int, layers: Layers) -> str:
    """A fresh namespace with its own /tmp (and friends) and no /proc; returns the working folder.

    Interpreter folders that live inside a fresh folder (a checkout and its .venv under /tmp, as CI
    clones may be) are bound back read-only: NumPy imports some of its modules lazily.
    """
    c_lib = libc()
    c_lib.call("unshare", _CLONE_NEWNS | _CLONE_NEWIPC)
    c_lib.mount(None, "/", None, _MS_REC | _MS_PRIVATE)
    handles = {path: os.open(path, os.O_PATH | os.O_DIRECTORY) for path in layers.rebound}
    size = 2 * output_bytes + 1024**2
    try:
        for path in layers.fresh:
            c_lib.mount("tmpfs", path, "tmpfs", _MS_NOSUID | _MS_NODEV, f"size={size},nr_inodes=4096,mode=1777")
            for inner in (p for p in layers.rebound if _inside(p, path)):
                os.makedirs(inner, exist_ok=True)
                c_lib.mount(f"/proc/self/fd/{handles[inner]}", inner, None, _MS_BIND | _MS_REC)
                c_lib.mount(None, inner, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY)
    finally:
        for handle in handles.values():
            os.close(handle)
    c_lib.mount("tmpfs", "/proc", "tmpfs", _MS_NOSUID | _MS_NODEV | _MS_RDONLY, "size=4k,nr_inodes=16,mode=555")
    workdir = f"/tmp/answer-{os.getpid()}"  # this /tmp is ours alone, and empty
    os.mkdir(workdir, 0o700)
    return workdir


def own_descriptors(stdout_fd: int, stderr_fd: int, channel_fd: int, job_fd: int, bell_fd: int) -> tuple[int, int, int]:
    """stdin from /dev/null, stdout/stderr to the capture files, the channel on fd 3, the job on fd 4
    (closed once read), the bell on fd 5, nothing else. Returns (channel, job, bell)."""
    null = os.open(os.devnull, os.O_RDONLY)
    # Copies above every number taken below first, so that no source is overwritten before it moves.
    sources = [fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in (null, stdout_fd, stderr_fd, channel_fd, job_fd, bell_fd)]
    for target, source in enumerate(sources):
        os.dup2(source, target)
    for fd in (3, 4, 5):
        os.set_inheritable(fd, False)  # a subprocess of the answer does not get them
    os.closerange(6, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    return 3, 4, 5


def clean_environment() -> None:
    """What the answers' environment holds (besides their HOME and TMPDIR): set once, in the template,
    after NumPy is loaded; the children inherit it."""
    keep = {name: os.environ[name] for name in _ENV_PASSTHROUGH if name in os.environ}
    os.environ.clear()
    os.environ.update(keep, PYTHONDONTWRITEBYTECODE="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
                      MKL_NUM_THREADS="1")


def enter_workdir(workdir: str) -> None:
    """The answer's working folder is also its home and its temporary folder."""
    os.environ.update(HOME=workdir, TMPDIR=workdir)
    tempfile.tempdir = None  # computed again from TMPDIR when the answer asks
    os.chdir(workdir)


def not_dumpable() -> None:
    """No process of our uid without privileges may ptrace us or open /proc/<pid>/mem (the answers of
    a container share the template's uid). Inherited by forks; an answer's exec turns it back on."""
    if sys.platform.startswith("linux"):
        libc().call("prctl", _PR_SET_DUMPABLE, ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0),
                     ctypes.c_ulong(0))


def set_limits(limits: dict[str, Any], own_uid: bool) -> None:
    """Set after the library is built and NumPy imported, so they measure the answer alone."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["output_bytes"], limits["output_bytes"]))
    cpu = int(limits["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"], limits["memory_bytes"]))
    except (ValueError, OSError):
        if sys.platform.startswith("linux"):
            raise
        # macOS refuses an address-space limit: the answer then runs without one (no boundary there)
    resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES, OPEN_FILES))
    if own_uid:  # under a shared uid the count would include the user's other processes
        resource.setrlimit(resource.RLIMIT_NPROC, (PROCESS_LIMIT, PROCESS_LIMIT))


def drop_privileges(uid: int, workdir: str) -> None:
    os.chown(workdir, uid, uid)
    os.chmod(workdir, 0o700)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def adopt_orphans() -> None:
    """Become the subreaper of whatever the answer starts: its orphans are then ours, not init's, so
    that the template can tell, from our children alone, that the answer left nothing
    (``cleanup.left_nothing``). Answers cannot undo it (prctl needs ctypes, which the guard refuses)."""
    if sys.platform.startswith("linux"):
        libc().call("prctl", _PR_SET_CHILD_SUBREAPER, ctypes.c_ulong(1), ctypes.c_ulong(0), ctypes.c_ulong(0),
                    ctypes.c_ulong(0))


def no_way_back() -> None:
    """No setuid binary can give privileges back; the child dies with the template.

    Set after the uid change, which clears the parent-death signal.
    """
    if sys.platform.startswith("linux"):
        c_lib = libc()
        c_lib.call("prctl", _PR_SET_NO_NEW_PRIVS, ctypes.c_ulong(1), ctypes.c_ulong(0), ctypes.c_ulong(0),
                   ctypes.c_ulong(0))
        not_dumpable()  # again: a uid change set it back to the system's default
        c_lib.call("prctl", PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), ctypes.c_ulong(0),
                   ctypes.c_ulong(0), ctypes.c_ulong(0))
