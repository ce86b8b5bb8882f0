"""Generation slots for the fake model server: how many completions it works on at once.

A real serial server (llama.cpp's, say) generates a fixed number of answers at a time and queues the
rest; a request's latency then depends on how many arrived before it. ``SlotPool`` models that: each
completion request takes a ``Ticket`` when it arrives, waits until it is first in line and a slot is
free, holds the slot while it "generates" (sleeps its latency), and gives it back. With a limit of 0
no one waits, but generation is still accounted, so ``busy_seconds`` and ``max_generating`` mean the
same thing whether or not the server is limited.

Standard library only, like the rest of ``pytest_sebench.testing``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass


@dataclass
class Ticket:
    """One request's place in line, and when it got (and gave back) its slot; times are ``time.monotonic()``."""

    arrived: float
    started: float | None = None  # None: still waiting, or never got a slot (the server closed first)
    finished: float | None = None

    @property
    def queued(self) -> float:
        """Seconds spent waiting for a slot (so far, while still waiting)."""
        return (self.started if self.started is not None else time.monotonic()) - self.arrived

    @property
    def generating(self) -> float:
        """Seconds spent holding a slot (0 before getting one)."""
        if self.started is None:
            return 0.0
        return (self.finished if self.finished is not None else time.monotonic()) - self.started


class SlotPool:
    """At most ``limit`` holders at once (0: no limit), granted in order of ``enqueue``."""

    def __init__(self, limit: int = 0) -> None:
        self._changed = threading.Condition()  # notified whenever someone may now start
        self._limit = limit
        self._line: deque[Ticket] = deque()  # tickets waiting for a slot, oldest first
        self._generating = self._max_generating = 0
        self._busy_before = 0.0  # busy seconds of the busy periods that are over
        self._busy_since: float | None = None  # start of the current busy period (someone generating)

    def set_limit(self, limit: int) -> None:
        with self._changed:
            self._limit = limit
            self._changed.notify_all()  # more slots: the next in line may start now

    def interrupt(self) -> None:
        """Wake every waiter so it can see that the server is closing (its ``closing`` event is set)."""
        with self._changed:
            self._changed.notify_all()

    def enqueue(self) -> Ticket:
        """Join the line. The caller must then ``acquire`` (which also leaves the line if it never starts)."""
        ticket = Ticket(time.monotonic())
        with self._changed:
            self._line.append(ticket)
        return ticket

    def acquire(self, ticket: Ticket, closing: threading.Event) -> bool:
        """Wait for a slot; ``False`` (and out of line, holding nothing) if ``closing`` is set first."""
        with self._changed:
            try:
                while not self._may_start(ticket):
                    if closing.is_set():
                        return False
                    self._changed.wait()
                self._start(ticket)
                return True
            finally:
                if ticket.started is None:  # gave up, or failed while waiting: do not block those behind
                    self._line.remove(ticket)
                    self._changed.notify_all()

    def release(self, ticket: Ticket) -> None:
        with self._changed:
            now = time.monotonic()
            ticket.finished = now
            self._generating -= 1
            if self._generating == 0 and self._busy_since is not None:
                self._busy_before += now - self._busy_since
                self._busy_since = None
            self._changed.notify_all()

    def _may_start(self, ticket: Ticket) -> bool:
        if self._limit == 0:
            return True  # unlimited: nobody waits, not even behind a ticket still on its way to acquire
        return self._line[0] is ticket and self._generating < self._limit

    def _start(self, ticket: Ticket) -> None:
        now = time.monotonic()
        self._line.remove(ticket)  # the head, except when unlimited
        ticket.started = now
        if self._generating == 0:
            self._busy_since = now
        self._generating += 1
        self._max_generating = max(self._max_generating, self._generating)
        self._changed.notify_all()  # with several slots free, the next in line may start too

    # ---- accounting --------------------------------------------------------------------------------

    @property
    def generating(self) -> int:
        with self._changed:
            return self._generating

    @property
    def max_generating(self) -> int:
        with self._changed:
            return self._max_generating

    @property
    def waiting(self) -> int:
        with self._changed:
            return len(self._line)

    @property
    def busy_seconds(self) -> float:
        """Seconds during which at least one slot was held: the union of the generating intervals."""
        with self._changed:
            current = time.monotonic() - self._busy_since if self._busy_since is not None else 0.0
            return self._busy_before + current

    def reset_accounting(self) -> None:
        """Start ``max_generating`` and ``busy_seconds`` over from now (holders keep their slots)."""
        with self._changed:
            self._max_generating = self._generating
            self._busy_before = 0.0
            if self._busy_since is not None:
                self._busy_since = time.monotonic()
