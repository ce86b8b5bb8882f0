"""What the report keeps of a served model's response: the raw text, the reasoning apart, the finish
reason; answers cut at max_tokens; and how much of it --sebench-report-responses keeps."""

from __future__ import annotations

import json

import pytest

from conftest import FIXTURE_DATA
from test_served_run import BENCH, WRONG, correct_answers

from pytest_sebench.testing import FakeServer, ServerConfig, table_responder

WORKERS = ["-n0", "-n2"]
FIRST_TWO = ("-k", "single_test/0000 or single_test/0001")
PROSE = "\n".join(f"Line {index} of an explanation without any code block." for index in range(40))


def run(pytester: pytest.Pytester, server: FakeServer, *args: str) -> tuple[pytest.RunResult, dict]:
    report = pytester.path / "r.json"
    result = pytester.runpytest_subprocess(
        "--sebench-model=ckpt", f"--sebench-base-url={server.base_url}", f"--sebench-data={FIXTURE_DATA}",
        "--sebench-cache=off", f"--sebench-report={report}", *FIRST_TWO, *args)
    return result, json.loads(report.read_text())


def samples(report: dict) -> list[dict]:
    return [sample for item in report["items"] for sample in item["samples"]]


def with_thoughts(answers: dict[str, str]) -> dict[str, str]:
    return {key: f"<think>Plan for {key}: use the library.</think>\n{answer}" for key, answer in answers.items()}


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("field", [None, "reasoning_content", "reasoning"])
def test_reasoning_is_kept_apart_from_the_answer(pytester, workers, field):
    config = ServerConfig(reasoning_field=field)
    with FakeServer(table_responder(with_thoughts(correct_answers())), config) as server:
        result, report = run(pytester, server, workers)
    result.assert_outcomes(passed=2)
    for sample in samples(report):
        answer = sample["answer"]
        assert answer["reasoning"].startswith("Plan for ") and "<think>" not in answer["response"]
        assert answer["response"].lstrip().startswith("```python") and answer["finish_reason"] == "stop"
        assert answer["truncated"] is False
        # counted apart only where the server says so (a reasoning parser); inline thoughts are not
        assert (answer["reasoning_tokens"] or 0) > 0 if field else answer["reasoning_tokens"] is None


def test_an_answer_cut_at_max_tokens_is_flagged_and_counted(pytester):
    thinking_long = {key: "<think>" + " step" * 200 + "</think>" + answer
                     for key, answer in correct_answers().items()}
    with FakeServer(table_responder(thinking_long)) as server:
        result, report = run(pytester, server, "--sebench-max-tokens=40")
    result.assert_outcomes(failed=2)
    for sample in samples(report):
        assert sample["answer"]["finish_reason"] == "length" and sample["answer"]["truncated"] is True
        assert sample["category"] == "without_zwc" and sample["taxonomy"] == "truncated"
    assert report["summary"]["overall"]["truncated"] == 2
    assert report["taxonomy"]["truncated"]["count"] == 2
    result.stdout.fnmatch_lines([
        "*without_zwc/truncated*",
        "*no fenced Python block in the answer; it was cut at max_tokens after 40 tokens*",
        "*reasoning (last lines):*",
        "2 of 2 answers were cut at max_tokens=40*--sebench-max-tokens*"])


def test_a_failure_without_code_shows_the_head_and_tail_of_the_response(pytester):
    with FakeServer(table_responder({}, default=PROSE)) as server:
        result, report = run(pytester, server)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*without_zwc/no_code*", "*response (head and tail):*",
                                 "*Line 0 of an explanation*", "*lines omitted*", "*Line 39 of an explanation*"])
    assert all(sample["answer"]["response"] == PROSE for sample in samples(report))
    assert "truncated" not in result.stdout.str().split("SE-Bench summary")[1]


@pytest.mark.parametrize("keep, right_kept, wrong_kept", [("all", True, True), ("failed", False, True),
                                                          ("none", False, False)])
def test_report_responses_option(pytester, keep, right_kept, wrong_kept):
    answers = {key: [answer, WRONG] for key, answer in correct_answers().items()}  # right, then wrong
    with FakeServer(table_responder(answers), ServerConfig(reasoning_field="reasoning")) as server:
        _, report = run(pytester, server, "--sebench-samples=2", f"--sebench-report-responses={keep}")
    for sample in samples(report):
        kept = "response" in sample["answer"]
        assert kept == (right_kept if sample["passed"] else wrong_kept)
        assert sample["answer"]["finish_reason"] == "stop"  # the small facts stay either way
    assert {sample["passed"] for sample in samples(report)} == {True, False}


def test_save_correct_keeps_its_responses_whatever_the_report_keeps(pytester):
    sft = pytester.path / "sft.jsonl"
    with FakeServer(table_responder(correct_answers())) as server:
        _, report = run(pytester, server, "--sebench-report-responses=none", f"--sebench-save-correct={sft}")
    assert all("response" not in sample["answer"] for sample in samples(report))
    lines = [json.loads(line) for line in sft.read_text().splitlines()]
    assert len(lines) == 2 and all(line["response"].startswith("```python") for line in lines)


def test_inline_think_cut_mid_way_is_all_reasoning(pytester):
    cut = {key: "<think>Let me write " + answer for key, answer in correct_answers().items()}  # never closed
    with FakeServer(table_responder(cut)) as server:
        result, report = run(pytester, server)
    result.assert_outcomes(failed=2)  # the code inside unfinished thoughts is not the answer
    assert all(sample["answer"]["response"] == "" for sample in samples(report))
    assert BENCH.library.name in samples(report)[0]["answer"]["reasoning"]
