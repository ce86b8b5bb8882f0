"""The CI gate through whole runs of the plugin (pytester, -n0 and -n2): every outcome against a
baseline, the K > 1 significance boundary, each gate's exit status, refused baselines, parity.

Answers come from rollout files (K = 1: one line per item, so each item's fate is chosen exactly) or
from the fake model server (K > 1: a table of answers per sample). Baselines are real reports of
earlier runs, edited where a test needs a baseline the fixture models cannot produce.
"""

from __future__ import annotations

import json
import re
import shlex

import pytest

from gate_runs import (BASE, N, NOW, SINGLE, USAGE_ERROR, WORKERS, make_baseline, report_of, right_answer,
                       rollout_run, run, served_run, with_counts, wrong_answer)
from pytest_sebench.testing import FakeServer, table_responder


@pytest.mark.parametrize("workers", WORKERS)
def test_every_outcome_against_a_baseline(pytester, workers):
    baseline = make_baseline(pytester, BASE)
    report = pytester.path / "now.json"
    result = rollout_run(pytester, "now", NOW, f"--sebench-baseline={baseline}", f"--sebench-report={report}",
                         workers)
    result.assert_outcomes(failed=1, xfailed=1, passed=N - 2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "*regression: solved by rollouts in 1/1 samples, now 0/1",
        "result_error/wrong_value: *",
        "*items: 1 regressions, 1 improvements, 1 known gaps, 0 flaky*",
        "*regressions (1 of 1):*", "*rollouts/0000  1/1 -> 0/1*",
        "rerun the regressions: pytest *-k rollouts/0000*"])
    assert "accept this report" not in result.stdout.str()  # a red run is no baseline
    result.stdout.fnmatch_lines(["not a baseline to keep: 1 regression failed"])
    data = report_of(report)
    comparison = data["comparison"]
    assert comparison["regressions"] == ["rollouts/0000"] and comparison["known_gaps"] == ["rollouts/0001"]
    assert comparison["improvements"] == ["rollouts/0003"] and comparison["flaky"] == []
    labels = {item["id"]: item["outcome"]["label"] for item in data["items"]}
    assert [labels[f"rollouts/{index:04d}"] for index in range(4)] == [
        "regression", "known_gap", "solved", "improvement"]
    paired = comparison["paired"]["overall"]
    assert paired["method"] == "mcnemar" and paired["items"] == N and paired["difference"] == 0.0


def test_regressions_can_be_reported_without_failing(pytester):
    baseline = make_baseline(pytester, BASE)
    result = rollout_run(pytester, "now", NOW, f"--sebench-baseline={baseline}", "--sebench-regressions=report",
                         "-rx")
    result.assert_outcomes(xfailed=2, passed=N - 2)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*regressions (1 of 1):*",
                                 "*XFAIL*rollouts/0000*regression: solved by rollouts*reported only*"])


def test_the_rerun_command_selects_exactly_the_regressions(pytester):
    baseline = make_baseline(pytester, BASE)
    result = rollout_run(pytester, "now", NOW, f"--sebench-baseline={baseline}")
    line = next(line for line in result.stdout.lines if line.startswith("rerun the regressions: "))
    args = shlex.split(line.removeprefix("rerun the regressions: "))[1:]  # after "pytest"
    again = pytester.runpytest_subprocess("-p", "no:randomly", *args)
    again.assert_outcomes(failed=1, deselected=N - 1)


@pytest.mark.parametrize("workers", WORKERS)
def test_accuracy_bar_decides_without_a_baseline(pytester, workers):
    solved = [index % 2 == 0 for index in range(N)]  # 16 of 31
    below = rollout_run(pytester, "now", solved, "--sebench-fail-under=0.6", workers)
    below.assert_outcomes(passed=16, xfailed=N - 16)  # unsolved items do not decide: the bar does
    assert below.ret == pytest.ExitCode.TESTS_FAILED
    below.stdout.fnmatch_lines(["*gate fail-under rollouts: FAIL mean@1 51.6% is below 60.0%*",
                                "not a baseline to keep: gate fail-under rollouts failed"])
    assert "keep this run" not in below.stdout.str()
    above = rollout_run(pytester, "now", solved, "--sebench-fail-under=rollouts:0.5", workers)
    assert above.ret == pytest.ExitCode.OK
    above.stdout.fnmatch_lines(["*gate fail-under rollouts: PASS mean@1 51.6% meets 50.0%*"])
    missing = rollout_run(pytester, "now", solved, "--sebench-fail-under=single_test:0.1")
    assert missing.ret == pytest.ExitCode.TESTS_FAILED  # a bar for a split that did not run is not met
    missing.stdout.fnmatch_lines(["*gate fail-under single_test: FAIL no items of single_test ran*"])


@pytest.mark.parametrize("workers", WORKERS)
def test_max_drop_gate(pytester, workers):
    baseline = make_baseline(pytester, [True] * N)
    dropped = [index >= 10 for index in range(N)]  # 10 of 31 lost: -32.3 points
    common = (f"--sebench-baseline={baseline}", "--sebench-regressions=report", workers)
    fired = rollout_run(pytester, "now", dropped, "--sebench-max-drop=5", *common)
    assert fired.ret == pytest.ExitCode.TESTS_FAILED  # the gate alone: regressions are only reported
    fired.stdout.fnmatch_lines(["*gate max-drop: FAIL change -32.3 points (95% CI * over 31 paired items, "
                                "exact McNemar p=0.000977*"])
    held = rollout_run(pytester, "now", dropped, "--sebench-max-drop=40", *common)
    assert held.ret == pytest.ExitCode.OK
    held.stdout.fnmatch_lines(["*gate max-drop: PASS change -32.3 points*"])


def test_incomparable_baseline_is_refused_unless_forced(pytester):
    baseline = make_baseline(pytester, BASE)
    data = report_of(baseline)
    data["provenance"]["split_fingerprints"]["rollouts"] = "0123456789abcdef"
    baseline.write_text(json.dumps(data))
    refused = rollout_run(pytester, "now", NOW, f"--sebench-baseline={baseline}")
    assert refused.ret == USAGE_ERROR
    errors = [line for line in refused.stderr.lines if line.startswith("ERROR:")]
    assert len(errors) == 1 and str(baseline) in errors[0] and "--sebench-baseline-force" in errors[0]
    assert "split rollouts: the problems differ" in errors[0] and "Traceback" not in refused.stderr.str()
    forced = rollout_run(pytester, "now", NOW, f"--sebench-baseline={baseline}", "--sebench-baseline-force")
    forced.assert_outcomes(failed=1, xfailed=1, passed=N - 2)
    forced.stdout.fnmatch_lines(["*warning: split rollouts: the problems differ*"])


@pytest.mark.parametrize("text, why", [
    ("{not json", ":1: not JSON"), ("", "the file is empty"), ('{"summary": {}}', "no 'items' list"),
    ('{"schema_version": 1, "items": [{"id": "x"}]}', "items[0] (x): 'samples' must be a list"),
    ('{"schema_version": 1,\n"items": [\n{"id": "x", "samples": []},\n{"id": "y", "samp\n]}\n',
     "items[1]: not JSON"),
    ('{"items": []}', "schema version None is not one this pytest-sebench reads (1): make the report again"),
    ('{"schema_version": 2, "items": []}', "written by a newer pytest-sebench (this one reads version 1): upgrade")])
def test_unreadable_baseline_is_one_clear_error(pytester, text, why):
    baseline = pytester.path / "broken.json"
    baseline.write_text(text)
    result = rollout_run(pytester, "now", NOW, f"--sebench-baseline={baseline}")
    assert result.ret == USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert len(errors) == 1 and f"--sebench-baseline (from the command line): {baseline}" in errors[0]
    assert why in errors[0] and "Traceback" not in result.stderr.str()


def test_missing_items_and_baseline_errors_are_listed(pytester):
    baseline = make_baseline(pytester, BASE)
    data = report_of(baseline)
    extra = dict(data["items"][0], id="rollouts/9999")
    data["items"].append(extra)
    data["items"][2]["samples"][0]["category"] = "error"  # an infrastructure error in the baseline
    baseline.write_text(json.dumps(data))
    report = pytester.path / "now.json"
    result = rollout_run(pytester, "now", NOW, f"--sebench-baseline={baseline}", f"--sebench-report={report}",
                         "-k", "not rollouts/0030")
    comparison = report_of(report)["comparison"]
    assert comparison["missing_now"] == ["rollouts/0030", "rollouts/9999"]
    assert comparison["unpaired_errors"] == ["rollouts/0002"]
    assert comparison["paired"]["overall"]["items"] == N - 2
    result.stdout.fnmatch_lines(["*2 items in the baseline but not run now: rollouts/0030, rollouts/9999*",
                                 "*1 items left out of the pairing*rollouts/0002*"])


# -- K > 1: the per-item Fisher test --------------------------------------------------------------

@pytest.mark.parametrize("workers", WORKERS)
def test_k_samples_significance_boundary(pytester, workers):
    right = {p.signature: right_answer(p) for p in SINGLE[:4]}
    wrong = {p.signature: wrong_answer(p) for p in SINGLE[:4]}
    a, b, c, d = (p.signature for p in SINGLE[:4])
    table = {a: [right[a]] + [wrong[a]] * 4, b: [right[b]] * 2 + [wrong[b]] * 3, c: [wrong[c]],
             d: [right[d]]}  # now 1/5, 2/5, 0/5, 5/5
    ids = [p.id for p in SINGLE[:4]]
    first = pytester.path / "first.json"
    with FakeServer(table_responder(table)) as server:
        served_run(pytester, server, f"--sebench-report={first}")
        baseline = pytester.path / "baseline.json"
        # baseline 5/5, 5/5, 1/5, 0/5
        baseline.write_text(json.dumps(with_counts(report_of(first), dict(zip(ids, [5, 5, 1, 0], strict=True)))))
        report = pytester.path / "now.json"
        result = served_run(pytester, server, f"--sebench-baseline={baseline}", f"--sebench-report={report}",
                            workers)
        # 1/5 after 5/5: Fisher p = 6/252 = 0.0238 < 0.05; 2/5 after 5/5: p = 21/252 = 0.083
        deselected = N - 4 if workers == "-n0" else 0  # xdist's controller does not count them
        result.assert_outcomes(failed=1, passed=2, xfailed=1, deselected=deselected)
        result.stdout.fnmatch_lines(["*regression: solved by ckpt in 5/5 samples, now 1/5 "
                                     "(one-sided Fisher p=0.0238 < alpha 0.05)*"])
        data = report_of(report)
        labels = {item["id"]: item["outcome"] for item in data["items"]}
        assert [labels[i]["label"] for i in ids] == ["regression", "solved", "known_gap", "improvement"]
        assert labels[ids[1]]["flaky"] and labels[ids[1]]["p_value"] == pytest.approx(21 / 252, abs=1e-6)
        assert data["comparison"]["paired"]["overall"]["method"] == "bootstrap"
        strict = served_run(pytester, server, f"--sebench-baseline={baseline}", "--sebench-alpha=0.02", workers)
        # p = 0.0238 is not below 0.02: no regression
        strict.assert_outcomes(passed=3, xfailed=1, deselected=deselected)
        # reported, not failed: the xfail names why the item failed, not its first sample (correct here)
        listed = served_run(pytester, server, f"--sebench-baseline={baseline}", "--sebench-regressions=report",
                            "-rx", workers)
        listed.assert_outcomes(passed=2, xfailed=2, deselected=deselected)
        reason = next(line for line in listed.stdout.lines if line.startswith("XFAIL") and ids[0] in line)
        assert "regression: solved by ckpt in 5/5" in reason and "[result_error/wrong_value:" in reason, reason
        assert server.completion_attempts == 20  # the later runs took every answer from the cache


# -- selection, training data, parity -------------------------------------------------------------

@pytest.mark.parametrize("workers", WORKERS)
def test_only_solved_by_runs_the_solved_items(pytester, workers):
    reference = make_baseline(pytester, BASE)  # 29 of 31 solved
    result = rollout_run(pytester, "now", NOW, f"--sebench-only-solved-by={reference}", workers)
    # item 0 fails; items 1 and 3 are not run (xdist's controller does not count deselected items)
    result.assert_outcomes(passed=N - 3, failed=1, deselected=2 if workers == "-n0" else 0)
    result.stdout.fnmatch_lines([f"sebench: only items solved in {reference}: 29 of 31 kept; 2 not solved "
                                 "there, 0 not in it"])


def test_save_correct_writes_rollouts_that_grade_again(pytester):
    saved = pytester.path / "sft.jsonl"
    result = rollout_run(pytester, "now", NOW, f"--sebench-save-correct={saved}")
    result.assert_outcomes(passed=N - 2, failed=2)
    rows = [json.loads(line) for line in saved.read_text().splitlines()]
    assert len(rows) == N - 2
    assert all(row["messages"][0]["content"] == row["prompt"] and row["prompt"] for row in rows)
    assert all(row["response"].startswith("```python") for row in rows)
    again = run(pytester, f"--sebench-rollouts={saved}")
    again.assert_outcomes(passed=N - 2)


def test_n0_and_n2_agree_on_everything(pytester):
    baseline = make_baseline(pytester, BASE)
    reports, summaries = [], []
    for workers in WORKERS:
        path = pytester.path / f"r{workers}.json"
        result = rollout_run(pytester, "now", NOW, f"--sebench-baseline={baseline}", "--sebench-max-drop=1",
                             "--sebench-fail-under=0.5", f"--sebench-report={path}", workers)
        data = report_of(path)
        data["provenance"].pop("time")
        for item in data["items"]:
            for sample in item["samples"]:
                sample.pop("seconds")
        reports.append(data)
        text = result.stdout.str()
        summary = text[text.index("SE-Bench summary"):text.index("short test summary")]
        # the command lines shown differ by the worker option and the report's name only
        # (and by pytester's own --basetemp for each run)
        summary = re.sub(r"--basetemp=\S+ ", "", summary.replace(path.name, "r.json").replace(workers, "-nX"))
        summaries.append((result.ret, summary))
    assert reports[0] == reports[1]
    assert summaries[0][0] == summaries[1][0]
    assert summaries[0][1].splitlines() == summaries[1][1].splitlines()
