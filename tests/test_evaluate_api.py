"""``pytest_sebench.evaluate``: a whole run from Python (a training loop's evaluation callback) and the
gate on two reports, against the fake model server through the real openai client."""

from __future__ import annotations

import json

import pytest

from conftest import FIXTURE_DATA
from gate_runs import SINGLE, right_answer, wrong_answer
from pytest_sebench.evaluate import EvaluationError, compare, evaluate
from pytest_sebench.testing import FakeServer, table_responder

FOUR = SINGLE[:4]


def options(server: FakeServer, cache) -> dict:
    return {"base_url": server.base_url, "data": str(FIXTURE_DATA), "splits": ["single_test"], "samples": 2,
            "cache": str(cache), "backoff": 0.01, "pytest_args": ["-k", "0000 or 0001 or 0002 or 0003"]}


def table(solved: int) -> dict:
    """The first ``solved`` of the four problems answered right, the others wrong."""
    return {p.signature: right_answer(p) if index < solved else wrong_answer(p) for index, p in enumerate(FOUR)}


def test_a_run_from_python_returns_its_report(tmp_path, monkeypatch):
    path = tmp_path / "step-100.json"
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))  # a training job under GitHub Actions
    with FakeServer(table_responder(table(4), default="no idea")) as server:
        report = evaluate("ckpt", report=path, model_revision="step-100", workers=0, **options(server, tmp_path / "c"))
        asked = server.completion_attempts
        again = evaluate("ckpt", model_revision="step-100", workers=2, **options(server, tmp_path / "c"))
        assert server.completion_attempts == asked  # the second run took every answer from the cache
    written = json.loads(path.read_text(encoding="utf-8"))
    assert report.path == path and report.passed and report.accuracy() == 1.0
    assert report.accuracy("single_test") == written["summary"]["splits"]["single_test"]["mean_at_k"]
    assert report.interval() == tuple(written["summary"]["splits"]["single_test"]["mean_at_k_ci95"])
    assert report.run.revision == "step-100" and again.accuracy() == report.accuracy()
    metrics = report.metrics()
    assert metrics["sebench/single_test/accuracy"] == report.accuracy("single_test")
    assert metrics["sebench/failed_gates"] == 0.0 and set(report.splits) == {"single_test"}
    assert len(list(again.run.items())) == 4  # a temporary report's items were read before it went
    assert not summary.exists()  # evaluations write no job-summary page unless asked (step_summary=...)


def test_a_drop_fails_the_gate_and_compare_agrees(tmp_path):
    with FakeServer(table_responder(table(4), default="no idea")) as server:
        before = evaluate("ckpt", report=tmp_path / "a.json", model_revision="a", workers=0,
                          **options(server, tmp_path / "c"))
    with FakeServer(table_responder(table(1), default="no idea")) as server:
        after = evaluate("ckpt", report=tmp_path / "b.json", model_revision="b", workers=0,
                         baseline=str(tmp_path / "a.json"), max_drop=10, regressions="report",
                         **options(server, tmp_path / "c"))
    assert before.passed and not after.passed and after.exit_status == 1
    assert [gate["gate"] for gate in after.gates if not gate["passed"]] == ["max-drop"]
    outcome = compare(before, after, max_drop=10, regressions="report")
    assert not outcome and outcome.failures == ["gate max-drop failed"]
    assert outcome.evaluation.to_json()["gates"] == after.gates
    assert compare(tmp_path / "a.json", tmp_path / "b.json", max_drop=90, regressions="report").passed
    assert compare(before, after).passed  # 2/2 -> 0/2 is no significant drop of one item (Fisher p = 1/6)
    strict = compare(before, after, alpha=0.2)  # regressions fail by default, as in the plugin
    assert not strict and strict.failures == ["3 items failed as regression"]


def test_a_run_that_gives_no_result_raises_the_plugins_message(tmp_path):
    with pytest.raises(EvaluationError, match=r"--sebench-samples \(from the command line\)"):
        evaluate("ckpt", data=str(FIXTURE_DATA), samples=0, cache=str(tmp_path))
    with pytest.raises(TypeError, match="unknown option 'sample'"):
        evaluate("ckpt", sample=2)
    with pytest.raises(ValueError, match="regressions must be"):
        compare(tmp_path / "a.json", tmp_path / "b.json", regressions="warn")
