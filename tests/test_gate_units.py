"""The gate's pure parts, without pytest runs: item outcomes, comparability, taxonomy, forgetting map."""

from __future__ import annotations

import shlex

import pytest

from pytest_sebench.gate.baseline import ItemCounts
from pytest_sebench.gate.comparable import compare_provenance
from pytest_sebench.records.item import ItemRecord
from pytest_sebench.gate.forgetting import forgetting_map, most_forgotten, most_learned
from pytest_sebench.gate.gates import drop_gate
from pytest_sebench.gate.outcomes import Policy, decide
from pytest_sebench.gate.stats import paired_difference
from pytest_sebench.grade.taxonomy import classify
from pytest_sebench.report.terminal import rerun_command

WITH_BASELINE = Policy(has_baseline=True, baseline_label="ckpt@100")


def counts(correct: int, samples: int, error: bool = False) -> ItemCounts:
    return ItemCounts(correct, samples, error)


@pytest.mark.parametrize("now, base, result, label", [
    ((1, 1), (1, 1), "pass", "solved"),
    ((0, 1), (1, 1), "fail", "regression"),
    ((0, 1), (0, 1), "xfail", "known_gap"),
    ((1, 1), (0, 1), "pass", "improvement"),
    ((0, 5), (5, 5), "fail", "regression"),  # p = 1/252
    ((1, 5), (5, 5), "fail", "regression"),  # p = 6/252 = 0.024
    ((2, 5), (5, 5), "pass", "solved"),  # p = 21/252 = 0.083: within the noise, and solved now
    ((0, 5), (1, 5), "xfail", "known_gap"),  # p = 0.5
    ((0, 1), (3, 5), "xfail", "known_gap"),  # K differs: Fisher, p = 0.5
    ((0, 3), (5, 5), "fail", "regression"),  # K differs: p = 1/56
    ((3, 5), (0, 5), "pass", "improvement"),
])
def test_item_outcomes(now, base, result, label):
    outcome = decide(counts(*now), counts(*base), WITH_BASELINE)
    assert (outcome.result, outcome.label) == (result, label)
    if label == "regression":
        assert outcome.reason.startswith(f"regression: solved by ckpt@100 in {base[0]}/{base[1]} samples, "
                                         f"now {now[0]}/{now[1]}")


def test_flaky_means_between_zero_and_one_on_either_side():
    assert decide(counts(2, 5), counts(5, 5), WITH_BASELINE).flaky
    assert decide(counts(5, 5), counts(3, 5), WITH_BASELINE).flaky
    assert not decide(counts(5, 5), counts(0, 5), WITH_BASELINE).flaky
    assert not decide(counts(1, 1), counts(0, 1), WITH_BASELINE).flaky


def test_regression_policy_report_turns_the_fail_into_an_xfail():
    outcome = decide(counts(0, 1), counts(1, 1), Policy(has_baseline=True, regressions_fail=False))
    assert (outcome.result, outcome.label) == ("xfail", "regression")
    assert "--sebench-regressions=report" in outcome.reason


def test_alpha_moves_the_boundary():
    strict = Policy(has_baseline=True, alpha=0.02)
    assert decide(counts(1, 5), counts(5, 5), strict).label == "solved"
    assert decide(counts(0, 5), counts(5, 5), strict).label == "regression"


@pytest.mark.parametrize("base, label", [(None, "not_in_baseline"), (counts(1, 1, error=True), "baseline_error")])
def test_items_that_cannot_regress(base, label):
    assert (decide(counts(0, 1), base, WITH_BASELINE).result, decide(counts(0, 1), base, WITH_BASELINE).label) == (
        "xfail", label)
    assert decide(counts(1, 1), base, WITH_BASELINE).result == "pass"


def test_without_baseline():
    assert decide(counts(0, 1), None, Policy(has_baseline=False)).result == "fail"
    assert decide(counts(0, 1), None, Policy(has_baseline=False, gated_by_accuracy=True)).result == "xfail"
    assert decide(counts(1, 3), None, Policy(has_baseline=False)).result == "pass"


PROVENANCE = {"split_fingerprints": {"single_test": "aaa", "multiple_test": "bbb"}, "mode": "closed",
              "prompt_hash": "p1", "samples": 5, "sandbox": "local", "numpy": "2.3.5", "plugin_version": "0.1.0",
              "model": {"name": "ckpt", "revision": "100", "temperature": 0.6, "max_tokens": 8192}}


def changed(**changes) -> dict:
    return {**PROVENANCE, **changes}


def test_same_provenance_is_comparable_whatever_the_model():
    other_model = changed(model={**PROVENANCE["model"], "name": "other", "revision": "200"})
    assert compare_provenance(PROVENANCE, other_model) == ([], [])


@pytest.mark.parametrize("now, fragment", [
    (changed(split_fingerprints={"single_test": "zzz"}), "split single_test: the problems differ"),
    (changed(mode="open"), "the prompt mode differs (baseline closed, now open)"),
    (changed(prompt_hash="p2"), "the prompt template differs"),
])
def test_refusals(now, fragment):
    refusals, _ = compare_provenance(PROVENANCE, now)
    assert len(refusals) == 1 and fragment in refusals[0]


def test_splits_on_one_side_only_are_no_refusal():
    assert compare_provenance(PROVENANCE, changed(split_fingerprints={"single_test": "aaa"}))[0] == []


def test_no_prompt_on_one_side_is_not_a_contradiction():
    assert compare_provenance(changed(mode=None, prompt_hash=None), PROVENANCE)[0] == []


def test_warnings():
    now = changed(samples=1, numpy="2.2.0", model={**PROVENANCE["model"], "temperature": 0.0})
    refusals, warnings = compare_provenance(PROVENANCE, now)
    assert refusals == []
    assert {w.split(" differs")[0] for w in warnings} == {
        "the samples per item (K)", "the NumPy version", "the temperature"}


def test_report_without_provenance_is_refused():
    assert "no provenance" in compare_provenance({}, PROVENANCE)[0][0]


LIB = "zwc"


def sample(category: str, error: str | None = None, reason: str = "") -> dict:
    return {"category": category, "reason": reason, "cases": [{"error": error}] if error else [{"error": None}]}


@pytest.mark.parametrize("record, expected", [
    (sample("correct"), None),
    (sample("error", reason="sandbox unavailable"), None),
    (sample("numpy"), "numpy_use"),
    (sample("without_zwc", reason="the answer has no fenced Python block"), "no_code"),
    (sample("result_error"), "wrong_value"),
    (sample("exe_error", "AttributeError: module 'zwc' has no attribute 'meanx'"), "hallucinated_name"),
    (sample("exe_error", "AttributeError: module 'zwc.rfx' has no attribute 'inv'"), "hallucinated_name"),
    (sample("exe_error", "ImportError: cannot import name 'mean' from 'zwc' (unknown location)"),
     "hallucinated_name"),
    (sample("exe_error", "AttributeError: ZWCArray has no attribute 'flatten'. Use the corresponding ZWC "
                         "function instead."), "array_habit"),
    (sample("exe_error", "TypeError: bad operand type for unary -: 'ZWCArray'"), "array_habit"),
    (sample("exe_error", "TypeError: unsupported operand type(s) for &: 'ZWCArray' and 'ZWCArray'"),
     "array_habit"),
    (sample("exe_error", "Timeout: the answer ran longer than 10 s"), "timeout"),
    (sample("exe_error", "ZeroDivisionError: division by zero"), "exception"),
    (sample("exe_error", "AttributeError: 'list' object has no attribute 'shape'"), "exception"),
    (sample("exe_error", "AttributeError: module 'zwcx' has no attribute 'a'"), "exception"),
])
def test_taxonomy(record, expected):
    assert classify(record, LIB) == expected


def test_taxonomy_uses_the_first_failing_case():
    record = {"category": "exe_error", "reason": "", "cases": [
        {"error": None}, {"error": "Timeout: the answer ran longer than 1 s"},
        {"error": "AttributeError: module 'zwc' has no attribute 'x'"}]}
    assert classify(record, LIB) == "timeout"


def item(item_id: str, functions: list[str], correct: int, samples: int = 1) -> ItemRecord:
    return ItemRecord.from_json({"id": item_id, "split": "single_test", "library_functions": functions,
                                 "samples": [{"category": "correct" if index < correct else "result_error"}
                                             for index in range(samples)]})


def test_forgetting_map():
    records = [item("a", ["zwc.f"], 0), item("b", ["zwc.f", "zwc.rfx.g"], 1), item("c", ["zwc.h"], 1),
               item("d", ["zwc.rfx.g"], 0)]
    baseline = {"a": counts(1, 1), "b": counts(1, 1), "c": counts(0, 1), "d": counts(0, 1, error=True)}
    entries = {entry.name: entry for entry in forgetting_map(records, baseline)}
    assert (entries["zwc.f"].items, entries["zwc.f"].now, entries["zwc.f"].base, entries["zwc.f"].change) == (
        2, 0.5, 1.0, -0.5)
    assert (entries["zwc.rfx.g"].items, entries["zwc.rfx.g"].paired, entries["zwc.rfx.g"].change) == (2, 1, 0.0)
    assert entries["zwc.h"].change == 1.0
    ordered = forgetting_map(records, baseline)
    assert [entry.name for entry in most_forgotten(ordered, 10)] == ["zwc.f"]
    assert [entry.name for entry in most_learned(ordered, 10)] == ["zwc.h"]
    assert forgetting_map(records, None)[0].base is None


def test_rerun_command_replaces_selection_and_report():
    args = ["--sebench-model=ckpt", "-k", "old", "-kother", "--sebench-report=r.json", "-n", "4"]
    command = rerun_command(args, ["single_test/0001-a", "single_test/0002-b"])
    assert shlex.split(command) == ["pytest", "--sebench-model=ckpt", "-n", "4", "-k",
                                    "single_test/0001-a or single_test/0002-b"]


@pytest.mark.parametrize("outputs", [
    ["--sebench-report=r.json"], ["--sebench-report", "r.json"], ["--junitxml=j.xml"], ["--junitxml", "j.xml"],
    ["--junit-xml=j.xml"], ["--sebench-save-correct", "sft.jsonl"], ["--sebench-html=r.html"],
    ["--sebench-markdown", "r.md"], ["--sebench-step-summary=s.md"], ["-o", "sebench_step_summary=s.md"],
    ["-o", "sebench_report=r.json"], ["--override-ini=sebench_report=r.json"],
    ["-k", "x"], ["-kx"]])
def test_rerun_command_writes_none_of_the_runs_outputs(outputs):
    args = ["--sebench-model=ckpt", *outputs, "-n", "4", "-o", "sebench_timeout=5"]
    assert shlex.split(rerun_command(args, ["a"])) == [
        "pytest", "--sebench-model=ckpt", "-n", "4", "-o", "sebench_timeout=5", "-k", "a"]


def test_rerun_command_switches_off_outputs_set_elsewhere():
    inherited = [("--sebench-report", "environment variable SEBENCH_REPORT"),
                 ("--sebench-save-correct", "ini key sebench_save_correct in /p/pytest.ini")]
    assert shlex.split(rerun_command(["--sebench-model=ckpt"], ["a"], inherited)) == [
        "SEBENCH_REPORT=", "pytest", "--sebench-model=ckpt", "-o", "sebench_save_correct=", "-k", "a"]


def test_rerun_command_switches_off_the_job_summary():
    """GITHUB_STEP_SUMMARY is read after SEBENCH_STEP_SUMMARY and the ini key: an empty -o stops the
    search before it; emptying SEBENCH_STEP_SUMMARY alone would hand the setting over to it."""
    args = ["--sebench-model=ckpt"]
    from_github = [("--sebench-step-summary", "environment variable GITHUB_STEP_SUMMARY")]
    assert shlex.split(rerun_command(args, ["a"], from_github)) == [
        "pytest", "--sebench-model=ckpt", "-o", "sebench_step_summary=", "-k", "a"]
    from_ours = [("--sebench-step-summary", "environment variable SEBENCH_STEP_SUMMARY")]
    assert shlex.split(rerun_command(args, ["a"], from_ours)) == [
        "SEBENCH_STEP_SUMMARY=", "pytest", "--sebench-model=ckpt", "-o", "sebench_step_summary=", "-k", "a"]


def test_drop_gate_without_paired_items_fails():
    empty = paired_difference([], [], binary=True, seed=1)
    gate = drop_gate(5, 0.05, empty)
    assert not gate.passed and "nothing to compare" in gate.detail
    held = drop_gate(5, 0.05, paired_difference([1, 1, 0], [1, 1, 0], binary=True, seed=1))
    assert held.passed and "over 3 paired items" in held.detail
