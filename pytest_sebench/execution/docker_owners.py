"""Who owns a sandbox container, and removing them: at the end, at exit, on SIGTERM/SIGHUP, and
leftovers of owners that are gone.

Containers carry their owner in a label (host, pid, process start time, so that a reused pid is
not taken for the owner). Part of the ``docker`` backend; the SDK is imported only when a container
has to be removed.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .stream import CLOSE_GRACE

if TYPE_CHECKING:
    import docker

LABEL_KIND = "org.sebench.sandbox"  # "image" on our images, "container" on our containers
LABEL_OWNER = "org.sebench.owner"  # host/pid/start-time of the process that started a container


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), so a reused pid is not its owner."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]  # field 22; the fields after the name start at 3


def owner() -> str:
    return f"{socket.gethostname()}/{os.getpid()}/{_start_time(os.getpid())}"


def owner_gone(label: str) -> bool:
    """Whether the process named by an owner label has ended; never for another host's containers."""
    host, _, rest = label.partition("/")
    pid, _, started = rest.partition("/")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, someone else's
    return bool(started) and _start_time(int(pid)) not in ("", started)


def sweep_leftovers(client: "docker.DockerClient") -> int:
    """Remove our containers whose owner has ended (a run killed before it could clean up)."""
    removed = 0
    for container in client.api.containers(all=True, filters={"label": f"{LABEL_KIND}=container"}):
        if owner_gone((container.get("Labels") or {}).get(LABEL_OWNER, "")):
            remove(client.api, container["Id"])
            removed += 1
    return removed


_LIVE: dict[str, None] = {}  # ids of the containers this process started and has not removed yet
_HANDLERS_INSTALLED = False


def track(container_id: str) -> None:
    """A container this process started: removed at exit or on a signal unless removed before."""
    _LIVE[container_id] = None


def tracked(container_id: str) -> bool:
    return container_id in _LIVE


def remove(api: Any, container_id: str) -> None:
    """Remove a container by force and return once it is gone (or the engine cannot say)."""
    import docker

    try:
        api.remove_container(container_id, force=True)
    except docker.errors.NotFound:
        pass  # gone already
    except docker.errors.APIError as error:
        if error.status_code == 409:  # the engine's auto-remove is under way: wait for its end
            try:
                api.wait(container_id, timeout=CLOSE_GRACE + 10, condition="removed")
            except (docker.errors.DockerException, OSError):
                pass
    except docker.errors.DockerException:
        pass  # the engine went away: nothing left to do
    _LIVE.pop(container_id, None)


def remove_all_live() -> None:
    """Remove every container this process still has; safe at exit and from a signal handler.

    It uses a client of its own, so it never waits on a connection pool the interrupted code holds.
    """
    if not _LIVE:
        return
    try:
        import docker

        api = docker.APIClient(**docker.utils.kwargs_from_env(), version="auto", timeout=15)
    except Exception:  # at exit or in a signal handler nothing may propagate
        return
    for container_id in list(_LIVE):
        remove(api, container_id)
    api.close()


def _on_signal(signum: int, frame: object) -> None:
    remove_all_live()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)  # then die of it as we would have


def install_cleanup() -> None:
    """Once per process: clean up at exit, and on SIGTERM/SIGHUP unless someone else handles those."""
    global _HANDLERS_INSTALLED
    if _HANDLERS_INSTALLED:
        return
    _HANDLERS_INSTALLED = True
    atexit.register(remove_all_live)
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) is signal.SIG_DFL:
            signal.signal(signum, _on_signal)
