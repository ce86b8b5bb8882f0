"""The concurrency window and the endpoint clock (model/pacing.py), without a server."""

from __future__ import annotations

import asyncio

from pytest_sebench.model.pacing import IN_ORDER, START_WINDOW, URGENT, EndpointClock, Window


def serve_serially(window: Window, answers: int, seconds: float = 10.0, tokens: int = 100) -> list[int]:
    """Feed the window what a serial server does to it: the first answer waits for nothing, then with
    n in flight each answer waited for the n - 1 ahead of it. Returns the window after each answer."""
    window.answered(seconds, tokens, sent_with=1)
    limits = []
    for _ in range(answers):
        n = window.limit
        window.answered(n * seconds, tokens, sent_with=n)
        limits.append(window.limit)
    return limits


def test_a_serial_server_keeps_the_window_small():
    window = Window(ceiling=32)
    limits = serve_serially(window, 50)
    assert max(limits) <= 3
    assert limits[-10:] == [2] * 10  # one answer generating, one waiting behind it: never idle


def test_a_parallel_server_opens_the_window_to_the_ceiling():
    window = Window(ceiling=16)
    for _ in range(40):
        window.answered(5.0, 100, sent_with=window.limit)  # as fast whatever the number in flight
    assert window.limit == 16


def test_the_window_only_grows_when_it_was_full():
    window = Window(ceiling=16)
    for _ in range(20):
        window.answered(5.0, 100, sent_with=1)  # one at a time: a wider window proves nothing
    assert window.limit == START_WINDOW


def test_pace_is_per_token_so_long_answers_do_not_look_like_queueing():
    window = Window(ceiling=8)
    for index in range(40):  # a parallel server: seconds grow with the answer's length, not with n
        tokens = 50 if index % 2 else 500
        window.answered(tokens * 0.02, tokens, sent_with=window.limit)
    assert window.limit == 8


def test_push_back_halves_and_never_goes_below_one():
    window = Window(ceiling=32, start=16)
    window.pushed_back()
    assert window.limit == 8
    for _ in range(10):
        window.pushed_back()
    assert window.limit == 1 and window.stats().shrinks == 4


def test_places_go_to_the_urgent_first_then_in_order():
    async def scenario() -> list[str]:
        window = Window(ceiling=1, start=1)
        order: list[str] = []
        await window.acquire()  # the one place is taken

        async def wait(name: str, priority: int) -> None:
            await window.acquire(priority)
            order.append(name)
            window.release()

        tasks = [asyncio.ensure_future(wait(name, priority))
                 for name, priority in (("third", IN_ORDER), ("fourth", IN_ORDER), ("urgent", URGENT))]
        await asyncio.sleep(0)
        window.release()
        await asyncio.gather(*tasks)
        return order

    assert asyncio.run(scenario()) == ["urgent", "third", "fourth"]


def test_a_cancelled_waiter_passes_its_place_on():
    async def scenario() -> int:
        window = Window(ceiling=1, start=1)
        await window.acquire()
        gone = asyncio.ensure_future(window.acquire())
        await asyncio.sleep(0)
        gone.cancel()
        window.release()
        await asyncio.wait_for(window.acquire(), timeout=5)  # not stuck behind the cancelled one
        return window.in_flight

    assert asyncio.run(scenario()) == 1


def test_the_clock_waits_while_the_endpoint_keeps_answering(tmp_path):
    """A request queued behind others is not abandoned while its endpoint answers them."""
    async def scenario() -> tuple[bool, bool]:
        clock = EndpointClock(tmp_path / "endpoints")
        slow = asyncio.ensure_future(asyncio.sleep(1.5))

        async def others() -> None:
            for _ in range(6):
                await asyncio.sleep(0.25)
                clock.answered("gpu1:8000")

        neighbours = asyncio.ensure_future(others())
        kept = await clock.wait(slow, "gpu1:8000", timeout=0.6)
        await neighbours
        silent = asyncio.ensure_future(asyncio.sleep(5))
        abandoned = not await clock.wait(silent, "gpu1:8000", timeout=0.3)
        silent.cancel()
        return kept, abandoned

    kept, abandoned = asyncio.run(scenario())
    assert kept and abandoned


def test_the_clock_is_shared_through_its_folder(tmp_path):
    first, second = EndpointClock(tmp_path), EndpointClock(tmp_path)
    assert second.last_answer("gpu1:8000") == 0.0
    first.answered("gpu1:8000")
    assert second.last_answer("gpu1:8000") > 0.0


def test_a_server_whose_time_ignores_the_length_is_not_taken_for_a_queue():
    window = Window(ceiling=8)
    for index in range(40):  # same seconds for every answer, very different lengths
        window.answered(0.5, 20 if index % 2 else 80, sent_with=window.limit)
    assert window.limit == 8
