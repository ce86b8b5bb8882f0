"""The fake model server object: its lifecycle, what may change while it runs, and its counters.

``fake_server`` says how to use it; the parts live beside this module: the settings (``fake_config``),
the faults (``fake_faults``), the decision on each request (``fake_requests``), the records and
counters (``fake_accounting``), the generation slots (``fake_slots``), the HTTP plumbing
(``fake_http``) and the answers and their JSON (``fake_answers``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .fake_accounting import Accounting, RequestRecord
from .fake_answers import Responder, echo_responder
from .fake_config import COMPLETIONS_PATH, ServerConfig
from .fake_faults import FaultQueue
from .fake_http import Handler, HTTPServer
from .fake_requests import Answerer, decide_completion, endpoint_reply
from .fake_slots import SlotPool, Ticket


class FakeServer:
    """The fake model server; see ``fake_server``. Start it with ``start()`` or ``with``."""

    def __init__(self, responder: Responder | None = None, config: ServerConfig | None = None, *,
                 host: str = "127.0.0.1", port: int = 0, log_path: str | Path | None = None) -> None:
        self._answerer = Answerer(responder or echo_responder())
        self._config = config or ServerConfig()
        self.host = host
        self.port = port  # the real port once started; kept across set_dead so clients can come back
        self._lock = threading.Lock()  # guards the config
        self._faults = FaultQueue()
        self._slots = SlotPool(self._config.slots)
        self._accounting = Accounting(self._slots, Path(log_path) if log_path is not None else None)
        self._lifecycle = threading.Lock()  # serializes start/stop/set_dead
        self._httpd: HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()  # wakes handlers sleeping in latency or a timeout fault

    # ---- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> FakeServer:
        with self._lifecycle:
            self._closing.clear()
            if self._httpd is None:
                self._listen()
        return self

    def close(self) -> None:
        with self._lifecycle:
            self._closing.set()
            self._slots.interrupt()  # requests waiting for a slot give up waiting
            self._stop_listening()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def set_dead(self, dead: bool) -> None:
        """Refuse connections (``True``: the listening socket is closed) or listen again on the same port."""
        with self._lifecycle:
            if dead:
                self._stop_listening()
            elif self._httpd is None:
                self._listen()

    @property
    def dead(self) -> bool:
        return self._httpd is None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def _listen(self) -> None:
        httpd = HTTPServer((self.host, self.port), self._handle)
        self.port = httpd.server_address[1]
        # A short poll interval makes shutdown (set_dead, close) quick: serve_forever polls every 0.5 s by default.
        thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01},
                                  name=f"fake-model-server:{self.port}", daemon=True)
        thread.start()
        self._httpd, self._thread = httpd, thread

    def _stop_listening(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()
        self._httpd = self._thread = None

    # ---- behaviour ---------------------------------------------------------------------------------

    @property
    def config(self) -> ServerConfig:
        with self._lock:
            return self._config

    def configure(self, **changes: Any) -> ServerConfig:
        """Change ``ServerConfig`` fields; requests that arrive afterwards see the new values."""
        known = {f.name for f in fields(ServerConfig)}
        unknown = set(changes) - known
        if unknown:
            raise TypeError(f"configure: unknown settings {sorted(unknown)}; known: {sorted(known)}")
        with self._lock:
            self._config = replace(self._config, **changes)
            self._slots.set_limit(self._config.slots)
            return self._config

    def set_responder(self, responder: Responder) -> None:
        self._answerer.set_responder(responder)

    def inject(self, kind: str, count: int = 1, **options: Any) -> None:
        """Make the next ``count`` completion requests fail with ``kind`` (queued after earlier faults)."""
        self._faults.inject(kind, count, **options)

    def clear_faults(self) -> None:
        self._faults.clear()

    @property
    def faults_pending(self) -> int:
        return self._faults.pending

    # ---- accounting (see fake_accounting) ----------------------------------------------------------

    @property
    def log_path(self) -> Path | None:
        return self._accounting.log_path

    @log_path.setter
    def log_path(self, path: str | Path | None) -> None:
        self._accounting.log_path = Path(path) if path is not None else None

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot (a new list) of the records so far, safe to read while requests arrive."""
        return self._accounting.requests

    @property
    def completion_attempts(self) -> int:
        return self._accounting.completion_attempts

    @property
    def completions_served(self) -> int:
        return self._accounting.completions_served

    @property
    def in_flight(self) -> int:
        return self._accounting.in_flight

    @property
    def max_in_flight(self) -> int:
        return self._accounting.max_in_flight

    @property
    def generating(self) -> int:
        """Completion requests holding a generation slot now."""
        return self._slots.generating

    @property
    def max_generating(self) -> int:
        return self._slots.max_generating

    @property
    def waiting(self) -> int:
        """Completion requests waiting in line for a generation slot now."""
        return self._slots.waiting

    @property
    def busy_seconds(self) -> float:
        """Seconds during which at least one request was generating (up to now, if one still is)."""
        return self._slots.busy_seconds

    def reset_accounting(self) -> None:
        """Forget records and counters (not ``n_seen``, faults or config), e.g. between test phases."""
        self._accounting.reset()

    # ---- request handling (the decisions are fake_requests') ----------------------------------------

    def _handle(self, handler: Handler, method: str) -> None:
        path = urlsplit(handler.path).path.rstrip("/")
        if method == "POST" and path == COMPLETIONS_PATH:
            self._serve_completion(handler, path)
            return
        handler.read_body()  # drained so the client is not cut off mid-upload
        reply = endpoint_reply(method, path, handler.authorization, self.config)
        self._accounting.note(RequestRecord(time.time(), path, "", "", reply.status, None))
        handler.send(reply)

    def _serve_completion(self, handler: Handler, path: str) -> None:
        self._accounting.arrived()
        try:
            config = self.config
            decision = decide_completion(path, handler.read_body(), handler.authorization, config, self._faults,
                                         self._answerer)
            if decision.needs_slot:
                record = replace(decision.record, queued=None, generating=None)  # known once it is done
                ticket = self._accounting.note(record, decision.served, needs_slot=True)
                assert ticket is not None
                self._accounting.finish(record, self._generate(ticket, decision.delay))
            else:
                self._accounting.note(decision.record, decision.served)
        finally:
            # Leave before writing: a client holding its answer must never see its request still in flight.
            self._accounting.left()
        if decision.reply is not None:
            handler.send(decision.reply)
        else:
            handler.close_connection = True  # hang up: the socket closes with nothing written

    def _generate(self, ticket: Ticket, delay: float) -> Ticket:
        """Wait for a slot and hold it ``delay`` seconds, as a busy server generating the answer would."""
        if self._slots.acquire(ticket, self._closing):
            try:
                # The client may be long gone (its timeout): like a real server, this does not notice.
                self._closing.wait(delay)  # close() cuts it short so shutdown is quick
            finally:
                self._slots.release(ticket)
        return ticket
