"""The forked child's life: set up the layers, wait for its job, report ``ready``, run it, exit.

A child is forked before its job is known (the template keeps one ready for the next job, so the fork
and the layers cost nothing on the answer's clock). In this order: own process group and signal
handlers, private filesystem, descriptors, environment and working folder, resource limits,
unprivileged uid, no new privileges, the library installed, the NumPy guard armed; then it reads the
job from its job pipe, says ``ready`` and runs the answer. It never returns into the template's loop:
whatever happens, the child ends with ``os._exit``.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import Any, NoReturn

import guard
import isolate
import runner
from libruntime import install_library


@dataclass(frozen=True)
class ChildSetup:
    """What the template prepared before the fork."""

    stdout_fd: int
    stderr_fd: int
    channel_fd: int
    job_fd: int  # the job arrives here, as JSON, when there is one
    workdir: str | None  # the folder to use when the child has no private filesystem
    layers: isolate.Layers
    limits: dict[str, Any]  # the job's limits must be these (the template checks)


def run_child(library: Any, setup: ChildSetup) -> NoReturn:
    status = 70  # EX_SOFTWARE: the setup failed before ready (the template reports it as ours)
    try:
        channel, job_fd = _isolate(setup)
        install_library(library)
        guard.install(channel)
        job = _read_job(job_fd)
        if job is None:
            os._exit(0)  # not needed after all: the template went on without this child
        channel.send("ready")
        status = 0
        runner.run(job, library, channel)
    except BaseException as error:  # before ready this is our failure: say why on stderr
        if status:
            _report_setup_failure(error)
    finally:
        runner.flush_output()
    os._exit(status)


def _isolate(setup: ChildSetup) -> tuple[runner.Channel, int]:
    layers, limits = setup.layers, setup.limits
    isolate.enter_own_group()
    workdir = isolate.private_filesystem(limits["output_bytes"], layers.kept) if layers.mounts else setup.workdir
    assert workdir is not None
    channel_fd, job_fd = isolate.own_descriptors(setup.stdout_fd, setup.stderr_fd, setup.channel_fd, setup.job_fd)
    isolate.clean_environment(workdir)
    isolate.set_limits(limits, own_uid=layers.user)
    if layers.user:
        isolate.drop_privileges(isolate.uid_for(os.getpid()), workdir)
    isolate.no_way_back()
    return runner.Channel(channel_fd), job_fd


def _read_job(fd: int) -> dict[str, Any] | None:
    chunks = []
    while True:
        chunk = os.read(fd, 1024**2)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return json.loads(b"".join(chunks)) if chunks else None


def _report_setup_failure(error: BaseException) -> None:
    try:
        sys.stderr.write(f"sandbox setup failed: {type(error).__name__}: {error}\n")
        sys.stderr.flush()
    except BaseException:
        pass
