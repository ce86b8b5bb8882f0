"""What the template does after an answer: kill every process it left, empty the folders it wrote.

- ``Sweeper``: with a uid per answer (a root template), a helper takes that uid and calls kill(-1).
- ``kill_all_but_ancestors``: for a template owning its uid alone (a container): every other process
  of the uid but the template's ancestors and its spare children.
- ``empty_folder``: for a template owning its temporary folder alone (--own-tmp).
- ``set_priority``: tearing a finished child down is done on idle CPU time.

Standard library only (ctypes for prctl).
"""

from __future__ import annotations

import ctypes
import os
import errno
import resource
import signal
import stat
import struct
import time

from isolate import PR_SET_PDEATHSIG, libc


class Sweeper:
    """Kills every process of a uid: a helper takes that uid and calls kill(-1).

    kill(-1) reaches all processes the caller may signal (same uid) in one pass under the kernel's
    task-list lock, so a fork bomb cannot outrun it, and setsid or a new process group does not help.
    The helper is forked from a small root process started before NumPy is imported (forking the
    warm template for it would be much slower, see BENCHMARKS.md). Requests are answered in order; the
    template asks and goes on, and collects the answers (``settle``) before it reaps the child whose
    uid was swept, so that uid cannot be given to a new child (its pid is taken until then).
    """

    def __init__(self) -> None:
        request_read, self._requests = os.pipe()
        self._replies, reply_write = os.pipe()
        self._pending = 0
        self.pid = os.fork()
        if self.pid == 0:
            os.close(self._requests)
            os.close(self._replies)
            _sweeper_loop(request_read, reply_write)
        os.close(request_read)
        os.close(reply_write)

    def kill_uid(self, uid: int) -> None:
        os.write(self._requests, struct.pack(">I", uid))
        self._pending += 1

    def settle(self) -> None:
        while self._pending:
            if os.read(self._replies, 1) != b"k":
                raise OSError("the sweeper stopped")
            self._pending -= 1


def _sweeper_loop(requests: int, replies: int) -> None:
    try:
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)  # not the template's stream: the host sees it end when the template does
        os.dup2(requests, 3)
        os.dup2(replies, 4)
        os.closerange(5, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        libc().call("prctl", PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), ctypes.c_ulong(0),
                     ctypes.c_ulong(0), ctypes.c_ulong(0))
        while True:
            request = os.read(3, 4)
            if len(request) != 4:
                break
            (uid,) = struct.unpack(">I", request)
            pid = os.fork()
            if pid == 0:
                try:
                    os.setresgid(uid, uid, uid)
                    os.setresuid(uid, uid, uid)
                    os.kill(-1, signal.SIGKILL)
                finally:
                    os._exit(0)
            os.waitpid(pid, 0)
            os.write(4, b"k")
    finally:
        os._exit(0)


KILL_SECONDS = 2.0  # how long the leftovers of an answer may take to die before the template goes on


def kill_all_but_ancestors(spare: set[int]) -> None:
    """For a template that owns its uid alone (a container, not root): every other process of the
    uid, but the template's ancestors and its ``spare`` children waiting for jobs, is an answer's
    leftover. Without a uid of their own they cannot be killed in one pass, so this repeats while any
    is found (RLIMIT_NPROC keeps their number small), waiting for the killed to die, up to KILL_SECONDS."""
    keep = _ancestors() | spare
    deadline = time.monotonic() + KILL_SECONDS
    pause = 0.0005
    while True:
        victims = [pid for pid in _live_pids_of(os.getuid()) if pid not in keep]
        if not victims:
            return
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if time.monotonic() > deadline:
            return
        # A killed process dies when it next gets a CPU: on a busy machine that may take longer than a
        # few rounds of this loop, and the next answer must not find it still there. Wait for it.
        time.sleep(pause)
        pause = min(2 * pause, 0.02)


def _ancestors() -> set[int]:
    chain, pid = set(), os.getpid()
    while pid > 1 and pid not in chain:
        chain.add(pid)
        pid = _parent_of(pid)
    return chain | {1}


def _stat_fields(pid: int | str) -> list[bytes]:
    """State, parent, ... of /proc/<pid>/stat (after the command name, which may hold spaces)."""
    with open(f"/proc/{pid}/stat", "rb") as handle:
        return handle.read().rsplit(b")", 1)[1].split()


def _parent_of(pid: int) -> int:
    try:
        return int(_stat_fields(pid)[1])
    except (OSError, ValueError, IndexError):
        return 0


def _live_pids_of(uid: int) -> list[int]:
    """Processes of ``uid`` that still run (a zombie waits to be reaped: killing it does nothing).

    The real uid is read from /proc/<pid>/status: the folder of a process that is not dumpable (ours,
    and the answers' forks) belongs to root whatever its uid."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if _real_uid(name) == uid and _stat_fields(name)[0] != b"Z":
                    found.append(int(name))
            except (OSError, IndexError, ValueError):
                pass
    return found


def left_nothing(pid: int) -> bool:
    """Stop a finished child and tell whether no process of its making is left: then its uid needs no
    sweep. The child is its descendants' subreaper (``isolate.adopt_orphans``), so every one alive is
    in its tree, and, once it is stopped, none can be added; its tree is empty when no thread of it
    has a child. False when that cannot be told: the child is gone already (its orphans went to
    init), or its tasks cannot be read."""
    for kill in (os.kill, os.killpg):
        try:
            kill(pid, signal.SIGSTOP)
        except OSError:
            pass  # it may have left its group (the sweep then does the rest)
    try:
        stop = os.waitid(os.P_PID, pid, os.WEXITED | os.WSTOPPED | os.WNOWAIT)
        if stop is None or stop.si_code != os.CLD_STOPPED:
            return False
        return not any(_children(pid, task) for task in os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return False


def _children(pid: int, task: str) -> bytes:
    with open(f"/proc/{pid}/task/{task}/children", "rb") as handle:
        return handle.read().strip()


def reap_orphans(keep: set[int]) -> None:
    """As a container's init (pid 1), the processes an answer left are reparented to us: once killed,
    each stays a zombie, holding a pid of the container's few, until we reap it. Our own children in
    ``keep`` (spares, children whose status we want) are left alone."""
    me = str(os.getpid()).encode()
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in keep:
            try:
                fields = _stat_fields(name)
                if fields[0] == b"Z" and fields[1] == me:
                    os.waitpid(int(name), os.WNOHANG)
            except (OSError, IndexError):
                pass


def _real_uid(pid: str) -> int:
    with open(f"/proc/{pid}/status", "rb") as handle:
        for line in handle:
            if line.startswith(b"Uid:"):
                return int(line.split()[1])
    raise ValueError("no Uid line")


def empty_folder(folder: str) -> None:
    """Delete everything in ``folder`` (not the folder), whatever an answer did to it: folders it made
    unreadable are given back to us first (we own what it made), links are removed and never
    followed, and nesting of any depth is undone holding one descriptor at a time (no recursion, no
    path too long). For a template that owns the folder alone, once the answer's processes are gone.

    The walk back up goes through "..": every folder it reaches must be the one it came down from
    (device and inode, recorded on the way down), and it stops at ``folder``; anything else raises
    OSError rather than go on somewhere else.
    """
    current = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    way_down = [_identity(current)]  # from ``folder`` to the folder open at ``current``
    try:
        while True:
            deeper = _clear_level(current)
            if deeper is not None:
                way_down.append(_identity(deeper))
                os.close(current)
                current = deeper
                continue
            if len(way_down) == 1:
                return  # ``folder`` itself is empty
            way_down.pop()
            parent = os.open("..", os.O_RDONLY | os.O_DIRECTORY, dir_fd=current)
            os.close(current)
            current = parent
            if _identity(current) != way_down[-1]:
                raise OSError(f"a folder in {folder} moved while it was emptied")
    finally:
        os.close(current)


def _identity(fd: int) -> tuple[int, int]:
    info = os.fstat(fd)
    return info.st_dev, info.st_ino


def _clear_level(fd: int) -> int | None:
    """Remove what the folder open at ``fd`` holds; a descriptor of a subfolder that is not empty
    yet (to be emptied first), or None when the folder is empty."""
    for name in os.listdir(fd):
        try:
            if not stat.S_ISDIR(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode):
                os.unlink(name, dir_fd=fd)
                continue
            os.chmod(name, 0o700, dir_fd=fd)  # a folder, not a link: nothing else runs to swap it
            try:
                os.rmdir(name, dir_fd=fd)
            except OSError as error:
                if error.errno != errno.ENOTEMPTY:
                    raise
                return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
        except FileNotFoundError:
            pass  # gone already
        except PermissionError:
            pass  # not ours: nothing an answer of ours made
    return None


def set_priority(pid: int, background: bool) -> None:
    """``background``: run only on otherwise idle CPU time (SCHED_IDLE), for work no answer waits on
    (a finished child exiting, while the kernel tears its memory down); else normal.

    Lowering is always allowed; raising back from SCHED_IDLE needs privileges. Nothing depends on it
    but speed: a process that is gone or refuses stays as it is.
    """
    policy = getattr(os, "SCHED_IDLE" if background else "SCHED_OTHER", None)
    if policy is None:
        return
    try:
        os.sched_setscheduler(pid, policy, os.sched_param(0))
    except OSError:
        pass


def kill_child(pid: int) -> None:
    """The child and its process group (which it may have left)."""
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    kill_group(pid)


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
