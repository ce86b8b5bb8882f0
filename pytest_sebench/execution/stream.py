"""The host's side of the template protocol (sandbox/PROTOCOL.md), shared by every stream backend.

A backend supplies a way to start a template and get a byte stream to it (:class:`Stream`: a local
subprocess's pipes, a container's attached socket); :class:`TemplateClient` does the rest: frames,
the hello, one job at a time, events gathered into an :class:`Execution`. When the stream ends,
breaks, stalls or says something outside the protocol, the job in flight raises
:class:`SandboxUnavailable` (an infrastructure error, never the answer's fault) and the next job starts
a new template. Nothing the template sends is evaluated: values are decoded as data (``wire``).
"""

from __future__ import annotations

import abc
import copy
import hashlib
import itertools
import json
import os
import select
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..sandbox_files.frames import FrameError, FrameReader, encode_frame
from .base import CaseRun, Execution, Failure, Job, Limits, SandboxUnavailable
from .wire import decode

_CHUNK = 1024**2
CLOSE_GRACE = 2.0  # seconds a template gets to finish its job and exit after its stdin closes
# What a broken, stalled or confused template looks like from here (FrameError is a ValueError).
_STREAM_ERRORS = (OSError, EOFError, TimeoutError, ValueError)
# Beyond the template's own clock: killing the child, collecting output, a busy machine.
JOB_MARGIN = 15.0


class Stream(abc.ABC):
    """A byte stream to one running template."""

    @abc.abstractmethod
    def write(self, data: bytes) -> None:
        """Send all of ``data``; OSError when the stream is broken."""

    @abc.abstractmethod
    def read(self, timeout: float) -> bytes:
        """Some bytes, ``b""`` at the end of the stream; TimeoutError when none came in time."""

    @abc.abstractmethod
    def close(self) -> None:
        """End the template (politely first) and release the stream."""

    def diagnostics(self) -> str:
        """What the template said on the side (stderr tail, exit status), for error messages."""
        return ""


class ProcessStream(Stream):
    """A template run as a local subprocess: frames on its stdin/stdout, its stderr kept in a file."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115  (closed by close())
        try:
            # Its own session: Ctrl-C in the terminal reaches pytest, which closes us in order.
            self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=self._stderr, env=env, cwd="/", start_new_session=True)
        except OSError as error:
            self._stderr.close()
            raise SandboxUnavailable(f"cannot start the sandbox template ({command[0]}): {error}") from None

    def write(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def read(self, timeout: float) -> bytes:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        if not select.select([fd], [], [], max(timeout, 0.0))[0]:
            raise TimeoutError
        return os.read(fd, _CHUNK)

    def close(self) -> None:
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()  # the template finishes its job, cleans up and exits
        except OSError:
            pass
        try:
            self.process.wait(timeout=CLOSE_GRACE)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except OSError:
                pass
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._stderr.close()

    def diagnostics(self) -> str:
        code = self.process.poll()
        try:
            self._stderr.seek(0, os.SEEK_END)
            self._stderr.seek(max(0, self._stderr.tell() - 4000))
            tail = self._stderr.read().decode("utf-8", errors="replace").strip().splitlines()[-8:]
        except (OSError, ValueError):
            tail = []
        status = "" if code is None else f"exit status {code}"
        return "; ".join(part for part in (status, "\n".join(tail)) if part)


def frame_limit(limits: Limits) -> int:
    """The largest frame the host accepts: a case value or the captured output, JSON-escaped."""
    return 6 * (2 * limits.output_bytes + 8 * limits.max_elements + 1_000_000)


@dataclass
class Gathered:
    """One job's events, as they arrive (also the URL backend's, from its one framed result)."""

    size: int
    ready: bool = False
    skipped: tuple[str, ...] = ()
    load_error: Failure | None = None
    cases: dict[int, CaseRun] = field(default_factory=dict)
    numpy_use: str | None = None
    finished: dict[str, Any] | None = None

    def take(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "ready":
            self.ready = True
            self.skipped = tuple(map(str, event.get("skipped") or ()))
        elif kind == "load_error":
            self.load_error = _failure(event.get("error"))
        elif kind == "case":
            index = event.get("index")
            if type(index) is not int or not 0 <= index < self.size:
                raise FrameError(f"case index {index!r} outside the job")
            self.cases[index] = _case(event)
        elif kind == "numpy":
            self.numpy_use = str(event.get("reason") or "reached NumPy")
        elif kind == "finished":
            self.finished = event
        elif kind != "loaded":
            raise FrameError(f"unknown event {str(kind)[:40]!r}")

    def execution(self) -> Execution:
        assert self.finished is not None
        ended = self.finished.get("ended")
        # A broken result channel (the answer wrote into it) makes every result on it suspect.
        trusted = not (isinstance(ended, dict) and ended.get("type") == "ProtocolError")
        return Execution(
            cases=tuple(self.cases.get(index) if trusted else None for index in range(self.size)),
            load_error=self.load_error, ended=_failure(ended) if ended else None,
            stdout=_text(self.finished.get("stdout")), stderr=_text(self.finished.get("stderr")),
            seconds=float(self.finished.get("seconds") or 0.0) if _is_number(self.finished.get("seconds")) else 0.0,
            skipped_names=self.skipped, numpy_use=self.numpy_use)


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _failure(data: Any) -> Failure:
    if not isinstance(data, dict):
        return Failure("Error", "")
    return Failure(str(data.get("type", "Error")), str(data.get("message", "")), str(data.get("where", "")))


def _case(event: dict[str, Any]) -> CaseRun:
    if "error" in event:
        return CaseRun(error=_failure(event["error"]))
    printed = event.get("printed")
    return CaseRun(value=decode(event.get("value")), printed=printed if isinstance(printed, str) else None)


class TemplateClient:
    """One template behind a stream, started lazily and again after it failed; one job at a time."""

    def __init__(self, start: Callable[[], Stream], limits: Limits, name: str = "sandbox") -> None:
        self._start = start
        self.limits = limits
        self.name = name
        self.hello: dict[str, Any] | None = None
        self._stream: Stream | None = None
        self._reader: FrameReader | None = None
        self._pending: list[dict[str, Any]] = []  # frames read but not yet handled
        self._libraries_sent: set[str] = set()  # digests of the specs the running template has
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def execute(self, job: Job) -> Execution:
        return self.submit(job)()

    def submit(self, job: Job) -> Callable[[], Execution]:
        """Send ``job`` and return what waits for its result; it must be called, once (until then
        this client takes no other job)."""
        self._lock.acquire()
        try:
            stream = self._ensure_started()
            job_id = next(self._ids)
            message = job.message(job_id, self.limits)
            digest = None
            if (self.hello or {}).get("library_digests"):  # the template keeps specs named by a digest
                digest = message["library_digest"] = library_digest(job.library)
                if digest in self._libraries_sent:
                    del message["library"]
            try:
                stream.write(encode_frame(message))
            except _STREAM_ERRORS as error:
                raise self._broken(f"the {self.name} template failed during the job: {_describe(error)}") from None
        except BaseException:
            self._lock.release()
            raise
        return lambda: self._collect(job_id, len(job.inputs), digest)

    def _collect(self, job_id: int, size: int, digest: str | None) -> Execution:
        try:
            try:
                gathered = self._gather(job_id, size)
            except _STREAM_ERRORS as error:
                raise self._broken(f"the {self.name} template failed during the job: {_describe(error)}") from None
            if digest is not None and gathered.ready:  # the library was built: the template has its spec
                self._libraries_sent.add(digest)
            elif digest is not None:
                self._libraries_sent.discard(digest)
        finally:
            self._lock.release()
        if not gathered.ready:
            ended = gathered.finished.get("ended") if gathered.finished else None
            stderr = _text(gathered.finished.get("stderr") if gathered.finished else "").strip()
            raise SandboxUnavailable(f"the {self.name} sandbox failed before the answer ran "
                                     f"({_failure(ended) if ended else 'no reason given'})"
                                     + (f":\n{stderr[-2000:]}" if stderr else ""))
        return gathered.execution()

    def start(self) -> dict[str, Any]:
        """Start the template unless it runs; its hello (NumPy and Python versions, layers)."""
        with self._lock:
            self._ensure_started()
            assert self.hello is not None
            return self.hello

    def close(self) -> None:
        with self._lock:
            self._discard()

    # -- the stream --------------------------------------------------------------------------------

    def _ensure_started(self) -> Stream:
        if self._stream is not None:
            return self._stream
        self._stream = self._start()
        self._reader = FrameReader(frame_limit(self.limits))
        try:
            hello = self._next(time.monotonic() + self.limits.startup_seconds)
        except _STREAM_ERRORS as error:
            raise self._broken(f"the {self.name} template did not start: {_describe(error)}") from None
        if hello.get("event") != "hello":
            raise self._broken(f"the {self.name} template did not say hello")
        self.hello = hello
        return self._stream

    def _gather(self, job_id: int, size: int) -> Gathered:
        gathered = Gathered(size)
        deadline = time.monotonic() + self.limits.startup_seconds + self.limits.timeout_seconds + JOB_MARGIN
        while gathered.finished is None:
            event = self._next(deadline)
            if event.get("id") != job_id:
                raise FrameError(f"an event for job {event.get('id')!r} during job {job_id}")
            gathered.take(event)
        return gathered

    def _next(self, deadline: float) -> dict[str, Any]:
        assert self._stream is not None and self._reader is not None
        while not self._pending:
            chunk = self._stream.read(deadline - time.monotonic())
            if not chunk:
                raise EOFError("the stream ended")
            self._pending.extend(self._reader.feed(chunk))
        return self._pending.pop(0)

    def _broken(self, message: str) -> SandboxUnavailable:
        detail = self._stream.diagnostics() if self._stream is not None else ""
        self._discard()
        return SandboxUnavailable(message + (f" ({detail})" if detail else ""))

    def _discard(self) -> None:
        stream, self._stream, self._reader, self._pending = self._stream, None, None, []
        self._libraries_sent = set()
        if stream is not None:
            stream.close()


_DIGESTS: dict[tuple, tuple[dict, str]] = {}  # a cheap fingerprint -> (a spec, its digest)


def library_digest(spec: dict) -> str:
    """SHA-256 of the spec's canonical JSON (PROTOCOL.md), computed once per distinct spec: a
    session builds the same spec for every answer, and comparing it with the last one is far cheaper
    than encoding it again."""
    fingerprint = (spec.get("name"), spec.get("linalg_name"), len(spec.get("main") or ()),
                   len(spec.get("linalg") or ()))
    known = _DIGESTS.get(fingerprint)
    if known is not None and known[0] == spec:
        return known[1]
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    _DIGESTS[fingerprint] = (copy.deepcopy(spec), digest)
    return digest


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "no answer in time"
    return str(error) or type(error).__name__
