"""An OpenAI-compatible chat-completions server for tests and benchmarks: the only test double we use.

The plugin's tests talk to this server with the real ``openai`` SDK over real HTTP, so everything
between the plugin and the model (SDK, retries, timeouts, connection handling) is the real thing. The
server is standard library only and, having no model to load, starts at once::

    from pytest_sebench.testing import FakeServer, ServerConfig, table_responder

    with FakeServer(table_responder({"amin": "```python\\n...\\n```"}), ServerConfig(latency=0.05)) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
        ...
        server.inject("rate_limit", count=2, retry_after=0)   # the next two completions get 429
        server.configure(latency=0.5)                         # takes effect for the next request
        server.set_dead(True)                                 # connections are now refused
        server.set_dead(False)                                # listening again on the same port
        assert server.max_in_flight <= 8

Endpoints (under ``base_url`` = ``http://127.0.0.1:PORT/v1``): ``GET /models`` lists ``model_id``;
``POST /chat/completions`` answers non-streaming requests (``stream: true`` gets 400) with one choice
per ``n``, and usage counted in whitespace-separated words ("tokens" below). The answer text comes
from the responder (see ``fake_answers.py``), called once per choice.

What a real server does with the text, as ``ServerConfig`` (all changeable with ``configure``) says:

- ``max_tokens`` (or ``max_completion_tokens``; a positive integer, else 400): a choice with more words
  is cut right after its ``max_tokens``-th word (the text up to there kept as it is, newlines
  included) with ``finish_reason`` "length"; otherwise "stop". ``completion_tokens`` counts the words
  generated, after the cut and wherever a think block is sent (tags included), summed over choices:
  each cut choice adds exactly ``max_tokens``.
- ``reasoning_field`` ("reasoning_content" as older vLLM sends it, "reasoning" as newer; None: the text
  goes out as it is, inline ``<think>`` and all, like a server without a reasoning parser): a leading
  ``<think>...</think>`` block moves out of ``content`` into ``message[reasoning_field]``, unstripped,
  and ``usage.completion_tokens_details = {"reasoning_tokens": <its words>}``. A choice without the
  block has the field null and all its text as content; one cut off inside the block (no
  ``</think>``) is all reasoning, and nothing after the block is a null content, as vLLM sends them
  (an ``empty`` fault's content stays ""). The SDK keeps the unknown field as a pydantic extra:
  ``message.reasoning_content`` (or ``message.model_extra``; ``getattr(message, "reasoning", None)``
  when unsure which), and ``message.content`` may be ``None``;
  ``usage.completion_tokens_details.reasoning_tokens`` is typed.
- ``context_length``: a request whose prompt (words of all its messages) plus ``max_tokens`` exceeds
  it gets 400 with vLLM's flat body (``{"object": "error", "message": "This model's maximum context
  length is 4096 tokens. However, you requested 8392 tokens (200 in the messages, 8192 in the
  completion). Please reduce ...", "type": "BadRequestError", "param": null, "code": 400}``). Every
  such request gets it: it is refused before faults and the responder (like any invalid request, it
  counts in ``completion_attempts``, not ``completions_served``). ``openai.BadRequestError``'s
  ``message`` is "Error code: 400 - " + that message, ``body`` the dict, ``code`` the string "400".
  Without ``max_tokens`` only a prompt of ``context_length`` words or more is refused (vLLM's other
  message), and the answer is cut at what is left of the context.
- ``model_root``: listed as ``root`` in ``/v1/models`` (vLLM lists the served weights' path there);
  ``model_info``: the JSON of ``GET /get_model_info`` beside ``/v1`` (SGLang's ``model_path`` and
  ``weight_version``); 404 when None.
- ``token_seconds``: seconds per completion word (``usage.completion_tokens``) added to ``latency``,
  so that long answers take longer, as on a real server.
- ``slots`` (0: no limit): at most that many completion requests generate (hold a slot for their
  latency) at once; the others wait in line in order of arrival (the order of ``requests``), and a
  request's latency starts when it gets its slot, as on llama.cpp's serial server. Every completion
  request except those refused as invalid takes a slot, faulted ones included (a ``timeout`` fault
  holds it for its whole delay). A request whose client gave up still holds its slot for its full
  latency when its turn comes: the server does not notice, which is what makes abandoned requests
  costly. ``close()`` ends waits and holds at once.

Faults (``server.inject(kind, count=1, **options)``) intercept the next ``count`` valid completion
requests, in injection order. A faulted request never reaches the responder, so ``n_seen`` (and with
it a ``probability_responder``'s sample sequence) is the same whether or not a retry was needed. Each
kind, and what the ``openai`` SDK (``max_retries=0``) makes of it, as tests/test_fake_server.py checks
with the installed version:

- ``rate_limit`` (``retry_after=1``): 429, error body, ``Retry-After`` header in seconds.
  Raises ``openai.RateLimitError``; the header is ``err.response.headers["retry-after"]``.
- ``server_error`` (``status=500``): that status with an error body. Raises
  ``openai.InternalServerError`` for any status >= 500 (a 4xx raises its own ``APIStatusError``).
- ``timeout`` (``seconds=30``): holds the request for ``seconds`` (plus latency), then answers 504.
  Raises ``openai.APITimeoutError`` when the client's timeout is shorter (a subclass of
  ``APIConnectionError``).
- ``disconnect``: closes the connection without a response. Raises ``openai.APIConnectionError``.
- ``malformed``: 200, ``Content-Type: application/json``, a body cut off mid-way. Raises
  ``json.JSONDecodeError`` (a ``ValueError``), NOT an ``openai.OpenAIError``: the plugin must catch it
  separately and treat it as retryable.
- ``bad_shape``: 200, a completion object without ``choices``. Returns a ``ChatCompletion`` whose
  ``choices`` is ``None`` (the SDK does not validate responses): check before indexing.
- ``empty``: 200, a normal completion whose content is ``""``. Returns it: ``message.content == ""``.

With its own retries on (``max_retries > 0``) the SDK retries ``rate_limit`` (honouring Retry-After),
``server_error`` (>= 500), ``timeout`` and ``disconnect`` by itself; it never retries ``malformed`` or
``bad_shape``. Every retry is one more ``completion_attempts``.

``set_dead(True)`` closes the listening socket: new connections are refused, which the SDK raises as
``openai.APIConnectionError``. ``set_dead(False)`` listens again on the same port.

Accounting: ``requests`` is a snapshot of one ``RequestRecord`` per HTTP request, taken when the server
has decided its answer (before queueing, latency and delays), so a request whose client gave up still
counts. A record's ``queued`` and ``generating`` are the seconds it waited for a slot and held one:
``None`` until it has left its slot, 0.0 for requests answered at once (refusals, other endpoints).
``completion_attempts`` counts every POST to the completions path, ``completions_served`` those answered
with a well-formed completion (no fault, or ``empty``), ``in_flight``/``max_in_flight`` the completion
requests between arrival and the start of their response, waiting for a slot included (a request
held by a ``timeout`` fault stays in flight for its whole delay, as on a real server still
generating). ``generating``/``max_generating`` count those holding a slot (with or without a limit),
``waiting`` those in line, and ``busy_seconds`` is the server's own busy time: the wall time during
which at least one was generating (the union of their intervals). ``reset_accounting`` starts all the
maxima and ``busy_seconds`` over. With ``log_path`` each completion request also appends its record
as one JSON line when it is decided (``queued``/``generating`` null there), so a test can count the
requests made by another process, even one that was killed.

Command line (a separate server process for subprocess tests and benchmarks; SIGTERM stops it)::

    python -m pytest_sebench.testing.fake_server --port 0 --latency 0.1 --responder table \\
        --answers answers.json --log requests.jsonl --ready-file url.txt \\
        --slots 1 --reasoning-field reasoning_content --context-length 4096
    python -m pytest_sebench.testing.fake_server --port 8000 --responder reference --data fixtures/qel
    # (the second answers each fixture problem with its reference solution: a served model to try)

``--ready-file`` receives the base URL, written atomically once the server listens.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, fields, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .fake_answers import (
    DEFAULT_ANSWER,
    MALFORMED_BODY,
    Reply,
    Request,
    Responder,
    completion_payload,
    context_length_error,
    echo_responder,
    error_reply,
    json_reply,
    last_user_text,
    probability_responder,
    prompt_tokens,
    requested_max_tokens,
    retry_after_header,
    table_responder,
    vllm_error_reply,
)
from .fake_slots import SlotPool, Ticket

COMPLETIONS_PATH = "/v1/chat/completions"
MODELS_PATH = "/v1/models"
MODEL_INFO_PATH = "/get_model_info"

# Each fault kind with its options and their defaults; inject() refuses any other option.
FAULT_OPTIONS: dict[str, dict[str, Any]] = {
    "rate_limit": {"retry_after": 1},
    "server_error": {"status": 500},
    "timeout": {"seconds": 30.0},
    "disconnect": {},
    "malformed": {},
    "bad_shape": {},
    "empty": {},
}
FAULT_KINDS = tuple(FAULT_OPTIONS)
# Where vLLM's reasoning parsers put a <think> block: older versions "reasoning_content", newer "reasoning".
REASONING_FIELDS = ("reasoning_content", "reasoning")


@dataclass(frozen=True)
class ServerConfig:
    """Behaviour that may change while the server runs (``FakeServer.configure``)."""

    latency: float = 0.0  # seconds each completion request generates (holds its slot), in its own thread
    model_id: str = "fake-model"  # listed by /models
    strict_model: bool = False  # answer 404 model_not_found when a request names another model, as vLLM does
    api_key: str | None = None  # when set, requests without "Authorization: Bearer <api_key>" get 401
    slots: int = 0  # completions generating at once, the rest wait in line (0: no limit)
    reasoning_field: str | None = None  # message field for a leading <think> block (None: left in content)
    context_length: int | None = None  # prompt + max_tokens words allowed (None: no limit)
    # seconds per completion word added to ``latency``: a real server's time grows with the answer's
    # length, and the plugin paces itself per generated token
    token_seconds: float = 0.0
    model_root: str | None = None  # listed as the model's ``root`` in /models, as vLLM gives the weights' path
    model_info: dict[str, Any] | None = None  # served at GET /get_model_info (beside /v1), as SGLang does

    def __post_init__(self) -> None:
        # Checked here so a bad value fails in configure() or at start, not as a confusing reply later.
        if isinstance(self.slots, bool) or not isinstance(self.slots, int) or self.slots < 0:
            raise ValueError(f"ServerConfig: slots must be an integer >= 0 (0: no limit), not {self.slots!r}")
        if self.reasoning_field not in (None, *REASONING_FIELDS):
            raise ValueError(f"ServerConfig: reasoning_field must be None or one of {REASONING_FIELDS}, "
                             f"not {self.reasoning_field!r}")
        if self.context_length is not None and self.context_length < 1:
            raise ValueError(f"ServerConfig: context_length must be positive, not {self.context_length!r}")
        if not self.token_seconds >= 0:
            raise ValueError(f"ServerConfig: token_seconds must be >= 0, not {self.token_seconds!r}")


@dataclass(frozen=True)
class RequestRecord:
    time: float  # time.time() when the server decided the answer
    path: str
    prompt: str  # the last user message ("" for non-completion requests)
    model: str
    status: int | None  # None: the connection was closed without a response
    fault: str | None  # the injected fault kind, "responder_error", or None
    # Seconds waited for a generation slot and spent holding it: 0.0 for requests answered at once
    # (refusals, other endpoints), None until the request has left its slot (and always in the log).
    queued: float | None = 0.0
    generating: float | None = 0.0


@dataclass
class _Fault:
    kind: str
    remaining: int
    options: dict[str, Any]


@dataclass(frozen=True)
class _Decision:
    reply: Reply | None  # None: hang up without answering
    delay: float  # seconds to hold a generation slot before answering
    record: RequestRecord
    served: bool
    needs_slot: bool = True  # False: refused before generation, answered at once


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a handler stuck in a fault delay must not keep the process alive
    request_queue_size = 1024  # the default backlog of 5 would stall bursts of concurrent connections

    def __init__(self, address: tuple[str, int], fake: FakeServer) -> None:
        self.fake = fake
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.0 closes the connection after each response: no keep-alive connection can outlive
    # set_dead(True), and "disconnect" is simply returning without writing anything.
    protocol_version = "HTTP/1.0"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request records are the log; stderr noise would bury test output

    def do_GET(self) -> None:
        self.server.fake._handle(self, "GET")

    def do_POST(self) -> None:
        self.server.fake._handle(self, "POST")

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


class FakeServer:
    """The fake model server; see the module docstring. Start it with ``start()`` or ``with``."""

    def __init__(self, responder: Responder | None = None, config: ServerConfig | None = None, *,
                 host: str = "127.0.0.1", port: int = 0, log_path: str | Path | None = None) -> None:
        self._responder = responder or echo_responder()
        self._config = config or ServerConfig()
        self.host = host
        self.port = port  # the real port once started; kept across set_dead so clients can come back
        self.log_path = Path(log_path) if log_path is not None else None
        self._lock = threading.Lock()  # guards everything below that handler threads touch
        self._faults: list[_Fault] = []
        self._records: list[RequestRecord] = []
        self._n_seen: dict[str, int] = {}
        self._attempts = self._served = self._in_flight = self._max_in_flight = 0
        self._slots = SlotPool(self._config.slots)
        self._completion_ids = 0
        self._lifecycle = threading.Lock()  # serializes start/stop/set_dead
        self._httpd: _HTTPServer | None = None
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
        httpd = _HTTPServer((self.host, self.port), self)
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
        with self._lock:
            self._responder = responder

    def inject(self, kind: str, count: int = 1, **options: Any) -> None:
        """Make the next ``count`` completion requests fail with ``kind`` (queued after earlier faults)."""
        if kind not in FAULT_OPTIONS:
            raise ValueError(f"inject: unknown fault {kind!r}; known: {', '.join(FAULT_KINDS)}")
        if count < 1:
            raise ValueError(f"inject: count must be at least 1, not {count}")
        unknown = set(options) - set(FAULT_OPTIONS[kind])
        if unknown:
            raise TypeError(f"inject: {kind!r} takes {sorted(FAULT_OPTIONS[kind])}, not {sorted(unknown)}")
        with self._lock:
            self._faults.append(_Fault(kind, count, {**FAULT_OPTIONS[kind], **options}))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def faults_pending(self) -> int:
        with self._lock:
            return sum(fault.remaining for fault in self._faults)

    def _take_fault(self) -> _Fault | None:
        with self._lock:
            if not self._faults:
                return None
            fault = self._faults[0]
            fault.remaining -= 1
            if fault.remaining == 0:
                self._faults.pop(0)
            return fault

    # ---- accounting --------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot (a new list) of the records so far, safe to read while requests arrive."""
        with self._lock:
            return list(self._records)

    @property
    def completion_attempts(self) -> int:
        with self._lock:
            return self._attempts

    @property
    def completions_served(self) -> int:
        with self._lock:
            return self._served

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    @property
    def max_in_flight(self) -> int:
        with self._lock:
            return self._max_in_flight

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
        with self._lock:
            self._records.clear()
            self._attempts = self._served = 0
            self._max_in_flight = self._in_flight
            self._slots.reset_accounting()

    def _note(self, record: RequestRecord, served: bool = False, needs_slot: bool = False) -> Ticket | None:
        """Record a decided request; one that will generate also joins the line for a slot (its ticket)."""
        with self._lock:
            self._records.append(record)
            self._served += served
            # In line under the same lock as the record: the line's order is the order of ``requests``.
            ticket = self._slots.enqueue() if needs_slot else None
        if self.log_path is not None and record.path == COMPLETIONS_PATH:
            # One write() of the whole line on an O_APPEND descriptor: lines from several threads or
            # processes sharing the file land whole, never interleaved.
            line = (json.dumps(asdict(record)) + "\n").encode()
            descriptor = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(descriptor, line)
            finally:
                os.close(descriptor)
        return ticket

    def _generate(self, ticket: Ticket, delay: float) -> Ticket:
        """Wait for a slot and hold it ``delay`` seconds, as a busy server generating the answer would."""
        if self._slots.acquire(ticket, self._closing):
            try:
                # The client may be long gone (its timeout): like a real server, this does not notice.
                self._closing.wait(delay)  # close() cuts it short so shutdown is quick
            finally:
                self._slots.release(ticket)
        return ticket

    def _finish_record(self, record: RequestRecord, ticket: Ticket) -> None:
        """Fill in the slot times of the request's record (unless ``reset_accounting`` dropped it)."""
        with self._lock:
            for index in range(len(self._records) - 1, -1, -1):  # recent requests are near the end
                if self._records[index] is record:
                    self._records[index] = replace(record, queued=ticket.queued, generating=ticket.generating)
                    return

    def _claim_samples(self, messages: list[dict[str, Any]], n: int) -> int:
        """Reserve ``n`` consecutive ``n_seen`` values for these exact messages; returns the first."""
        key = json.dumps(messages, sort_keys=True)
        with self._lock:
            first = self._n_seen.get(key, 0)
            self._n_seen[key] = first + n
            return first

    # ---- request handling --------------------------------------------------------------------------

    def _handle(self, handler: _Handler, method: str) -> None:
        path = urlsplit(handler.path).path.rstrip("/")
        if method == "POST" and path == COMPLETIONS_PATH:
            self._serve_completion(handler, path)
            return
        handler.read_body()  # drained so the client is not cut off mid-upload
        config = self.config
        if not self._authorized(handler, config):
            reply = error_reply(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        elif method == "GET" and path == MODELS_PATH:
            model = {"id": config.model_id, "object": "model", "created": 0, "owned_by": "fake"}
            if config.model_root is not None:
                model["root"] = config.model_root
            reply = json_reply(200, {"object": "list", "data": [model]})
        elif method == "GET" and path == MODEL_INFO_PATH and config.model_info is not None:
            reply = json_reply(200, config.model_info)
        else:
            reply = error_reply(404, f"{method} {path} is not served by the fake model server",
                                "invalid_request_error", "not_found")
        self._note(RequestRecord(time.time(), path, "", "", reply.status, None))
        handler.send(reply)

    def _serve_completion(self, handler: _Handler, path: str) -> None:
        with self._lock:
            self._attempts += 1
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        try:
            decision = self._decide(handler, path)
            if decision.needs_slot:
                record = replace(decision.record, queued=None, generating=None)  # known once it is done
                ticket = self._note(record, decision.served, needs_slot=True)
                assert ticket is not None
                self._finish_record(record, self._generate(ticket, decision.delay))
            else:
                self._note(decision.record, decision.served)
        finally:
            # Leave before writing: a client holding its answer must never see its request still in flight.
            with self._lock:
                self._in_flight -= 1
        if decision.reply is not None:
            handler.send(decision.reply)
        else:
            handler.close_connection = True  # hang up: the socket closes with nothing written

    def _authorized(self, handler: _Handler, config: ServerConfig) -> bool:
        return config.api_key is None or handler.headers.get("Authorization") == f"Bearer {config.api_key}"

    def _decide(self, handler: _Handler, path: str) -> _Decision:
        config = self.config
        raw = handler.read_body()

        def invalid(message: str, status: int = 400, code: str | None = None, prompt: str = "",
                    model: str = "") -> _Decision:
            reply = error_reply(status, message, "invalid_request_error", code)
            return _Decision(reply, 0.0, RequestRecord(time.time(), path, prompt, model, status, None), False,
                             needs_slot=False)

        if not self._authorized(handler, config):
            return invalid("Incorrect API key provided.", 401, "invalid_api_key")
        try:
            body = json.loads(raw)
        except ValueError as err:
            return invalid(f"the request body is not JSON: {err}")
        if not isinstance(body, dict):
            return invalid("the request body must be a JSON object")
        messages, model, n = body.get("messages"), body.get("model"), body.get("n")
        n = 1 if n is None else n
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            return invalid("'messages' must be a list of message objects")
        if not isinstance(model, str):
            return invalid("'model' is required")
        prompt = last_user_text(messages)
        if config.strict_model and model != config.model_id:
            return invalid(f"The model `{model}` does not exist.", 404, "model_not_found", prompt, model)
        if body.get("stream"):
            return invalid("the fake model server does not stream; send stream=false", 400, None, prompt, model)
        if not isinstance(n, int) or n < 1:
            return invalid("'n' must be a positive integer", 400, None, prompt, model)
        max_tokens = requested_max_tokens(body)
        if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)
                                       or max_tokens < 1):
            return invalid("'max_tokens' must be a positive integer", 400, None, prompt, model)

        def record(status: int | None, fault: str | None) -> RequestRecord:
            return RequestRecord(time.time(), path, prompt, model, status, fault)

        prompt_size = prompt_tokens(messages)
        too_long = context_length_error(config.context_length, prompt_size, max_tokens)
        if too_long is not None:  # refused before scheduling, like the other invalid requests: no fault taken
            return _Decision(vllm_error_reply(400, too_long), 0.0, record(400, None), False, needs_slot=False)
        if max_tokens is None and config.context_length is not None:
            max_tokens = config.context_length - prompt_size  # what vLLM allows when the request sets no limit
        fault = self._take_fault()
        if fault is not None:
            reply, extra_delay = self._fault_reply(fault, model, messages, n, config.reasoning_field)
            status = reply.status if reply is not None else None
            served = fault.kind == "empty"  # a well-formed completion, just an empty one
            return _Decision(reply, config.latency + extra_delay, record(status, fault.kind), served)
        texts, failure = self._ask_responder(body, messages, model, n)
        if failure is not None:
            return _Decision(error_reply(500, failure, "server_error"), config.latency,
                             record(500, "responder_error"), False)
        payload = completion_payload(self._next_id(), model, messages, texts, max_tokens, config.reasoning_field)
        generating = config.latency + config.token_seconds * payload["usage"]["completion_tokens"]
        return _Decision(json_reply(200, payload), generating, record(200, None), True)

    def _fault_reply(self, fault: _Fault, model: str, messages: list[dict[str, Any]], n: int,
                     reasoning_field: str | None) -> tuple[Reply | None, float]:
        """What an injected fault answers (None: hang up), and the delay it adds to the latency."""
        if fault.kind == "rate_limit":
            headers = (("Retry-After", retry_after_header(fault.options["retry_after"])),)
            return error_reply(429, "Rate limit reached (injected by the fake model server).", "requests",
                               "rate_limit_exceeded", headers), 0.0
        if fault.kind == "server_error":
            status = int(fault.options["status"])
            return error_reply(status, f"Injected server error {status}.", "server_error"), 0.0
        if fault.kind == "timeout":
            # Whoever still listens after the delay learns it was on purpose; the SDK has timed out by then.
            return error_reply(504, "The fake model server held this answer back on purpose.",
                               "server_error"), float(fault.options["seconds"])
        if fault.kind == "disconnect":
            return None, 0.0
        if fault.kind == "malformed":
            return Reply(200, MALFORMED_BODY), 0.0
        if fault.kind == "bad_shape":
            payload = completion_payload(self._next_id(), model, messages, [])
            del payload["choices"]
            return json_reply(200, payload), 0.0
        assert fault.kind == "empty", fault.kind
        payload = completion_payload(self._next_id(), model, messages, [""] * n, reasoning_field=reasoning_field)
        return json_reply(200, payload), 0.0

    def _ask_responder(self, body: dict[str, Any], messages: list[dict[str, Any]], model: str,
                       n: int) -> tuple[list[str], str | None]:
        """The responder's ``n`` answers, or the reason it failed (which becomes a 500)."""
        with self._lock:
            responder = self._responder
        first = self._claim_samples(messages, n)
        texts = []
        for n_seen in range(first, first + n):
            request = Request(messages=messages, model=model, temperature=body.get("temperature"),
                              max_tokens=requested_max_tokens(body),
                              seed=body.get("seed"), n_seen=n_seen, body=body)
            try:
                text = responder(request)
            except Exception as err:  # the test's responder is at fault: say so in the 500
                return [], f"the responder raised {type(err).__name__}: {err}"
            if not isinstance(text, str):
                return [], f"the responder returned {type(text).__name__}, not str (a factory not called?)"
            texts.append(text)
        return texts, None

    def _next_id(self) -> str:
        with self._lock:
            self._completion_ids += 1
            return f"chatcmpl-fake-{self._completion_ids}"


# ---- command line ----------------------------------------------------------------------------------

def _read_json(path: str | None, what: str) -> Any:
    if path is None:
        raise SystemExit(f"--responder {what} needs --answers FILE.json")
    return json.loads(Path(path).read_text(encoding="utf-8"))


def reference_table(data: str) -> dict[str, str]:
    """Each problem's signature (unique in its prompt) -> the problem's reference answer in the
    benchmark's own library: a server that "knows" the library, to try the plugin without a GPU."""
    import tempfile

    from ..data.benchmark import load_benchmark
    from ..model.reference import reference_response

    benchmark = load_benchmark(data=data, docs=None, splits=("single_test", "multiple_test", "train"),
                               splits_explicit=False, rollouts=None, cache_dir=Path(tempfile.gettempdir()))
    return {problem.signature: reference_response(problem, benchmark.library) for problem in benchmark.problems}


def build_responder(args: argparse.Namespace) -> Responder:
    if args.responder == "echo":
        return echo_responder(args.text)
    if args.responder == "reference":
        return table_responder(reference_table(args.data), default=args.default)
    if args.responder == "table":  # the file: {"key": "answer" or ["answer", ...], ...}
        return table_responder(_read_json(args.answers, "table"), default=args.default)
    spec = _read_json(args.answers, "probability")  # {"correct": {...}, "wrong": {...}, "p_correct": {...}}
    return probability_responder(spec["correct"], spec["wrong"], spec["p_correct"], seed=args.seed)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pytest_sebench.testing.fake_server",
                                     description="An OpenAI-compatible fake model server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 (default): a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each completion")
    parser.add_argument("--token-seconds", type=float, default=0.0,
                        help="seconds added per word of each completion's answer")
    parser.add_argument("--model-id", default=ServerConfig.model_id)
    parser.add_argument("--api-key", default=None, help="require this bearer token")
    parser.add_argument("--slots", type=int, default=0,
                        help="completions generating at once, the rest queue (default 0: no limit)")
    parser.add_argument("--reasoning-field", choices=REASONING_FIELDS, default=None,
                        help="send a leading <think> block in this message field (default: left in content)")
    parser.add_argument("--context-length", type=int, default=None,
                        help="refuse (400) requests whose prompt + max_tokens words exceed this")
    parser.add_argument("--responder", choices=("echo", "table", "probability", "reference"), default="echo",
                        help="reference: answer each problem of --data with its reference solution")
    parser.add_argument("--data", default="fixtures/qel", help="reference: the benchmark folder")
    parser.add_argument("--text", default=DEFAULT_ANSWER, help="echo: the answer")
    parser.add_argument("--answers", help="table or probability: the JSON file of answers")
    parser.add_argument("--default", default="", help="table: the answer when no key matches")
    parser.add_argument("--seed", type=int, default=0, help="probability: the seed of the draws")
    parser.add_argument("--inject", action="append", default=[], metavar="KIND[:COUNT]",
                        help="fail the first COUNT (default 1) completions with KIND; repeatable")
    parser.add_argument("--log", help="append one JSON line per completion request to this file")
    parser.add_argument("--ready-file", help="write the base URL here once listening")
    return parser.parse_args(argv)


class _Terminate(Exception):
    pass


def _raise_terminate(signum: int, frame: object) -> None:
    raise _Terminate()  # unwinds the main thread's sleep into the cleanup below


def write_atomically(path: Path, text: str) -> None:
    """A reader polling ``path`` sees nothing or the whole text, never half of it."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    return ServerConfig(latency=args.latency, model_id=args.model_id, api_key=args.api_key, slots=args.slots,
                        reasoning_field=args.reasoning_field, context_length=args.context_length,
                        token_seconds=args.token_seconds)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server = FakeServer(build_responder(args), config_from_args(args), host=args.host, port=args.port,
                        log_path=args.log)
    for item in args.inject:
        kind, _, count = item.partition(":")
        server.inject(kind, int(count or 1))
    try:
        signal.signal(signal.SIGTERM, _raise_terminate)
        server.start()
        if args.ready_file:
            write_atomically(Path(args.ready_file), server.base_url)
        print(server.base_url, flush=True)
        while True:
            time.sleep(3600)
    except (_Terminate, KeyboardInterrupt):
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
