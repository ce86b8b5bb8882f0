"""The forked child's life: set up the layers, wait for its job, report ``ready``, run it, exit.

A child is forked before its job is known (the template keeps one ready for the next job, so the fork
and the layers cost nothing on the answer's clock). In this order: not dumpable, own process group
and signal handlers, private filesystem, descriptors and working folder (the environment is the
template's, cleaned once), resource limits, unprivileged uid, no new privileges, the library
installed, our modules out of sys.modules, the NumPy guard armed, a rehearsal (``runner.rehearse``);
then it reads the job from its job pipe, says ``ready``, runs the answer (its inputs compiled by the
template meanwhile), rings the bell and waits to be killed. It never returns into the template's
loop: whatever happens, the child ends killed or with ``os._exit``.
"""

from __future__ import annotations

import marshal
import os
import signal
import sys
import tempfile
import types
from dataclasses import dataclass
from typing import Any, Callable, NoReturn

import frames
import guard
import isolate
import runner
from libruntime import install_library

_MODULE_DICT = vars(types.ModuleType)["__dict__"].__get__  # read past the guard's module class


@dataclass(frozen=True)
class ChildSetup:
    """What the template prepared before the fork."""

    stdout_fd: int
    stderr_fd: int
    channel_fd: int  # the events, one JSON line each (read by the template now and then)
    job_fd: int  # the job arrives here, one frame, when there is one
    bell_fd: int  # rung once the events are all written (the template waits on it)
    # The folder to use when the child has no private filesystem; None: one is made in the temporary
    # folder once the job has come (a template owning that folder empties it after every answer, and
    # a folder made earlier would be open to the answer running meanwhile).
    workdir: str | None
    layers: isolate.Layers
    limits: dict[str, Any]  # the job's limits must be these (the template checks)


def run_child(library: Any, setup: ChildSetup) -> NoReturn:
    status = 70  # EX_SOFTWARE: the setup failed before ready (the template reports it as ours)
    try:
        channel, job_fd, workdir = _isolate(setup)
        install_library(library)
        hidden = _hide_sandbox_modules()  # noqa: F841  (kept alive while the answer runs)
        guard.install(channel)
        # A fresh fork shares every page with the template: the first write to each copies it. An
        # answer's run writes the same few hundred first; copied now, on a core the host's grading
        # leaves idle, they cost about a millisecond of CPU and spare the answer's path a third of it.
        runner.rehearse(library, None)
        job = _read_job(job_fd)
        if job is None:
            os._exit(0)  # not needed after all: the template went on without this child
        compiled = _compiled_reader(job_fd, len(job["inputs"]))
        if workdir is None:
            isolate.enter_workdir(tempfile.mkdtemp(prefix="answer-"))
        channel.send("ready")
        status = 0
        runner.run(job, library, channel, compiled)
        runner.flush_output()  # the template reads what the answer printed once the bell rang
        # Done. We wait to be killed: the template first looks, with us stopped, whether the answer
        # left any process behind, then kills us at idle priority.
        channel.ring()
        while True:
            signal.pause()
    except BaseException as error:  # before ready this is our failure: say why on stderr
        if status:
            _report_setup_failure(error)
    finally:
        runner.flush_output()
    os._exit(status)


def _isolate(setup: ChildSetup) -> tuple[runner.Channel, int, str | None]:
    """Every layer but the working folder when that is made later; returns the channel, the job's
    descriptor and the working folder (None: not made yet)."""
    layers, limits = setup.layers, setup.limits
    isolate.not_dumpable()  # first: no other process of our uid may read or write our memory
    isolate.enter_own_group()
    workdir = isolate.private_filesystem(limits["output_bytes"], layers) if layers.mounts else setup.workdir
    channel_fd, job_fd, bell_fd = isolate.own_descriptors(setup.stdout_fd, setup.stderr_fd, setup.channel_fd,
                                                          setup.job_fd, setup.bell_fd)
    if workdir is not None:
        isolate.enter_workdir(workdir)
    isolate.set_limits(limits, own_uid=layers.user)
    if layers.user:
        assert workdir is not None
        isolate.drop_privileges(isolate.uid_for(os.getpid()), workdir)
    isolate.no_way_back()
    isolate.adopt_orphans()
    return runner.Channel(channel_fd, bell_fd), job_fd, workdir


def sandbox_modules() -> list[str]:
    """Names of our own modules in sys.modules (the template's ``__main__`` included). The template
    asks once, before any fork: a child walking all of sys.modules would copy a page per module."""
    if not _SANDBOX_MODULES:
        here = os.path.dirname(os.path.abspath(__file__)) + os.sep
        for name, module in list(sys.modules.items()):
            filename = _MODULE_DICT(module).get("__file__") if isinstance(module, types.ModuleType) else None
            if isinstance(filename, str) and os.path.abspath(filename).startswith(here):
                _SANDBOX_MODULES.append(name)
    return _SANDBOX_MODULES


_SANDBOX_MODULES: list[str] = []


def _hide_sandbox_modules() -> list[types.ModuleType]:
    """Take our own modules out of sys.modules, so an answer does not find the sandbox's internals by
    name; their functions keep their globals. Returns them."""
    return [sys.modules.pop(name) for name in sandbox_modules() if name in sys.modules]


def _read_job(fd: int) -> dict[str, Any] | None:
    """The job, one frame; None when the pipe ends first (the template discarded this child)."""
    body = _read_frame(fd)
    return None if body is None else frames.decode_body(body)


def _compiled_reader(fd: int, count: int) -> Callable[[], list[Any]]:
    """What reads the inputs the template compiles meanwhile (``supervise.hand_over``), when the
    runner needs them: code objects, or None for one to compile here."""
    def read() -> list[Any]:
        body = _read_frame(fd)
        os.close(fd)
        codes = marshal.loads(body) if body is not None else None
        if not (isinstance(codes, list) and len(codes) == count):
            return [None] * count
        return [code if isinstance(code, types.CodeType) else None for code in codes]
    return read


def _read_frame(fd: int) -> bytes | None:
    header = _read_exactly(fd, frames.HEADER.size)
    return None if header is None else _read_exactly(fd, frames.HEADER.unpack(header)[0])


def _read_exactly(fd: int, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        chunk = os.read(fd, min(size - len(data), 1024**2))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def _report_setup_failure(error: BaseException) -> None:
    try:
        sys.stderr.write(f"sandbox setup failed: {type(error).__name__}: {error}\n")
        sys.stderr.flush()
    except BaseException:
        pass
