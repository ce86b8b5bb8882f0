"""The plugin against a real LLM server: llama.cpp's OpenAI-compatible server with Gemma 3 270M.

The model cannot solve our problems; these tests assert what any real run must show (every item
graded or errored for a stated reason, token counts and latencies from the server, nothing asked
twice, nothing abandoned by a queue), never the model's words. ``--sebench-max-tokens=48`` keeps an
answer to about two seconds on two cores; the server answers one request at a time, in arrival order.

They need the ``e2e`` extra (``pip install -e '.[e2e]'``) and skip without it;
``SEBENCH_REQUIRE_REAL_MODEL=1`` (CI) makes a missing extra or a server that does not start a failure.
Under xdist they all run on one worker (``xdist_group``, see conftest.py): one server, one queue.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import FIXTURE_DATA
from pytest_sebench.testing.llama_server import LlamaServer, missing

pytestmark = [pytest.mark.real_model, pytest.mark.xdist_group("real_model")]

MAX_TOKENS = 48
MODEL = "gemma-3-270m"
REQUESTS_LINE = re.compile(r"requests: \d+ sent: (\d+) answered, (\d+) failed; (\d+) retries, (\d+) abandoned")
PROGRESS_LINE = re.compile(r"^sebench progress: (\d+)/(\d+) answered")


def require_extra() -> None:
    reason = missing()
    if reason is None:
        return
    if os.environ.get("SEBENCH_REQUIRE_REAL_MODEL") == "1":
        pytest.fail(f"SEBENCH_REQUIRE_REAL_MODEL=1 but: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def llama(tmp_path_factory) -> LlamaServer:
    require_extra()
    with LlamaServer(n_ctx=1024, log_path=tmp_path_factory.mktemp("llama") / "server.log") as server:
        yield server


@pytest.fixture(scope="module")
def answer_seconds(llama, tmp_path_factory) -> float:
    """How long one answer takes on this machine now (it varies with the load): the slowest of three
    fixture problems, asked one at a time through the plugin."""
    folder = tmp_path_factory.mktemp("timing")
    report = folder / "r.json"
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    *plugin_args(llama, "-k", "single_test/0028 or single_test/0029 or single_test/0030",
                                 "--sebench-cache=off", "--sebench-concurrency=1", f"--sebench-report={report}")],
                   cwd=folder, capture_output=True, timeout=600)
    return max(sample["answer"]["latency"] for sample in all_samples(report))


def problems(count: int, split: str = "single_test") -> tuple[str, str]:
    return "-k", " or ".join(f"{split}/{index:04d}" for index in range(count))


def plugin_args(server: LlamaServer, *args: str) -> list[str]:
    return ["--sebench-model=" + MODEL, f"--sebench-base-url={server.base_url}",
            f"--sebench-data={FIXTURE_DATA}", f"--sebench-max-tokens={MAX_TOKENS}", "--sebench-backoff=0.2",
            "-p", "no:randomly", *args]


def requests_line(result: pytest.RunResult) -> tuple[int, int, int, int]:
    match = REQUESTS_LINE.search(result.stdout.str())
    assert match, result.stdout.str()
    answered, failed, retried, abandoned = map(int, match.groups())
    return answered, retried, failed, abandoned


def all_samples(report: Path) -> list[dict]:
    return [sample for item in json.loads(report.read_text())["items"] for sample in item["samples"]]


@pytest.mark.parametrize("mode, workers", [("closed", "-n0"), ("closed", "-n2"), ("open", "-n0"),
                                           ("open", "-n2")])
def test_every_sample_is_asked_once_and_graded(pytester, llama, mode, workers):
    report = pytester.path / "r.json"
    finished = llama.requests_finished()
    result = pytester.runpytest_subprocess(*plugin_args(
        llama, *problems(2), workers, f"--sebench-mode={mode}", "--sebench-samples=2", "--sebench-cache=off",
        f"--sebench-report={report}"), timeout=600)
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("failed", 0) == 2, result.stdout.str()
    assert "error" not in outcomes and "errors" not in outcomes
    assert requests_line(result) == (4, 0, 0, 0)
    assert llama.requests_finished() - finished == 4  # the server generated each answer once
    samples = all_samples(report)
    assert len(samples) == 4 and {sample["sample"] for sample in samples} == {0, 1}
    for sample in samples:
        answer = sample["answer"]
        assert answer["prompt_tokens"] > 50 and 0 < answer["completion_tokens"] <= MAX_TOKENS
        assert answer["latency"] > 0 and answer["finish_reason"] in ("stop", "length")
        assert answer["truncated"] == (answer["finish_reason"] == "length")
        assert isinstance(answer["response"], str) and sample["category"] != "error"
        if sample["taxonomy"] == "truncated":
            assert answer["truncated"] and sample["category"] == "without_zwc"
    data = json.loads(report.read_text())
    assert data["provenance"]["model"]["mode"] == mode
    assert data["summary"]["overall"]["truncated"] == sum(s["answer"]["truncated"] for s in samples)


def test_open_book_prompts_are_longer_by_the_docs(pytester, llama):
    tokens = {}
    for mode in ("closed", "open"):
        report = pytester.path / f"{mode}.json"
        pytester.runpytest_subprocess(*plugin_args(
            llama, *problems(1), f"--sebench-mode={mode}", "--sebench-cache=off", f"--sebench-report={report}"),
            timeout=600)
        tokens[mode] = all_samples(report)[0]["answer"]["prompt_tokens"]
    assert tokens["open"] > tokens["closed"] + 20  # the server counted the docs' tokens


@pytest.mark.parametrize("workers", ["-n0", "-n2"])
def test_a_queue_longer_than_the_request_timeout_loses_nothing(pytester, llama, answer_seconds, workers):
    """A request timeout of four answer times and a queue of twice as many answers, the
    default concurrency of 32: sent all at once, most would wait longer than that in the server's
    queue and be abandoned (and sent again at its back)."""
    timeout = max(5.0, 4 * answer_seconds)  # the load on a CI machine varies: room for a slower answer
    count = min(20, max(8, math.ceil(2 * timeout / answer_seconds)))
    report = pytester.path / "r.json"
    finished = llama.requests_finished()
    result = pytester.runpytest_subprocess(*plugin_args(
        llama, *problems(count), workers, f"--sebench-request-timeout={timeout:.1f}", "--sebench-cache=off",
        f"--sebench-report={report}", "--sebench-progress=lines", "--sebench-progress-interval=2"),
        timeout=900)
    assert requests_line(result) == (count, 0, 0, 0)  # none abandoned, none retried, none failed
    assert llama.requests_finished() - finished == count  # and the server generated nothing twice
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("failed", 0) == count and "errors" not in outcomes
    requests = json.loads(report.read_text())["requests"]
    assert requests["abandoned"] == 0 and requests["peak"] <= 4 * (1 if workers == "-n0" else 2)
    progress = [PROGRESS_LINE.match(line) for line in result.stdout.lines]
    counts = [int(match.group(1)) for match in progress if match]
    assert counts and counts == sorted(counts)  # the log heard from the run while answers arrived


def test_kill_mid_run_then_rerun_asks_only_for_what_never_arrived(pytester, llama, tmp_path):
    cache = tmp_path / "answers"
    command = [sys.executable, "-m", "pytest", *plugin_args(llama, *problems(6), f"--sebench-cache={cache}"),
               "-p", "no:cacheprovider", "-q"]
    process = subprocess.Popen(command, cwd=tmp_path, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while len(list(cache.glob("answers/*/*.json"))) < 2:
            assert process.poll() is None, "the run ended before it could be killed"
            time.sleep(0.1)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    saved = len(list(cache.glob("answers/*/*.json")))
    assert 2 <= saved < 6
    result = pytester.run(*command, timeout=600)
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("failed", 0) == 6 and "errors" not in outcomes
    answered, _, failed, abandoned = requests_line(result)
    assert (answered, failed, abandoned) == (6 - saved, 0, 0)
    assert len(list(cache.glob("answers/*/*.json"))) == 6


def test_a_server_refusing_every_prompt_stops_the_run_with_one_message(pytester, tmp_path):
    """Every prompt with the whole library's docs is longer than a 256-token context: llama.cpp
    refuses each request with a 400 ("maximum context length is 256 tokens")."""
    require_extra()
    report = pytester.path / "r.json"
    with LlamaServer(n_ctx=256, log_path=tmp_path / "short.log") as short:
        result = pytester.runpytest_subprocess(*plugin_args(
            short, "--sebench-split=single_test", "--sebench-mode=full", "--sebench-cache=off",
            f"--sebench-report={report}"), timeout=600)
        assert short.requests_finished() == 0
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert result.parseoutcomes().get("errors") == 1  # one message, not one ERROR per item
    output = result.stdout.str()
    assert "refused 3 requests in a row the same way" in output
    assert "The prompt alone is longer than the server's context of 256 tokens" in output
    summary = json.loads(report.read_text())["summary"]["overall"]
    assert summary["items"] == 31 and summary["errors"] == 31  # every item still counted
