"""What the fake model server counts: one record per request, counters, and an optional log file.

``requests`` is a snapshot of one ``RequestRecord`` per HTTP request, taken when the server has
decided its answer (before queueing, latency and delays), so a request whose client gave up still
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
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from .fake_config import COMPLETIONS_PATH
from .fake_slots import SlotPool, Ticket


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


class Accounting:
    """The records and counters of one server, safe to read while requests arrive.

    A request that will generate joins the ``slots`` line when its record is written, under the same
    lock, so that the line's order is the order of ``requests``.
    """

    def __init__(self, slots: SlotPool, log_path: Path | None) -> None:
        self.slots = slots
        self.log_path = log_path
        self._lock = threading.Lock()  # guards everything below
        self._records: list[RequestRecord] = []
        self._attempts = self._served = self._in_flight = self._max_in_flight = 0

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot (a new list) of the records so far."""
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

    def arrived(self) -> None:
        """A completion request came in: one more attempt, one more in flight."""
        with self._lock:
            self._attempts += 1
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def left(self) -> None:
        """A completion request is about to be answered (or hung up on): no longer in flight."""
        with self._lock:
            self._in_flight -= 1

    def reset(self) -> None:
        """Forget records and counters (not what is in flight now)."""
        with self._lock:
            self._records.clear()
            self._attempts = self._served = 0
            self._max_in_flight = self._in_flight
            self.slots.reset_accounting()

    def note(self, record: RequestRecord, served: bool = False, needs_slot: bool = False) -> Ticket | None:
        """Record a decided request; one that will generate also joins the line for a slot (its ticket)."""
        with self._lock:
            self._records.append(record)
            self._served += served
            ticket = self.slots.enqueue() if needs_slot else None
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

    def finish(self, record: RequestRecord, ticket: Ticket) -> None:
        """Fill in the slot times of the request's record (unless ``reset`` dropped it)."""
        with self._lock:
            for index in range(len(self._records) - 1, -1, -1):  # recent requests are near the end
                if self._records[index] is record:
                    self._records[index] = replace(record, queued=ticket.queued, generating=ticket.generating)
                    return
