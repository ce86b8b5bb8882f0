"""The fake model server's HTTP plumbing, on the standard library's threading HTTP server.

Each connection gets its own thread, which hands the request to an ``on_request(handler, method)``
callback (the server object's) and then holds no state of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .fake_answers import Reply


class HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a handler stuck in a fault delay must not keep the process alive
    request_queue_size = 1024  # the default backlog of 5 would stall bursts of concurrent connections

    def __init__(self, address: tuple[str, int], on_request: Callable[[Handler, str], None]) -> None:
        self.on_request = on_request
        super().__init__(address, Handler)


class Handler(BaseHTTPRequestHandler):
    # HTTP/1.0 closes the connection after each response: no keep-alive connection can outlive
    # set_dead(True), and "disconnect" is simply returning without writing anything.
    protocol_version = "HTTP/1.0"
    server: HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request records are the log; stderr noise would bury test output

    def do_GET(self) -> None:
        self.server.on_request(self, "GET")

    def do_POST(self) -> None:
        self.server.on_request(self, "POST")

    @property
    def authorization(self) -> str | None:
        return self.headers.get("Authorization")

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send(self, reply: Reply) -> None:
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)
        except OSError:
            pass  # the client gave up (its timeout) and closed the socket: nothing left to tell it
