"""A stand-in for the reference harness's sandbox service: for tests, and for trying the url backend.

    python -m pytest_sebench.testing.sandbox_service --port 8080 [--timeout 3]
    pytest --sebench-model=... --sebench-sandbox=http://127.0.0.1:8080/

Like the reference service it is one shared process that takes ``POST {"code": "..."}`` (on any path),
runs the code in a fresh interpreter (``sys.executable -c code``, the service's own environment and
user) under a total timeout and no other limit, and replies ``{"stdout": ..., "stderr": ...}``. It
isolates nothing: whatever protects the machine from the code is what the url backend sends with it
(the sandbox's template, run by its remote driver ``sandbox/url_remote.py``), or the machine's own
setup. In tests::

    with SandboxService(timeout=60) as service:
        sandbox = URLSandbox(Limits(), service.url)
        service.inject("server_error", count=2)  # the next two requests get HTTP 500

Faults (``inject(kind, count=1, skip=0)``: the ``count`` requests after the next ``skip`` ones; ``count``
None means all of them): ``server_error`` (HTTP 500), ``garbage`` (200 with a body that is not JSON),
``disconnect`` (the connection closes without a reply), ``truncate`` (the program's stdout cut in half).
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULTS = ("server_error", "garbage", "disconnect", "truncate")
MAX_REQUEST = 64 * 1024**2


@dataclass
class _Fault:
    kind: str
    count: int | None
    skip: int


class SandboxService:
    """The service on ``host:port`` (port 0: a free one), served by a thread until :meth:`stop`."""

    def __init__(self, timeout: float = 3.0, python: str | None = None, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.timeout = timeout
        self.python = python or sys.executable
        self.requests = 0  # POSTs received, faulted ones included
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), _Handler)
        self._server.daemon_threads = True
        self._server.service = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        assert isinstance(host, str)  # typeshed allows bytes; an AF_INET server's host is text
        return f"http://{host}:{port}/"

    def start(self) -> "SandboxService":
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, name="sandbox-service",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> "SandboxService":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def inject(self, kind: str, count: int | None = 1, skip: int = 0) -> None:
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(FAULTS)}")
        with self._lock:
            self._faults.append(_Fault(kind, count, skip))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _next_fault(self) -> str | None:
        with self._lock:
            self.requests += 1
            for fault in self._faults:
                if fault.skip:
                    fault.skip -= 1
                    return None
                if fault.count is None or fault.count > 0:
                    if fault.count is not None:
                        fault.count -= 1
                    return fault.kind
            return None

    def run(self, code: str) -> dict[str, str]:
        """Run ``code`` as the reference service does; the reply's fields."""
        # Its own session, so that at the timeout the whole group goes (the program's children too).
        process = subprocess.Popen([self.python, "-c", code], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        try:
            out, err = process.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process.pid)
            try:
                out, err = process.communicate(timeout=2.0)
            except subprocess.TimeoutExpired:  # something outside the group holds the pipes open
                process.kill()
                out, err = b"", b""
            err += f"\nTimeoutError: the program ran longer than {self.timeout:g} s\n".encode()
        return {"stdout": out.decode("utf-8", errors="replace"), "stderr": err.decode("utf-8", errors="replace")}


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def do_GET(self) -> None:  # a health check
        self._send(200, b'{"status": "ok"}')

    def do_POST(self) -> None:
        service: SandboxService = self.server.service
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_REQUEST:
            return self._send(413 if length else 400, b'{"error": "a JSON body of bounded size is required"}')
        try:
            code = json.loads(self.rfile.read(length)).get("code")
        except (ValueError, AttributeError):
            code = None
        if not isinstance(code, str):
            return self._send(400, b'{"error": "expected {\\"code\\": \\"...\\"}"}')
        fault = service._next_fault()
        if fault == "server_error":
            return self._send(500, b'{"error": "internal server error"}')
        if fault == "garbage":
            return self._send(200, b"<html>502 Bad Gateway</html> {\"stdout\": ")
        if fault == "disconnect":
            self.close_connection = True
            self.connection.close()
            return None
        reply = service.run(code)
        if fault == "truncate":
            reply["stdout"] = reply["stdout"][: len(reply["stdout"]) // 2]
        return self._send(200, json.dumps(reply).encode("utf-8"))

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests and users see replies, not access logs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pytest_sebench.testing.sandbox_service",
                                     description="A stand-in for the reference harness's sandbox service.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds per program, in all (default 3)")
    parser.add_argument("--python", default=None, help="interpreter that runs the programs (needs NumPy)")
    options = parser.parse_args(argv)
    service = SandboxService(options.timeout, options.python, options.host, options.port)
    print(f"sandbox service on {service.url} (timeout {options.timeout:g} s); "
          f"use --sebench-sandbox={service.url}", flush=True)
    try:
        service._server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        service._server.server_close()


if __name__ == "__main__":
    main()
