"""The forked child's life: set up the layers, wait for its job, report ``ready``, run it, exit.

A child is forked before its job is known (the template keeps one ready for the next job, so the fork
and the layers cost nothing on the answer's clock). In this order: own process group and signal
handlers, private filesystem, descriptors, environment and working folder, resource limits,
unprivileged uid, no new privileges, the library installed, the NumPy guard armed; then it reads the
job from its job pipe, says ``ready`` and runs the answer. It never returns into the template's loop:
whatever happens, the child ends with ``os._exit``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import types
from dataclasses import dataclass
from typing import Any, NoReturn

import cleanup
import frames
import guard
import isolate
import runner
from libruntime import install_library

_MODULE_DICT = types.ModuleType.__dict__["__dict__"].__get__  # read past the guard's module class


@dataclass(frozen=True)
class ChildSetup:
    """What the template prepared before the fork."""

    stdout_fd: int
    stderr_fd: int
    channel_fd: int
    job_fd: int  # the job arrives here, as JSON, when there is one
    # The folder to use when the child has no private filesystem; None: one is made in the temporary
    # folder once the job has come (a template owning that folder empties it after every answer, and
    # a folder made earlier would be open to the answer running meanwhile).
    workdir: str | None
    layers: isolate.Layers
    limits: dict[str, Any]  # the job's limits must be these (the template checks)
    rehearsal: str | None  # see runner.rehearse


def run_child(library: Any, setup: ChildSetup) -> NoReturn:
    status = 70  # EX_SOFTWARE: the setup failed before ready (the template reports it as ours)
    try:
        if setup.layers.user:  # the running answer comes first; the template raises us with our job
            cleanup.set_priority(0, background=True)
        channel, job_fd, workdir = _isolate(setup)
        install_library(library)
        hidden = _hide_sandbox_modules()  # noqa: F841  (kept alive while the answer runs)
        guard.install(channel)
        runner.rehearse(library, setup.rehearsal)  # while no answer waits for us
        job = _read_job(job_fd)
        if job is None:
            os._exit(0)  # not needed after all: the template went on without this child
        if workdir is None:
            isolate.enter_workdir(tempfile.mkdtemp(prefix="answer-"))
        channel.send("ready")
        status = 0
        runner.run(job, library, channel)
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
    workdir = isolate.private_filesystem(limits["output_bytes"], layers.kept) if layers.mounts else setup.workdir
    channel_fd, job_fd = isolate.own_descriptors(setup.stdout_fd, setup.stderr_fd, setup.channel_fd, setup.job_fd)
    isolate.clean_environment()
    if workdir is not None:
        isolate.enter_workdir(workdir)
    isolate.set_limits(limits, own_uid=layers.user)
    if layers.user:
        assert workdir is not None
        isolate.drop_privileges(isolate.uid_for(os.getpid()), workdir)
    isolate.no_way_back()
    return runner.Channel(channel_fd), job_fd, workdir


def _hide_sandbox_modules() -> list[types.ModuleType]:
    """Take our own modules (the template's ``__main__`` included) out of sys.modules, so an answer
    does not find the sandbox's internals by name; their functions keep their globals. Returns them."""
    here = os.path.dirname(os.path.abspath(__file__)) + os.sep
    hidden = []
    for name, module in list(sys.modules.items()):
        filename = _MODULE_DICT(module).get("__file__") if isinstance(module, types.ModuleType) else None
        if isinstance(filename, str) and os.path.abspath(filename).startswith(here):
            hidden.append(sys.modules.pop(name))
    return hidden


def _read_job(fd: int) -> dict[str, Any] | None:
    """The job, one frame; None when the pipe ends first (the template discarded this child)."""
    header = _read_exactly(fd, frames.HEADER.size)
    job = None
    if header is not None:
        body = _read_exactly(fd, frames.HEADER.unpack(header)[0])
        job = None if body is None else frames.decode_body(body)
    os.close(fd)
    return job


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
