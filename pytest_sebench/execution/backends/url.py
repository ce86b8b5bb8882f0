"""The ``url`` backend: a remote sandbox speaking the reference harness's API (``--sebench-sandbox=URL``).

The service runs posted code in a fresh interpreter: ``POST {"code": program}`` answers
``{"stdout": ..., "stderr": ...}``. Each answer becomes ONE self-contained program: the text of the
sandbox's own modules (``sandbox/*.py``: template, runner, library runtime, guard, ...), the remote
driver (``sandbox/url_remote.py``) and the job (library spec, the answer's code, entry point, case inputs,
limits) -- never the expected outputs, which stay here for ``grade/verdict.py``. Remotely the template
runs the answer in a forked child exactly as the local backend does (limits, per-answer clock, NumPy
guard) and the driver prints the template's frames as one framed result; this side checks that frame
and rebuilds the same :class:`Execution` the other backends return.

What counts as what (see sandbox/PROTOCOL.md, "Remote sandboxes"): exactly one well-formed frame (and
nothing else on stdout) is the result; a second frame, a bad checksum or anything around the frame means
something besides the driver wrote into the result channel, so the answer is charged (``ProtocolError``:
exe_error); no frame at all, a cut frame, an unreachable service, HTTP errors and replies that are not
``{stdout, stderr}`` are ours (:class:`SandboxUnavailable`: an infrastructure ERROR). Connection errors
and 5xx are retried a few times with backoff. Standard library only (``urllib``).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import http.client
import json
import re
import secrets
import time
import urllib.error
import urllib.request
import zlib
from importlib import resources
from typing import Any

from ...sandbox_files.frames import FrameError, FrameReader
from ...sandbox_files.url_remote import MARKER
from ..base import Execution, Failure, Job, Limits, Sandbox, SandboxBackend, SandboxUnavailable
from ..stream import JOB_MARGIN, Gathered, frame_limit

DRIVER = "url_remote.py"  # in the sandbox's folder, shipped as the driver, not as one of its modules
RETRIES = 3  # after the first attempt, for connection errors and 5xx
BACKOFF = 0.25  # seconds before the first retry, doubled for each next one
_HEADER = re.compile(rf"{MARKER} 1 (\d{{1,12}}) ([0-9a-f]{{64}})\n")
_BODY = re.compile(r"[A-Za-z0-9+/=]*")
_PROGRAM = """\
# pytest-sebench (url backend): one answer's program. It runs the answer in a forked child under the
# sandbox's own runner and prints one framed result; it holds the answer's code and case inputs, never
# the expected outputs.
import base64, json, types, zlib
runtime = json.loads(zlib.decompress(base64.b85decode("[RUNTIME]")))
job = json.loads(zlib.decompress(base64.b85decode("[JOB]")))
driver = types.ModuleType("sebench_remote")
driver.__file__ = runtime["root"] + "/sebench_remote.py"
exec(compile(runtime.pop("driver"), driver.__file__, "exec"), driver.__dict__)
driver.main(runtime, job)
"""
NO_RESULT_HINT = ("no result came back: the service may have stopped the program at its own time limit "
                  "(the reference harness allows 3 s in all: keep --sebench-timeout about a second "
                  "below it), or could not run it")


class ChannelTampered(Exception):
    """The result channel held something besides the driver's one frame: the answer wrote into it."""


def _pack(value: Any) -> str:
    # base85 has no quote or backslash: the text sits inside a Python string literal as it is.
    return base64.b85encode(zlib.compress(json.dumps(value).encode("utf-8"), 9)).decode("ascii")


@functools.lru_cache(maxsize=4)
def _runtime(isolation: bool) -> str:
    """The part every program shares (about 40 KB), packed once per process."""
    folder = resources.files("pytest_sebench.sandbox_files")
    modules = {entry.name[:-3]: entry.read_text(encoding="utf-8") for entry in folder.iterdir()
               if entry.name.endswith(".py") and entry.name not in ("__init__.py", DRIVER)}
    return _pack({"root": f"/sebench-runtime-{secrets.token_hex(6)}", "modules": modules,
                  "driver": folder.joinpath(DRIVER).read_text(encoding="utf-8"),
                  # One job per process: children forked ahead would only be thrown away.
                  "argv": ["--spares", "0"] + ([] if isolation else ["--no-isolation"])})


def build_program(job_frame: dict[str, Any] | None, isolation: bool = True) -> str:
    """The Python program posted for one job (``None``: the runner's hello alone, for ``check``)."""
    # "[" is not in the base85 alphabet, so no packed text can contain a placeholder: the second
    # replacement cannot reach into the first one's text (plain "JOB" could, and once did).
    return _PROGRAM.replace("[RUNTIME]", _runtime(isolation)).replace("[JOB]", _pack(job_frame))


def read_result(stdout: str, stderr: str, limit: int) -> list[dict[str, Any]]:
    """The driver's frames from the service's stdout.

    Raises :class:`ChannelTampered` when the channel held more than that one frame or a frame that
    does not check out, :class:`SandboxUnavailable` when no (whole) frame came back.
    """
    count = stdout.count(MARKER + " ")  # base64 has no space: a body never holds a marker
    head = _HEADER.match(stdout)
    if count == 0:
        raise SandboxUnavailable(f"{NO_RESULT_HINT}{_tail('stderr', stderr)}{_tail('stdout', stdout)}")
    if count > 1 or head is None:
        raise ChannelTampered(f"{count} result frames, {'one' if head else 'none'} at the start")
    body = stdout[head.end():]
    body = body[:-1] if body.endswith("\n") else body
    declared = int(head.group(1))
    if _BODY.fullmatch(body) is None:
        raise ChannelTampered("the result frame has text around it")
    if len(body) < declared:
        raise SandboxUnavailable(f"the result came back cut short ({len(body)} of {declared} characters): "
                                 f"the service may cap its output{_tail('stderr', stderr)}")
    if len(body) != declared or hashlib.sha256(body.encode("ascii")).hexdigest() != head.group(2):
        raise ChannelTampered("the result frame does not match its length and checksum")
    try:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(base64.b64decode(body, validate=True), limit)
        if inflater.unconsumed_tail:
            raise SandboxUnavailable(f"the result is larger than {limit} bytes")
        reader = FrameReader(limit)
        frames = list(reader.feed(raw))
        if reader.pending:
            raise FrameError("the frames end mid-way")
    except (binascii.Error, zlib.error, FrameError) as error:
        raise SandboxUnavailable(f"the remote runner's result is malformed: {error}") from None
    return frames


def execution_from_frames(frames: list[dict[str, Any]], size: int, stderr: str) -> Execution:
    """The job's events (job id 1), gathered as the stream client does (``stream.Gathered``)."""
    trailer = frames[-1] if frames and frames[-1].get("event") == "remote" else {}
    gathered = Gathered(size)
    try:
        if not frames or frames[0].get("event") != "hello":
            raise FrameError("the runner did not say hello")
        for event in frames[1:-1]:
            if event.get("id") != 1:
                raise FrameError(f"an event for job {event.get('id')!r}")
            gathered.take(event)
    except FrameError as error:
        problem = trailer.get("error") or str(error)
        raise SandboxUnavailable(f"the remote runner failed: {problem}{_tail('stderr', stderr)}") from None
    if gathered.finished is None:
        problem = trailer.get("error") or "it ended without a result"
        raise SandboxUnavailable(f"the remote runner failed during the job: {problem}{_tail('stderr', stderr)}")
    if not gathered.ready:
        ended = gathered.finished.get("ended")
        reason = f"{ended.get('type')}: {ended.get('message')}" if isinstance(ended, dict) else "no reason given"
        raise SandboxUnavailable(f"the remote sandbox failed before the answer ran ({reason})"
                                 f"{_tail('stderr', str(gathered.finished.get('stderr') or ''))}")
    return gathered.execution()


def tampered(size: int, why: str) -> Execution:
    """What the host makes of a tampered channel: no case is trusted, the answer is charged."""
    return Execution(cases=(None,) * size, ended=Failure(
        "ProtocolError", f"something in the answer's process wrote into the result channel ({why})"))


def _tail(name: str, text: str, keep: int = 1500) -> str:
    text = text.strip()
    return f"\n{name} of the remote program:\n{text[-keep:]}" if text else ""


class URLSandbox(Sandbox):
    """Stateless: every answer is one request, so threads, xdist workers and a load balancer in front
    of many services all work without coordination."""

    name = "url"

    def __init__(self, limits: Limits, url: str, isolation: bool = True, retries: int = RETRIES,
                 backoff: float = BACKOFF) -> None:
        self.limits, self.url, self.isolation = limits, url, isolation
        self.retries, self.backoff = retries, backoff
        # The remote starts an interpreter and NumPy per request: the start-up allowance, the answer's
        # own clock and the template's margin for killing and collecting, as the stream client allows.
        self.request_timeout = limits.startup_seconds + limits.timeout_seconds + JOB_MARGIN
        self.result_limit = frame_limit(limits)

    def execute(self, job: Job) -> Execution:
        stdout, stderr = self._post(build_program(job.message(1, self.limits), self.isolation))
        try:
            frames = read_result(stdout, stderr, self.result_limit)
        except ChannelTampered as error:
            return tampered(len(job.inputs), str(error))
        return execution_from_frames(frames, len(job.inputs), stderr)

    def hello(self) -> dict[str, Any]:
        """What the remote runner says about itself: NumPy and Python versions, isolation layers, and
        the driver's own protections (``not_dumpable``, ``seccomp``: True or why not)."""
        stdout, stderr = self._post(build_program(None, self.isolation))
        try:
            frames = read_result(stdout, stderr, self.result_limit)
        except ChannelTampered as error:  # no answer ran: this is the service's doing
            raise SandboxUnavailable(f"the service's output is not our runner's: {error}") from None
        trailer = frames[-1] if frames and frames[-1].get("event") == "remote" else {}
        if not frames or frames[0].get("event") != "hello":
            raise SandboxUnavailable(f"the remote runner did not start: {trailer.get('error') or 'no hello'}"
                                     f"{_tail('stderr', stderr)}")
        return {**frames[0], "protections": trailer.get("protections") or {}}

    def _post(self, program: str) -> tuple[str, str]:
        data = json.dumps({"code": program}).encode("utf-8")
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            request = urllib.request.Request(self.url, data=data, method="POST",
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=self.request_timeout) as response:
                    body = response.read(2 * self.result_limit + 1)
            except urllib.error.HTTPError as error:
                last = f"HTTP {error.code} {error.reason}"
                if error.code < 500:  # the request itself is wrong (path, size): a retry cannot help
                    raise SandboxUnavailable(f"the remote sandbox at {self.url} refused the program: {last}"
                                             f"{_tail('reply', _read_quietly(error), 300)}") from None
                continue
            except urllib.error.URLError as error:
                if isinstance(error.reason, TimeoutError):
                    raise self._timed_out() from None
                last = str(error.reason)
                continue
            except TimeoutError:
                raise self._timed_out() from None
            except (http.client.HTTPException, OSError) as error:  # dropped or reset mid-reply
                last = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
                continue
            return self._reply(body)
        raise SandboxUnavailable(f"the remote sandbox at {self.url} is unreachable or failing "
                                 f"({self.retries + 1} attempts): {last}")

    def _timed_out(self) -> SandboxUnavailable:
        return SandboxUnavailable(f"the remote sandbox at {self.url} gave no reply within "
                                  f"{self.request_timeout:g} s")

    def _reply(self, body: bytes) -> tuple[str, str]:
        if len(body) > 2 * self.result_limit:
            raise SandboxUnavailable(f"the remote sandbox at {self.url} replied with more than "
                                     f"{2 * self.result_limit} bytes")
        try:
            reply = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            reply = None
        if not (isinstance(reply, dict) and isinstance(reply.get("stdout"), str)
                and isinstance(reply.get("stderr", ""), str)):
            shown = body[:200].decode("utf-8", errors="replace")
            raise SandboxUnavailable(f"the remote sandbox at {self.url} did not answer "
                                     f'{{"stdout": ..., "stderr": ...}} JSON but: {shown!r}')
        return reply["stdout"], reply.get("stderr", "")


def _read_quietly(error: urllib.error.HTTPError) -> str:
    try:
        return error.read(300).decode("utf-8", errors="replace")
    except (OSError, http.client.HTTPException):
        return ""


def check(url: str, limits: Limits | None = None) -> dict[str, Any]:
    """Fail fast (configure time): SandboxUnavailable unless ``url`` runs our runner. Returns its hello."""
    return URLSandbox(limits or Limits(), url).hello()


def _preflight(url: str) -> None:
    check(url)  # the hello is of no use here


BACKEND = SandboxBackend(name="url", choices="an http(s):// URL of a remote sandbox",
                         accepts=lambda choice: choice.startswith(("http://", "https://")),
                         build=lambda choice, limits, options: URLSandbox(limits, choice),
                         preflight=_preflight)
