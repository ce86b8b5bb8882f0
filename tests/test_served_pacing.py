"""A served model that answers one request at a time, and one that refuses every request.

The fake server stands in for llama.cpp on a laptop (``slots=1``: requests queue inside it) and for a
vLLM whose context is shorter than prompt + max_tokens. The real llama.cpp server runs the same
scenarios in tests/test_real_model.py.
"""

from __future__ import annotations

import json
import statistics

import pytest

from conftest import FIXTURE_DATA
from test_served_run import BENCH, correct_answers

from pytest_sebench.testing import FakeServer, ServerConfig, table_responder

WORKERS = ["-n0", "-n2"]
SINGLE = [problem for problem in BENCH.problems if problem.split == "single_test"]
ANSWER_WORDS = statistics.mean(len(answer.split()) for answer in correct_answers().values())


def run(pytester: pytest.Pytester, server: FakeServer, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "--sebench-model=ckpt", f"--sebench-base-url={server.base_url}", f"--sebench-data={FIXTURE_DATA}",
        "--sebench-split=single_test", "--sebench-backoff=0.01", "--sebench-cache=off", *args)


def item_index(prompt: str) -> int:
    return next(index for index, problem in enumerate(SINGLE) if problem.signature in prompt)


def completion_prompts(server: FakeServer) -> list[str]:
    return [record.prompt for record in server.requests if record.path.endswith("completions")]


@pytest.mark.parametrize("workers", WORKERS)
def test_a_serial_server_is_asked_in_item_order_and_nothing_is_abandoned(pytester, workers):
    # Each answer takes about 0.25 s (its time grows with its length, as on a real server) and the
    # request timeout is 1 s: with every request sent at once, all but the first four would wait
    # longer than that in the server's queue and be abandoned.
    config = ServerConfig(latency=0.05, token_seconds=0.2 / ANSWER_WORDS, slots=1)
    report = pytester.path / "r.json"
    with FakeServer(table_responder(correct_answers()), config) as server:
        result = run(pytester, server, workers, "--sebench-request-timeout=1", f"--sebench-report={report}")
        result.assert_outcomes(passed=len(SINGLE))
        assert server.completion_attempts == len(SINGLE)  # none abandoned and sent again
        # the window stayed small: about 2 per asking process (4 at a passing peak), not the 32 allowed
        assert server.max_in_flight <= 4 * (1 if workers == "-n0" else 2)
        prompts = completion_prompts(server)
    asked = [item_index(prompt) for prompt in prompts]
    assert sorted(asked) == list(range(len(SINGLE)))
    # in item order; two workers walk the same order, each with its own window of two or three
    if workers == "-n0":  # the first item among the first two: the window's first two requests go out
        # together, on two connections, and the server may take either first
        assert 0 in asked[:2] and all(abs(item - position) <= 1 for position, item in enumerate(asked))
    else:
        assert all(abs(item - position) <= 4 for position, item in enumerate(asked))
    result.stdout.fnmatch_lines([f"requests: {len(SINGLE)} sent: {len(SINGLE)} answered, 0 failed; 0 retries, "
                                 "0 abandoned after a timeout; concurrency settled at *"])
    requests = json.loads(report.read_text())["requests"]
    assert requests["abandoned"] == 0 and 1 <= requests["limit"] <= requests["ceiling"]


def test_a_queued_request_is_not_abandoned_while_the_server_answers_the_ones_ahead(pytester):
    # The window starts at two, so the second request waits a whole answer (0.4 s) in the queue and
    # is answered 0.8 s after it was sent; with a 0.6 s timeout it still is not abandoned, because
    # the server answered the one ahead of it meanwhile.
    with FakeServer(table_responder(correct_answers()), ServerConfig(latency=0.4, slots=1)) as server:
        result = run(pytester, server, "-k", "0000 or 0001 or 0002 or 0003", "--sebench-request-timeout=0.6")
        result.assert_outcomes(passed=4)
        assert server.completion_attempts == 4
        waited = [record.queued for record in server.requests if record.queued]
        assert max(waited) > 0.2  # some request did wait in the queue


def test_a_silent_server_still_times_out(pytester):
    with FakeServer(table_responder(correct_answers()), ServerConfig(latency=0.1)) as server:
        server.inject("timeout", count=1, seconds=5)
        result = run(pytester, server, "-k", "0000", "--sebench-request-timeout=0.5")
        result.assert_outcomes(passed=1)
        assert server.completion_attempts == 2
    result.stdout.fnmatch_lines(["requests: 1 sent: 1 answered, 0 failed; 1 retries, 1 abandoned*"])


@pytest.mark.parametrize("workers", WORKERS)
def test_a_server_refusing_every_request_stops_the_run_with_one_message(pytester, workers):
    # vLLM with a 400-token context: prompt + max_tokens never fits, every request gets the same 400.
    report = pytester.path / "r.json"
    with FakeServer(table_responder(correct_answers()), ServerConfig(context_length=400)) as server:
        result = run(pytester, server, workers, "--sebench-max-tokens=500", f"--sebench-report={report}")
        attempts = server.completion_attempts
    outcomes = result.parseoutcomes()
    assert 1 <= outcomes.get("errors", 0) <= (1 if workers == "-n0" else 2)  # one per asking process at most
    assert "passed" not in outcomes and "failed" not in outcomes
    assert attempts <= 3 * (1 if workers == "-n0" else 2) + 4  # a few refusals, then nobody asks
    assert result.ret == pytest.ExitCode.INTERRUPTED
    output = result.stdout.str()
    assert "Interrupted: " in output and "refused 3 requests in a row the same way" in output
    assert "Lower --sebench-max-tokens (now 500) (at most " in output and "maximum context length is 400" in output
    data = json.loads(report.read_text())
    overall = data["summary"]["overall"]
    assert overall["items"] == len(SINGLE) and overall["errors"] == len(SINGLE)  # nothing left out
    reasons = [item["samples"][0]["reason"] for item in data["items"]]
    assert sum("not run: the run stopped early" in reason for reason in reasons) >= len(SINGLE) - 2
