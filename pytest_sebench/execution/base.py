"""The sandbox interface: run an answer on a problem's case inputs, get per-case results back as data.

A backend raises :class:`SandboxUnavailable` only when the sandbox itself failed (could not start,
broke its protocol before the answer ran); everything the answer does, including crashing or hanging,
is a result. Expected outputs are not part of a job: they never reach the sandbox.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Callable

from .values import Value


class SandboxUnavailable(Exception):
    """The sandbox could not run the answer; an infrastructure error, never the answer's fault."""


@dataclass(frozen=True)
class Limits:
    """Every limit an answer runs under, in one place."""

    timeout_seconds: float = 10.0
    memory_bytes: int = 2 * 1024**3
    output_bytes: int = 1024**2  # what it may print (stdout + stderr each) and write to files
    max_elements: int = 2_000_000  # values in one returned result
    startup_seconds: float = 60.0  # starting a sandbox (interpreter, NumPy, container), not charged to answers

    def for_template(self) -> dict[str, float]:
        """The ``limits`` of a job frame (sandbox/PROTOCOL.md)."""
        return {"memory_bytes": self.memory_bytes, "output_bytes": self.output_bytes,
                "elements": self.max_elements, "cpu_seconds": int(self.timeout_seconds) + 2,
                "timeout_seconds": self.timeout_seconds}


@dataclass(frozen=True)
class Job:
    library: dict  # Library.runtime_spec()
    code: str  # the answer's code, as it will run (library import included)
    entry_point: str
    inputs: tuple[str, ...]  # keyword-argument lists, already rewritten to the library's names
    # The cases whose printed text (``CaseRun.printed``) the grader needs: those whose label it
    # compares as text. None: every case. ``str()`` of an array costs the answer's run more than
    # anything else it sends back, and real labels all parse.
    text_cases: tuple[int, ...] | None = None

    def message(self, job_id: int, limits: Limits) -> dict:
        """The job frame of sandbox/PROTOCOL.md (the library spec included)."""
        message = {"id": job_id, "library": self.library, "code": self.code, "entry_point": self.entry_point,
                   "inputs": list(self.inputs), "limits": limits.for_template()}
        if self.text_cases is not None:
            message["text_cases"] = list(self.text_cases)
        return message


@dataclass(frozen=True)
class Failure:
    type: str
    message: str
    where: str = ""

    def __str__(self) -> str:
        return f"{self.type}: {self.message}" if self.message else self.type


@dataclass(frozen=True)
class CaseRun:
    value: Value = None
    printed: str | None = None  # str() of the value, for the reference's text fallback
    error: Failure | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Execution:
    """What happened to one answer. ``cases[i]`` is None when case i never finished."""

    cases: tuple[CaseRun | None, ...]
    load_error: Failure | None = None  # the code failed before any case ran
    ended: Failure | None = None  # the process ended early: timeout, memory, signal, output cap
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    skipped_names: tuple[str, ...] = field(default=())
    numpy_use: str | None = None  # how the answer reached NumPy at run time (graded ``numpy``)

    def case_failure(self, index: int) -> Failure | None:
        """Why case ``index`` has no value, or None when it returned one."""
        run = self.cases[index]
        if run is not None:
            return run.error
        return self.load_error or self.ended or Failure("RuntimeError", "the case did not run")


class Sandbox(abc.ABC):
    name: str

    @abc.abstractmethod
    def execute(self, job: Job) -> Execution:
        """Run the job; raise SandboxUnavailable only for failures of the sandbox itself."""

    def submit(self, job: Job) -> Callable[[], Execution]:
        """Start the job and return what waits for its Execution: the caller may work meanwhile (the
        host reads the labels while the answer runs). The returned function must be called, once.
        By default the job runs here, at once."""
        execution = self.execute(job)
        return lambda: execution

    def hello(self) -> dict[str, Any]:
        """What the sandbox says of itself when it starts (NumPy and Python versions, isolation
        layers); empty when it cannot say. Starts it if needed."""
        return {}

    def close(self) -> None:  # noqa: B027  (a no-op by default: not every backend holds something)
        """Release whatever the backend holds (processes, containers)."""


@dataclass(frozen=True)
class SandboxOptions:
    """What a backend may take from the run's settings besides its ``--sebench-sandbox`` value."""

    python: str | None = None  # --sebench-python: the interpreter of a local sandbox


def _nothing_to_check(choice: str) -> None:
    return None


def ask_a_sandbox(backend: "SandboxBackend", choice: str, options: SandboxOptions) -> dict[str, Any]:
    """The runtime facts a started sandbox tells in its hello."""
    sandbox = backend.build(choice, Limits(), options)
    try:
        hello = sandbox.hello()
    finally:
        sandbox.close()
    return {key: hello.get(key) for key in ("numpy", "python")}


@dataclass(frozen=True)
class SandboxBackend:
    """A backend's declaration (``BACKEND`` in its module; see ``registry.py``)."""

    name: str  # in the header, the report's provenance and messages
    choices: str  # how --sebench-sandbox names it, for the option's help and errors: "docker"
    accepts: Callable[[str], bool]  # does this --sebench-sandbox value select this backend?
    build: Callable[[str, Limits, SandboxOptions], Sandbox]  # (value, limits, options) -> a sandbox
    # raises SandboxUnavailable saying how to fix it (no SDK, no engine, no image, service down)
    preflight: Callable[[str], None] = _nothing_to_check
    # the NumPy and Python versions answers run with (a report records them); by default, a sandbox is
    # started and asked; raises SandboxUnavailable when it cannot start
    runtime: Callable[[str, SandboxOptions], dict[str, Any]] | None = None

    def runtime_of(self, choice: str, options: SandboxOptions) -> dict[str, Any]:
        return self.runtime(choice, options) if self.runtime is not None else ask_a_sandbox(self, choice, options)


def named(name: str) -> Callable[[str], bool]:
    """``accepts`` for a backend chosen by its name alone."""
    return lambda choice: choice == name
