"""The ``local`` backend: a fresh interpreter per answer, in its own process group and temporary folder.

The runner sets the memory, file-size and CPU limits itself once NumPy is imported (so start-up is not
charged to the answer and no ``preexec_fn`` is needed); the host enforces the wall clock from the
runner's ``ready`` event and kills the whole process group when it runs out.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .base import CaseRun, Execution, Failure, Job, Limits, Sandbox, SandboxUnavailable, register
from .wire import decode

# Passed through to the answer's environment; everything else (API keys, tokens, HOME) stays out.
_ENV_PASSTHROUGH = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_READ_CHUNK = 65536


def runner_path() -> Path:
    return Path(str(resources.files("pytest_sebench.sandbox_files").joinpath("runner.py")))


def sandbox_environment(workdir: str) -> dict[str, str]:
    env = {name: os.environ[name] for name in _ENV_PASSTHROUGH if name in os.environ}
    env.update(HOME=workdir, TMPDIR=workdir, PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0",
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


@dataclass
class _Events:
    """The runner's event stream, parsed as it arrives."""

    ready: bool = False
    skipped: tuple[str, ...] = ()
    load_error: Failure | None = None
    done: bool = False
    cases: dict[int, CaseRun] = field(default_factory=dict)
    protocol_error: str | None = None
    buffer: bytes = b""
    received: int = 0

    def feed(self, chunk: bytes, limit: int) -> None:
        self.received += len(chunk)
        if self.received > limit:
            self.protocol_error = f"the answer's results exceeded {limit} bytes"
            return
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            self._event(line)

    def _event(self, line: bytes) -> None:
        try:
            event = json.loads(line)
            kind = event["event"]
        except (ValueError, KeyError, TypeError):
            self.protocol_error = "unreadable message on the result channel"
            return
        if kind == "ready":
            self.ready = True
            self.skipped = tuple(map(str, event.get("skipped", ())))
        elif kind == "load_error":
            self.load_error = _failure(event.get("error"))
        elif kind == "case" and type(event.get("index")) is int:
            self.cases[event["index"]] = _case(event)
        elif kind == "done":
            self.done = True


def _failure(data: object) -> Failure:
    if not isinstance(data, dict):
        return Failure("Error", "")
    return Failure(str(data.get("type", "Error")), str(data.get("message", "")), str(data.get("where", "")))


def _case(event: dict) -> CaseRun:
    if "error" in event:
        return CaseRun(error=_failure(event["error"]))
    printed = event.get("printed")
    return CaseRun(value=decode(event.get("value")), printed=printed if isinstance(printed, str) else None)


class LocalSandbox(Sandbox):
    name = "local"

    def __init__(self, limits: Limits, python: str | None = None) -> None:
        self.limits = limits
        self.python = python or sys.executable
        self.runner = runner_path()

    def execute(self, job: Job) -> Execution:
        workdir = tempfile.mkdtemp(prefix="sebench-")
        try:
            return self._execute_in(job, workdir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _execute_in(self, job: Job, workdir: str) -> Execution:
        payload = json.dumps({"library": job.library, "code": job.code, "entry_point": job.entry_point,
                              "inputs": list(job.inputs), "limits": self.limits.for_runner()}).encode()
        read_fd, write_fd = os.pipe()
        out_path, err_path = os.path.join(workdir, ".stdout"), os.path.join(workdir, ".stderr")
        try:
            with open(out_path, "wb") as out, open(err_path, "wb") as err:
                process = subprocess.Popen(
                    [self.python, "-I", str(self.runner), str(write_fd)], stdin=subprocess.PIPE,
                    stdout=out, stderr=err, cwd=workdir, env=sandbox_environment(workdir),
                    pass_fds=(write_fd,), start_new_session=True)
        except OSError as error:
            os.close(read_fd)
            raise SandboxUnavailable(f"cannot start {self.python}: {error}") from None
        finally:
            os.close(write_fd)
        started = time.monotonic()
        events = _Events()
        ended: Failure | None = None
        try:
            _send_job(process, payload)
            ended = self._collect(read_fd, events)
        finally:
            os.close(read_fd)
            # A runner that closed the channel without ``done`` is exiting: let it say why. One that
            # finished, ran out of time or broke the protocol has nothing more to say.
            _kill_group(process, grace=0.0 if events.done or ended is not None else 1.0)
        if not events.ready:
            raise SandboxUnavailable(_startup_failure(process, err_path, events, ended))
        return Execution(
            cases=tuple(events.cases.get(index) for index in range(len(job.inputs))),
            load_error=events.load_error, ended=None if events.done else ended or _exit_failure(process),
            stdout=_read_capped(out_path, self.limits.output_bytes),
            stderr=_read_capped(err_path, self.limits.output_bytes),
            seconds=time.monotonic() - started, skipped_names=events.skipped)

    def _collect(self, read_fd: int, events: _Events) -> Failure | None:
        """Read events until the runner is done, closes the channel, or runs out of time."""
        limit = self.limits.output_bytes + 8 * self.limits.max_elements + 1_000_000
        deadline = time.monotonic() + self.limits.startup_seconds
        with selectors.DefaultSelector() as selector:
            selector.register(read_fd, selectors.EVENT_READ)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return _timeout_failure(events, self.limits)
                if not selector.select(timeout=remaining):
                    continue
                chunk = os.read(read_fd, _READ_CHUNK)
                if not chunk:
                    return None  # the runner closed the channel: it finished or died
                was_ready = events.ready
                events.feed(chunk, limit)
                if events.protocol_error:
                    return Failure("ProtocolError", events.protocol_error)
                if events.done:
                    return None
                if events.ready and not was_ready:
                    deadline = time.monotonic() + self.limits.timeout_seconds


def _send_job(process: subprocess.Popen, payload: bytes) -> None:
    assert process.stdin is not None
    try:
        process.stdin.write(payload)
        process.stdin.close()
    except BrokenPipeError:
        pass  # the runner died at start-up; _startup_failure says why


def _kill_group(process: subprocess.Popen, grace: float) -> None:
    """Kill the runner and anything the answer started (same process group), then reap it.

    Without a ``done`` event the runner is given ``grace`` seconds to exit by itself, so its own exit
    status (a signal, an exit code) is what the verdict reports rather than our kill.
    """
    if grace:
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def _timeout_failure(events: _Events, limits: Limits) -> Failure:
    if not events.ready:
        return Failure("StartupTimeout", f"the sandbox did not start within {limits.startup_seconds:g} s")
    return Failure("Timeout", f"the answer ran longer than {limits.timeout_seconds:g} s")


def _exit_failure(process: subprocess.Popen) -> Failure:
    code = process.returncode
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        hint = {"SIGKILL": " (killed: memory or CPU limit)", "SIGXCPU": " (CPU time limit)",
                "SIGSEGV": " (segmentation fault)"}.get(name, "")
        return Failure("Killed", f"the process ended by {name}{hint}")
    return Failure("Exited", f"the process exited with status {code} before finishing")


def _startup_failure(process: subprocess.Popen, err_path: str, events: _Events,
                     ended: Failure | None) -> str:
    detail = _read_capped(err_path, 4000).strip().splitlines()[-5:]
    reason = str(ended) if ended else f"exit status {process.returncode}"
    return "the sandbox runner failed before the answer ran (" + reason + ")" + (
        ":\n" + "\n".join(detail) if detail else "")


def _read_capped(path: str, limit: int) -> str:
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit)
    except OSError:
        return ""
    return data.decode("utf-8", errors="replace")


register("local")(LocalSandbox)
