"""How many requests to keep in flight, in which order, and when a request has waited too long.

A model server may answer one request at a time (llama.cpp on a laptop, a small GPU box) or dozens
(vLLM, SGLang). Sending ``--sebench-concurrency`` requests at once to a serial server only builds a
queue inside it: the answers come back in the server's order, not the items', and the requests at the
back time out although the server is healthy. So each asking process adapts:

- :class:`Window` keeps a concurrency *window*. It starts small and grows by one per answer while
  answers come at most 1.5x slower per generated token than the fastest pace seen; past 2.5x it
  shrinks by one; a timeout, 429 or 503 halves it. It never exceeds the ceiling
  (``--sebench-concurrency`` shared among the xdist workers). On a serial server n requests in flight
  make each answer n times slower, so the window settles at 2: one answer generating, one waiting,
  the server never idle and never holding a long queue. A batching server (vLLM, SGLang) slows
  down only a little per request added, so the window grows far (to the ceiling unless the batch
  makes every answer 1.5x slower). This is TCP Vegas's idea with a throughput-friendly threshold.
  The pace is measured per answer and per generated token, and the smaller slowdown counts: answers
  of different lengths take different times, and some servers' times do not follow the length.
- Free places in the window go to the most urgent request first: an item that is waiting for its
  answer now, then the run's requests in item order (see ``broker.py``).
- :class:`EndpointClock` measures a request's timeout from the later of its sending and the last
  answer its endpoint gave (to any process of the run): time spent queued behind our own earlier
  requests does not count, so a busy serial server never makes us abandon (and resend) a request that
  it will answer in turn. A server that gives no answer at all for ``--sebench-request-timeout``
  seconds still times out.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

START_WINDOW = 2  # a serial server is kept busy from the first answer; a parallel one grows from here
SMOOTHING = 0.3  # weight of the newest answer in the moving average of seconds per token
GROW_BELOW = 1.5  # slowdown (recent pace / fastest pace): grow while below this
SHRINK_ABOVE = 2.5  # ... and shrink by one while above this

URGENT = 0  # priority of an item that waits for its answer now
IN_ORDER = 1  # priority of a prefetched request (among them, the first come first)


@dataclass
class WindowStats:
    """What the closing ``requests:`` line and the progress display say about the window."""

    limit: int
    ceiling: int
    peak: int  # most requests this process had in flight at once
    shrinks: int  # times the window shrank because answers slowed down or the server pushed back


class Window:
    """The adaptive concurrency window of one asking process (one asyncio loop)."""

    def __init__(self, ceiling: int, start: int = START_WINDOW) -> None:
        self.ceiling = max(1, ceiling)
        self.limit = min(self.ceiling, max(1, start))
        self.in_flight = 0
        self.peak = 0
        self.shrinks = 0
        # The pace of answers two ways: seconds per answer and seconds per generated token; for each,
        # the fastest seen (the unqueued pace) and a moving average.
        self._fastest: list[float] = []
        self._average: list[float] = []
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._change: asyncio.Event | None = None  # set when a place may have come free

    # -- places --------------------------------------------------------------------------------

    async def acquire(self, priority: int = IN_ORDER) -> None:
        """Wait for a place in the window; the lowest ``priority`` (then the earliest) goes first."""
        if self.in_flight < self.limit and not self._waiters:
            self._take()
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._order), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():  # it was given a place just now: pass it on
                self.release()
            raise

    def release(self) -> None:
        self.in_flight -= 1
        self._wake()

    def has_waiters(self) -> bool:
        return any(not future.done() for _, _, future in self._waiters)

    async def changed(self) -> None:
        """Return once a place may have come free (a release, or a wider window)."""
        if self._change is None:
            self._change = asyncio.Event()
        self._change.clear()
        await self._change.wait()

    def _take(self) -> None:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)

    def _wake(self) -> None:
        while self._waiters and self.in_flight < self.limit:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                self._take()
                future.set_result(None)
        if self._change is not None:
            self._change.set()

    # -- adapting ------------------------------------------------------------------------------

    def answered(self, seconds: float, tokens: int | None, sent_with: int) -> None:
        """An answer came after ``seconds``; ``sent_with`` requests were in flight when it was sent
        (itself included)."""
        seconds = max(seconds, 1e-6)
        paces = [seconds, seconds / max(1, tokens) if tokens else seconds]
        if not self._fastest:
            self._fastest, self._average = list(paces), list(paces)
        self._fastest = [min(fastest, pace) for fastest, pace in zip(self._fastest, paces, strict=True)]
        self._average = [SMOOTHING * pace + (1 - SMOOTHING) * average
                         for average, pace in zip(self._average, paces, strict=True)]
        # Queueing slows both measures alike. Answers of different lengths make seconds per answer
        # vary, a server whose time does not follow the length makes seconds per token vary: the
        # smaller slowdown is the one that is not such an artefact.
        slowdown = min(average / fastest for average, fastest in zip(self._average, self._fastest, strict=True))
        if slowdown > SHRINK_ABOVE and self.limit > 1:
            self.limit -= 1
            self.shrinks += 1
        elif slowdown < GROW_BELOW and sent_with >= self.limit and self.limit < self.ceiling:
            self.limit += 1  # only when the window was full: an unused window proves nothing
            self._wake()

    def pushed_back(self) -> None:
        """A timeout, 429 or 503: the server has more than it can take; halve the window."""
        if self.limit > 1:
            self.limit = max(1, self.limit // 2)
            self.shrinks += 1
        # the moving average holds answers that waited in the queue we just gave up on
        self._average = list(self._fastest)

    def stats(self) -> WindowStats:
        return WindowStats(self.limit, self.ceiling, self.peak, self.shrinks)


class EndpointClock:
    """When each endpoint last gave an answer, as seen by every process of the run.

    Each process keeps its own times and touches one file per endpoint in ``folder`` (shared by the
    run's xdist workers) on every answer; the file's modification time tells the others. Read only
    when a request's deadline comes, so it costs nothing on the way.
    """

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._last: dict[str, float] = {}

    def answered(self, endpoint: str) -> None:
        now = time.time()
        self._last[endpoint] = now
        if self.folder is not None:
            path = self._path(endpoint)
            try:
                path.touch()
            except FileNotFoundError:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch()
            except OSError:
                pass  # the other processes then see only their own answers: still correct, less lenient

    def last_answer(self, endpoint: str) -> float:
        last = self._last.get(endpoint, 0.0)
        if self.folder is not None:
            try:
                last = max(last, self._path(endpoint).stat().st_mtime)
            except OSError:
                pass
        return last

    def _path(self, endpoint: str) -> Path:
        assert self.folder is not None
        return self.folder / endpoint.replace(os.sep, "_").replace(":", "_")

    async def wait(self, task: asyncio.Future[Any], endpoint: str, timeout: float) -> bool:
        """Wait for ``task``; False when it ran out of time: ``timeout`` seconds passed since it was
        sent and since its endpoint last answered anyone."""
        sent = time.time()
        while not task.done():
            deadline = max(sent, self.last_answer(endpoint)) + timeout
            remaining = deadline - time.time()
            if remaining <= 0:
                return False
            await asyncio.wait({task}, timeout=remaining)
        return True
