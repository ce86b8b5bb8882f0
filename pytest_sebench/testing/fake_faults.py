"""Faults the fake model server can be told to inject, and what each one answers.

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
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .fake_answers import MALFORMED_BODY, Reply, completion_payload, error_reply, json_reply, retry_after_header

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


@dataclass
class Fault:
    kind: str
    remaining: int  # requests it will still intercept
    options: dict[str, Any]


class FaultQueue:
    """Injected faults in order; each request that may be faulted takes one from the front."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def inject(self, kind: str, count: int = 1, **options: Any) -> None:
        if kind not in FAULT_OPTIONS:
            raise ValueError(f"inject: unknown fault {kind!r}; known: {', '.join(FAULT_KINDS)}")
        if count < 1:
            raise ValueError(f"inject: count must be at least 1, not {count}")
        unknown = set(options) - set(FAULT_OPTIONS[kind])
        if unknown:
            raise TypeError(f"inject: {kind!r} takes {sorted(FAULT_OPTIONS[kind])}, not {sorted(unknown)}")
        with self._lock:
            self._faults.append(Fault(kind, count, {**FAULT_OPTIONS[kind], **options}))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending(self) -> int:
        with self._lock:
            return sum(fault.remaining for fault in self._faults)

    def take(self) -> Fault | None:
        """The fault for the request at hand (counted as used), or None when none is pending."""
        with self._lock:
            if not self._faults:
                return None
            fault = self._faults[0]
            fault.remaining -= 1
            if fault.remaining == 0:
                self._faults.pop(0)
            return fault


def fault_reply(fault: Fault, next_id: Callable[[], str], model: str, messages: list[dict[str, Any]], n: int,
                reasoning_field: str | None) -> tuple[Reply | None, float]:
    """What an injected fault answers (None: hang up), and the delay it adds to the latency.
    ``next_id`` gives a completion id; it is asked only by the faults that send a completion."""
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
        payload = completion_payload(next_id(), model, messages, [])
        del payload["choices"]
        return json_reply(200, payload), 0.0
    assert fault.kind == "empty", fault.kind
    payload = completion_payload(next_id(), model, messages, [""] * n, reasoning_field=reasoning_field)
    return json_reply(200, payload), 0.0
