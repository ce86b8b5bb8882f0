"""The template's side of the children: fork them ahead, give each its job, relay its events, hold
the wall clock, clean up.

The template is trusted and never runs answer code. A child gets its job as one frame on its job
pipe, then its inputs compiled (``hand_over``). It writes its events on a pipe nobody waits on while
the answer runs (read every ``DRAIN_SECONDS``) and rings a bell once it is done. The template reads
those lines as untrusted input (``relay``). The clock starts when the child gets its job; on
timeout, a broken line, a NumPy flag or the end of the pipes the child's process group is killed,
and with it every process of the child's uid (see ``cleanup``). A child that finished is put down
once the host has its events.
"""

from __future__ import annotations

import fcntl
import gc
import marshal
import os
import select
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import child
import cleanup
import frames
import isolate
from relay import Emit, Relay

STARTUP_SECONDS = 30.0  # fork to ready: namespaces, limits, guard (far less when healthy)
EXIT_GRACE = 1.0  # a child that closed its pipe without "done" may say why by its exit status
DRAIN_SECONDS = 0.02  # how often a running child's events are read before its bell rings
_CHUNK = 65536
_SIGNAL_HINTS = {"SIGKILL": " (killed: memory or CPU limit)", "SIGXCPU": " (CPU time limit)",
                 "SIGSEGV": " (segmentation fault)"}


@dataclass
class Child:
    """A forked child waiting for its job (or running it), and what the template keeps of it."""

    pid: int
    events: int  # read end of its event pipe (not blocking)
    jobs: int  # write end of its job pipe
    bell: int  # read end of its bell
    capture: tuple[int, int]  # its stdout and stderr
    workdir: str | None
    key: tuple  # the library and limits it was prepared with
    left_nothing: bool = False  # stopped after its answer, it had no process left: no sweep needed
    put_down: bool = False  # stopped and killed after its answer (``_put_down``)
    idle: bool = False  # a spare running at idle priority (``line_up``)


def fork_child(library: Any, layers: isolate.Layers, limits: dict[str, Any], key: tuple) -> Child:
    """Fork a child that sets up every layer and then waits for a job with ``key``."""
    capture = (_capture_file("stdout"), _capture_file("stderr"))
    # With a private filesystem, or a temporary folder of the template's own, the child makes its own.
    workdir = None if layers.mounts or layers.own_tmp else tempfile.mkdtemp(prefix="sebench-answer-")
    events_read, events_write = os.pipe()
    _enlarge(events_write)
    os.set_blocking(events_read, False)
    jobs_read, jobs_write = os.pipe()
    bell_read, bell_write = os.pipe()
    for stream in (sys.stdout, sys.stderr):  # nothing buffered here may be written twice
        stream.flush()
    gc.freeze()  # the child's collections then leave the template's objects (and pages) alone
    pid = os.fork()
    if pid == 0:
        for fd in (events_read, jobs_write, bell_read):
            os.close(fd)
        child.run_child(library, child.ChildSetup(*capture, events_write, jobs_read, bell_write, workdir, layers,
                                                  limits))
    for fd in (events_write, jobs_read, bell_write):
        os.close(fd)
    try:
        os.setpgid(pid, pid)  # also done by the child; whichever runs first wins the race
    except OSError:
        pass
    _WAITING.add(pid)
    return Child(pid, events_read, jobs_write, bell_read, capture, workdir, key)


def line_up(spares: Any) -> None:
    """The first spare sets itself up (or waits) at normal priority, the others only on otherwise
    idle CPU time: a batch of spares setting up at once would take the CPU from the answer running
    now. Only as root: raising a process back from idle priority needs the privilege (without it
    every spare keeps normal priority)."""
    if os.geteuid() != 0 or not spares:
        return
    first, *later = spares
    if first.idle:
        cleanup.set_priority(first.pid, background=False)
        first.idle = False
    for spare in later:
        if not spare.idle:
            cleanup.set_priority(spare.pid, background=True)
            spare.idle = True


def discard(spare: Child, layers: isolate.Layers) -> None:
    """End a child that never got a job (it may have died already)."""
    os.close(spare.jobs)  # a child still waiting reads the end and leaves
    _WAITING.discard(spare.pid)
    bury(spare.pid, layers)
    _release(spare)


def hand_over(runner_child: Child, job: dict[str, Any]) -> bool:
    """Give ``job`` to the child, then its inputs compiled; False when it was gone already.

    The inputs are compiled here while the child reads its job and loads the answer (two cores work
    at once on what one did in turn). The template may fork the next spare as soon as this returns:
    the job's pipe is closed by then, so no spare inherits it.
    """
    _WAITING.discard(runner_child.pid)
    try:
        _write_all(runner_child.jobs, frames.encode_frame({key: value for key, value in job.items()
                                                           if key != "library"}))
        _write_all(runner_child.jobs, _compiled_inputs(job["inputs"]))
    except BrokenPipeError:
        return False  # gone before it took its job (it has the library already)
    finally:
        os.close(runner_child.jobs)
    return True


def _compiled_inputs(texts: list[str]) -> bytes:
    """The inputs as the runner evaluates them (``dict(<text>)``), marshalled, in a length-prefixed
    frame of bytes; None for a text that does not compile (the child compiles it again, for its own
    error)."""
    codes: list[Any] = []
    for text in texts:
        try:
            codes.append(compile(f"dict({text})", "<string>", "eval"))
        except Exception:  # SyntaxError, ValueError for NUL bytes, RecursionError...
            codes.append(None)
    data = marshal.dumps(codes)
    return frames.HEADER.pack(len(data)) + data


def supervise(job_id: Any, job: dict[str, Any], runner_child: Child, skipped: list[str], emit: Emit,
              handed: bool, layers: isolate.Layers) -> bool:
    """Send the host the events of the child ``hand_over`` gave ``job`` (``handed``: it took it),
    always ending with ``finished``.

    A child that stopped early (timeout, broken protocol, NumPy) is killed by then; one that
    finished waits for ``retire``, which does the rest once the host has the events. Returns
    whether the child was reaped already.
    """
    limits = job["limits"]
    relay = Relay(job_id, emit, skipped, limit=limits["output_bytes"] + 8 * limits["elements"] + 1_000_000,
                  cases=len(job["inputs"]))
    started = time.monotonic()
    ended: dict[str, str] | None = None
    status: int | None = None
    try:
        if handed:
            ended = _follow(relay, runner_child, float(limits["timeout_seconds"]), started)
    finally:
        if relay.done and relay.numpy is None and ended is None:
            # Finished and waiting to be killed (it rang the bell after its last event): the host
            # gets the events first, ``retire`` then puts it down. What it or a thread it left does
            # meanwhile reaches nobody: its later lines are not read, its output is read now.
            pass
        elif relay.done or relay.numpy is not None or ended is not None:
            _put_down(runner_child, layers)
        else:  # it closed its pipe (or never took the job): let it say why by its exit status
            status = _wait(runner_child.pid, EXIT_GRACE)
            cleanup.kill_group(runner_child.pid)
            if status is None:
                _, status = os.waitpid(runner_child.pid, 0)
    if relay.numpy is not None:
        ended = {"type": "NumPy", "message": relay.numpy}
    elif not relay.done and ended is None:
        ended = _exit_failure(status)
    emit({"event": "finished", "id": job_id, "ended": ended, "skipped": skipped,
          "stdout": _read_capture(runner_child.capture[0], limits["output_bytes"]),
          "stderr": _read_capture(runner_child.capture[1], limits["output_bytes"]),
          "seconds": round(time.monotonic() - started, 6)})
    return status is not None


def _put_down(runner_child: Child, layers: isolate.Layers) -> None:
    """Stop the child, note whether it left any process behind, kill it (its exit status tells
    nothing more)."""
    sweeping = layers.sweeper is not None or layers.exclusive_uid
    runner_child.left_nothing = sweeping and cleanup.left_nothing(runner_child.pid)
    # Tearing the child down is not on anyone's clock: idle cores do it. (Not before it stopped: a
    # child at idle priority may wait long for the CPU to take the stop.)
    cleanup.set_priority(runner_child.pid, background=True)
    cleanup.kill_child(runner_child.pid)
    runner_child.put_down = True


def retire(spent: Child, reaped: bool, layers: isolate.Layers) -> None:
    """After the host has the events: the child is put down if it is not yet, the answer's leftovers
    go (processes, then files), then the child is reaped."""
    if not (spent.put_down or reaped):
        _put_down(spent, layers)
    bury(spent.pid, layers, reaped=reaped, swept=spent.left_nothing)
    _release(spent)
    if layers.own_tmp:  # no process of the answer is left to write there again
        cleanup.empty_folder(tempfile.gettempdir())


def alive(waiting: Child) -> bool:
    """Still there? (Not reaped if it ended: its pid, and so its uid, stay taken until it is buried.)"""
    try:
        return os.waitid(os.P_PID, waiting.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None
    except ChildProcessError:
        return False


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _enlarge(fd: int) -> None:
    """A pipe of 1 MiB where the system allows it: a child writing more than the pipe holds waits for
    the template's next read."""
    try:
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1024**2)
    except OSError:
        pass


def _release(spent: Child) -> None:
    for fd in (spent.events, spent.bell, *spent.capture):
        try:
            os.close(fd)
        except OSError:
            pass
    if spent.workdir is not None:
        shutil.rmtree(spent.workdir, ignore_errors=True)


def _capture_file(name: str) -> int:
    """A file without a path (the answer cannot open it again by name); RLIMIT_FSIZE caps it."""
    if hasattr(os, "memfd_create"):
        return os.memfd_create(f"sebench-{name}", 0)
    handle, path = tempfile.mkstemp(prefix=f"sebench-{name}-")
    os.unlink(path)
    return handle


def _read_capture(fd: int, limit: int) -> str:
    return os.pread(fd, limit, 0).decode("utf-8", errors="replace")


def _follow(relay: Relay, running: Child, timeout: float, started: float) -> dict[str, str] | None:
    """Follow the child from the moment it got its job until it is done, stops, breaks the protocol
    or runs out of time; why it was stopped, or None when it finished or closed its pipes.

    Waiting on the bell, not on the event pipe: the answer's lines then wake nobody up on their way
    (on two cores the woken template would take the CPU from the answer for every line); they are read
    every ``DRAIN_SECONDS`` and when the bell rings or closes. The answer's clock starts with the job
    (its ``ready`` follows within a millisecond), which it must have read within STARTUP_SECONDS.
    """
    while True:
        deadline = started + (timeout if relay.ready else STARTUP_SECONDS)
        remaining = deadline - time.monotonic()
        rang = remaining > 0 and bool(select.select([running.bell], [], [], min(remaining, DRAIN_SECONDS))[0])
        closed = _drain(relay, running.events)
        if relay.problem:
            return {"type": "ProtocolError", "message": relay.problem}
        if relay.done or relay.numpy:
            return None
        if closed or (rang and not os.read(running.bell, 64)):
            return None  # the child's pipes closed: its exit status says why
        if remaining <= 0:
            return _timeout(relay.ready, timeout)


def _drain(relay: Relay, fd: int) -> bool:
    """Feed the relay everything the event pipe holds; True when the pipe is closed."""
    while not (relay.problem or relay.done or relay.numpy):
        try:
            chunk = os.read(fd, _CHUNK)
        except BlockingIOError:
            return False
        if not chunk:
            return True
        relay.feed(chunk)
    return False


def _timeout(ready: bool, timeout: float) -> dict[str, str]:
    if not ready:
        return {"type": "StartupTimeout", "message": f"the sandbox did not start within {STARTUP_SECONDS:g} s"}
    return {"type": "Timeout", "message": f"the answer ran longer than {timeout:g} s"}


_UNREAPED: list[int] = []  # children killed whose uid sweep may still be under way
_WAITING: set[int] = set()  # spare children: forked, set up, no job yet


def bury(pid: int, layers: isolate.Layers, reaped: bool = False, swept: bool = False) -> None:
    """Kill the child's group and every leftover process of its uid (``swept``: none can exist); reap
    it once that is done.

    With a sweeper the sweep runs while the template goes on; the child is reaped (its pid, and so
    its uid, freed) at the next ``settle``.
    """
    cleanup.kill_child(pid)
    if layers.sweeper is not None:
        settle(layers)  # the children buried before, long dead by now
        if not swept:
            layers.sweeper.kill_uid(isolate.uid_for(pid))
    elif layers.exclusive_uid and not swept:
        cleanup.kill_all_but_ancestors(_WAITING)
    if not reaped:
        _UNREAPED.append(pid)
    if layers.sweeper is None or reaped:  # a reaped child's pid (and uid) may be reused: no waiting
        settle(layers)
    if os.getpid() == 1:  # a container's init: the answers' orphans are ours to reap
        cleanup.reap_orphans(_WAITING | set(_UNREAPED))


def settle(layers: isolate.Layers) -> None:
    """Wait for outstanding sweeps, then reap the children they were for."""
    if layers.sweeper is not None:
        layers.sweeper.settle()
    while _UNREAPED:
        try:
            os.waitpid(_UNREAPED.pop(), 0)
        except ChildProcessError:
            pass  # found dead and reaped already


def _wait(pid: int, seconds: float) -> int | None:
    deadline = time.monotonic() + seconds
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() > deadline:
            return None
        time.sleep(0.005)


def _exit_failure(status: int | None) -> dict[str, str]:
    if status is not None and os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:  # a real-time signal without a name of its own
            name = f"signal {number}"
        return {"type": "Killed", "message": f"the process ended by {name}{_SIGNAL_HINTS.get(name, '')}"}
    code = os.WEXITSTATUS(status) if status is not None else None
    return {"type": "Exited", "message": f"the process exited with status {code} before finishing"}
