"""Keep the model server busy: prefetch answers, in item order, as many at once as the server sustains.

Each process (the only one with ``-n0``, or each xdist worker) runs an asyncio loop in a background
thread. Its dispatcher walks the run's requests in item order and *claims* each one in the shared
:class:`AnswerCache` before asking, so no request is sent twice across workers and only the selected
items are asked for. How many are in flight is the process's adaptive window (``pacing.py``, at most
``ceil(C / workers)``); an item that waits for its answer now goes before the prefetched ones. An item
that needs an answer another process claimed waits for it to appear in the cache (or takes the claim
over if that process died). When the server is unusable, everything still waiting fails at once with
the cause; when it refuses every request the same way, the run stops (``ServerRefusesAll``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Callable

from .cache import AnswerCache
from .client import (ChatClient, Completion, Counters, Refused, RequestFailed, ServerRefusesAll,
                     ServerUnusable)
from .pacing import IN_ORDER, START_WINDOW, URGENT, Window
from .progress_snapshots import SNAPSHOT_SECONDS, process_name, snapshot_dir, write_snapshot

FATAL_KEY = "server-unusable"  # failure marker every process checks
REFUSED_KEY = "server-refuses-all"  # ... and the one that stops the run
POLL_SECONDS = 0.05
SAME_REFUSALS_TO_STOP = 3  # identical refusals in a row, with no answer between them


@dataclass(frozen=True)
class AnswerRequest:
    key: str
    prompt: str
    label: str  # "single_test/0042-amin#0": for messages


@dataclass(frozen=True)
class Answer:
    completion: Completion
    reused: bool  # asked by an earlier run (found in the answer cache), not by this one


class AnswerBroker:
    def __init__(self, client_factory: Callable[[Window], ChatClient], cache: AnswerCache,
                 concurrency: int, counters: Counters | None = None,
                 advice: Callable[[Refused], str] = lambda refusal: "", start_window: int = START_WINDOW) -> None:
        self.cache = cache
        self.concurrency = max(1, concurrency)
        self.start_window = start_window
        self.counters = counters or Counters()
        self.window: Window | None = None  # made in the loop's thread (asyncio futures live there)
        self._client_factory = client_factory
        self._advice = advice
        self._refusals: tuple[str, int] = ("", 0)  # the last refusal's pattern, and how often in a row
        # Refusals not yet told to the items: until an answer arrives or the refusals stop the run,
        # one of them may be the first of many (then only the stop is told, not an error per item).
        self._held: list[tuple[str, str]] = []
        self._client: ChatClient | None = None
        self._requests: list[AnswerRequest] = []
        self._cursor = 0
        self._positions: dict[str, int] = {}
        self._walking = False  # the walk (dispatcher) is running: items wait for it to reach theirs
        self._claimed: set[str] = set()  # keys this process took (items and fetchers race for them)
        self._claim_lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sebench-broker", daemon=True)
        self._fatal: str | None = None
        self._started = False
        self._stopping = False
        self._prefetching: Any = None
        self._progress = snapshot_dir(cache.run_id)
        self._present = 0  # requests already answered in the cache when asking began

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self, requests: list[AnswerRequest]) -> None:
        self._requests = list(requests)
        self._positions = {request.key: index for index, request in enumerate(self._requests)}
        self._walking = True
        self._thread.start()
        self._started = True
        if self._progress.is_dir():  # a display runs and wants our counts (progress_snapshots.py)
            asyncio.run_coroutine_threadsafe(self._report_progress(), self._loop)
        self._prefetching = asyncio.run_coroutine_threadsafe(self._prefetch(), self._loop)

    def close(self, grace: float | None = None) -> None:
        """Stop claiming, let the requests in flight finish (other xdist workers may be waiting for
        them: xdist ends a worker as soon as it has no items left), then release what is unanswered."""
        if not self._started:
            # Never started (the xdist controller, --collect-only, a server found unusable): no thread
            # runs the loop, but it holds a selector and a socket pair from __init__ all the same.
            if not self._loop.is_closed():
                self._loop.close()
            return
        self._stopping = True
        try:
            self._prefetching.result(timeout=grace)
        except Exception:  # timed out or failed: what is left is cancelled below
            pass

        async def cancel_the_rest() -> None:
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self._client is not None:
                await self._client.aclose()

        try:
            asyncio.run_coroutine_threadsafe(cancel_the_rest(), self._loop).result(timeout=10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()
            self._started = False
            self._release_held()
            for key in self._claimed:
                if self.cache.get(key) is None and self.cache.failure(key) is None:
                    self.cache.release(key)  # a waiting worker takes it over at once
            self.note_window()
            write_snapshot(self._progress, process_name(), self._snapshot())  # final

    # -- what items call (any thread) --------------------------------------------------------------

    def get(self, request: AnswerRequest) -> Answer:
        """Block until the answer is there; raises RequestFailed / ServerUnusable with the cause."""
        while True:
            completion = self.cache.get(request.key)
            if completion is not None:
                return Answer(completion, reused=completion.run != self.cache.run_id)
            self._raise_if_failed(request.key)
            # Nobody alive is asking and the walk is past it (its owner died): ask now.
            if (not self.cache.holder_alive(request.key) and not self._walk_will_reach(request.key)
                    and self._try_claim(request.key)):
                future = asyncio.run_coroutine_threadsafe(self._fetch(request, URGENT), self._loop)
                future.result()
                continue
            time.sleep(POLL_SECONDS)

    def _walk_will_reach(self, key: str) -> bool:
        """Whether this process's walk is still on its way to ``key``: then the request goes out in
        item order (asking at once could overtake the requests of earlier items at the server)."""
        return self._walking and self._positions.get(key, -1) >= self._cursor

    def declare_unusable(self, reason: str) -> None:
        """The server cannot be used (found so before asking): every item of every process of the run
        fails with ``reason`` (through the shared cache), and nothing is asked."""
        self._declare_fatal(reason)

    def stop_cause(self) -> str | None:
        """Why no more requests are sent in this run (by any of its processes), if they stopped."""
        return self._fatal or run_stop_cause(self.cache)

    def _raise_if_failed(self, key: str) -> None:
        refused = self.cache.failure(REFUSED_KEY)
        if refused:
            raise ServerRefusesAll(refused)
        fatal = self._fatal or self.cache.failure(FATAL_KEY)
        if fatal:
            raise ServerUnusable(fatal)
        reason = self.cache.failure(key)
        if reason:
            raise RequestFailed(reason)

    # -- the background loop -----------------------------------------------------------------------

    async def _prefetch(self) -> None:
        try:
            await self._walk()
        finally:
            self._walking = False

    async def _walk(self) -> None:
        try:
            self._client = self._client_factory(self._window())
            running: set[asyncio.Task[None]] = set()
            # One request is handed out per free place in the window, in item order; each runs as
            # its own task (the window, not the number of tasks, bounds what is in flight).
            while (request := await self._next_in_window()) is not None:
                sends = self._client.sends
                task = asyncio.ensure_future(self._ask(request, IN_ORDER))
                running.add(task)
                task.add_done_callback(running.discard)
                await self._client.until_sent(sends, task)  # in item order at the server too
            await asyncio.gather(*running)
            self._release_held()  # nothing more to ask: what was refused is refused
        except ServerUnusable as error:
            self._declare_fatal(str(error))
        except Exception as error:  # a bug or a broken setup: items must still end, as errors
            self._declare_fatal(f"the request broker failed: {type(error).__name__}: {error}")

    def _window(self) -> Window:
        if self.window is None:
            self.window = Window(self.concurrency, self.start_window)
        return self.window

    async def _next_in_window(self) -> AnswerRequest | None:
        """The next request to prefetch, once the window has room for it (None: nothing left)."""
        window = self._window()
        while window.in_flight >= window.limit or window.has_waiters():
            await window.changed()
        return self._next_unclaimed()

    def _next_unclaimed(self) -> AnswerRequest | None:
        while self._cursor < len(self._requests) and self._fatal is None and not self._stopping:
            request = self._requests[self._cursor]
            self._cursor += 1
            if self.cache.get(request.key) is None and self.cache.failure(request.key) is None \
                    and self._try_claim(request.key):
                return request
        return None

    def _try_claim(self, key: str) -> bool:
        """Take ``key`` for this process unless this process (or a live other one) already has it."""
        with self._claim_lock:
            if key in self._claimed or not self.cache.claim(key):
                return False
            self._claimed.add(key)
            return True

    async def _fetch(self, request: AnswerRequest, priority: int) -> None:
        if self._client is None:
            self._client = self._client_factory(self._window())
        await self._ask(request, priority)

    async def _ask(self, request: AnswerRequest, priority: int) -> None:
        assert self._client is not None
        try:
            completion = await self._client.complete(request.prompt, priority)
        except ServerUnusable as error:
            self._declare_fatal(str(error))
        except Refused as error:
            self.counters.failed += 1
            self._held.append((request.key, f"{request.label}: {error}"))
            self._count_refusal(error)
        except RequestFailed as error:
            self.counters.failed += 1
            self.cache.fail(request.key, f"{request.label}: {error}")
        else:
            self.cache.put(request.key, replace(completion, run=self.cache.run_id))
            self.counters.answered += 1
            self._refusals = ("", 0)
            self._release_held()  # the server does answer: those were refusals of their own

    def _release_held(self) -> None:
        held, self._held = self._held, []
        for key, reason in held:
            self.cache.fail(key, reason)

    def _count_refusal(self, refusal: Refused) -> None:
        """Stop the run when the server keeps refusing our requests for the same reason."""
        pattern, times = self._refusals
        times = times + 1 if refusal.pattern() == pattern else 1
        self._refusals = (refusal.pattern(), times)
        if times >= SAME_REFUSALS_TO_STOP and self._fatal is None:
            reason = (f"the model server refused {times} requests in a row the same way, so no more "
                      f"were sent: {refusal}")
            advice = self._advice(refusal)
            self.cache.fail(REFUSED_KEY, f"{reason.rstrip('.')}. {advice}" if advice else reason)
            self._declare_fatal(reason)
        elif self._fatal is None and self.window is not None and self.window.in_flight == 0 and \
                (self._stopping or self._cursor >= len(self._requests)):
            self._release_held()  # too few requests left to tell a pattern: each is its item's error

    async def _report_progress(self) -> None:
        """This process's counts for the live display, rewritten at most every SNAPSHOT_SECONDS."""
        # Answers already cached are not asked for: the display's bar must not wait for them. A stat
        # per request (the cache's own path for a key; no read, no parse) is cheap even for 10k.
        # It runs before any fetcher of this loop, so this process has asked for none of them yet.
        self._present = sum(self.cache.holds(request.key) for request in self._requests)
        written: dict[str, int] | None = None
        while True:
            snapshot = self._snapshot()
            if snapshot != written:
                write_snapshot(self._progress, process_name(), snapshot)
                written = snapshot
            await asyncio.sleep(SNAPSHOT_SECONDS)

    def note_window(self) -> None:
        """Put the window's figures in the counters (they are read at the end, and by the display)."""
        if self.window is not None:
            stats = self.window.stats()
            # a window wider than it was ever filled says nothing about the server: report what was used
            self.counters.limit, self.counters.ceiling, self.counters.peak = \
                min(stats.limit, stats.peak), stats.ceiling, stats.peak

    def _snapshot(self) -> dict[str, int]:
        self.note_window()
        in_flight = self.window.in_flight if self.window is not None else 0  # sent, not yet answered
        return {**self.counters.to_json(), "in_flight": in_flight,
                "planned": len(self._requests), "present": self._present}

    def _declare_fatal(self, reason: str) -> None:
        if self._fatal is None:
            self._fatal = reason
            self.cache.fail(FATAL_KEY, reason)


def run_stop_cause(cache: AnswerCache) -> str | None:
    """Why the run's processes stopped asking, as they told the shared cache (None: they did not)."""
    return cache.failure(REFUSED_KEY) or cache.failure(FATAL_KEY)
