"""Whole runs of the plugin in a subprocess pytest, with -n0 and -n2: outcomes, summary, report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import read_rows, write_rows

WORKERS = ["-n0", "-n2"]


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:randomly", *args)


def load_report(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def stable(report: dict) -> dict:
    """The report without what may differ between runs (timings, the time it was made)."""
    report["provenance"].pop("time")
    for item in report["items"]:
        for sample in item["samples"]:
            sample.pop("seconds", None)
    return report


@pytest.mark.parametrize("workers", WORKERS)
def test_fixture_benchmark_passes_whole(pytester, fixture_data, workers):
    report = pytester.path / "r.json"
    result = run(pytester, "--sebench-model=reference", f"--sebench-data={fixture_data}", workers,
                 f"--sebench-report={report}")
    problems = len(read_rows(fixture_data / "single_test.jsonl")) + len(
        read_rows(fixture_data / "multiple_test.jsonl"))
    result.assert_outcomes(passed=problems)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*SE-Bench summary*", "*items*31*18*49*", "*accuracy*100.0%*"])
    data = load_report(report)
    assert data["schema_version"] == 1
    assert data["summary"]["overall"]["items"] == problems
    assert data["summary"]["overall"]["categories"]["correct"] == problems
    first = data["items"][0]
    assert first["id"].startswith("single_test/0000-") and first["split"] == "single_test"
    assert first["row"] == 0 and first["functions"]
    case = first["samples"][0]["cases"][0]
    assert set(case) >= {"input", "expected", "got", "passed", "error"}
    ids = [item["id"] for item in data["items"]]
    assert len(ids) == len(set(ids)) == problems


def test_n0_and_n2_agree(pytester, fixture_data):
    reports = []
    for workers in WORKERS:
        path = pytester.path / f"r{workers}.json"
        run(pytester, "--sebench-model=reference", f"--sebench-data={fixture_data}", workers,
            f"--sebench-report={path}", "--sebench-split=multiple_test")
        reports.append(stable(load_report(path)))
    assert reports[0] == reports[1]


@pytest.mark.parametrize("workers", WORKERS)
def test_k_and_m_select_items(pytester, fixture_data, workers):
    result = run(pytester, "--sebench-model=reference", f"--sebench-data={fixture_data}", workers,
                 "-m", "multiple_test", "-k", "0003 or 0004", "-q")
    # xdist's controller does not count deselected items in its closing line
    result.assert_outcomes(passed=2, deselected=47 if workers == "-n0" else 0)
    result.stdout.fnmatch_lines(["*items*2*"])


def test_inert_without_options(pytester):
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    result = run(pytester, "-q")
    result.assert_outcomes(passed=1)
    assert "SE-Bench" not in result.stdout.str()


def test_entry_point_imports_nothing_heavy():
    code = ("import sys, pytest_sebench.plugin as p; heavy = {'numpy', 'datasets', 'openai', 'docker', "
            "'rich'} & {m.split('.')[0] for m in sys.modules}; print(sorted(heavy))")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert output.stdout.strip() == "[]"


def test_repository_tests_not_collected_unless_named(pytester, fixture_data):
    pytester.makepyfile(test_local="def test_local():\n    assert True\n")
    only_bench = run(pytester, "--sebench-model=reference", f"--sebench-data={fixture_data}",
                     "--sebench-split=single_test", "-k", "0000")
    only_bench.assert_outcomes(passed=1, deselected=30)
    both = run(pytester, "--sebench-model=reference", f"--sebench-data={fixture_data}",
               "--sebench-split=single_test", "-k", "0000 or test_local", "test_local.py")
    both.assert_outcomes(passed=2, deselected=30)


@pytest.mark.parametrize("workers", WORKERS)
def test_broken_sandbox_is_an_error_not_a_failure(pytester, fixture_data, workers):
    report = pytester.path / "r.json"
    result = run(pytester, "--sebench-model=reference", f"--sebench-data={fixture_data}", workers,
                 "--sebench-split=single_test", "--sebench-python=/bin/false", "-k", "0000 or 0001",
                 f"--sebench-report={report}")
    result.assert_outcomes(errors=2, deselected=29 if workers == "-n0" else 0)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*infrastructure error (not the model's fault)*"])
    summary = load_report(report)["summary"]["overall"]
    assert summary["items"] == 2 and summary["errors"] == 2 and summary["accuracy"] == 0


@pytest.mark.parametrize("workers", WORKERS)
def test_wrong_answers_fail_with_details(pytester, fixture_data, workers):
    rows = read_rows(fixture_data / "single_test.jsonl")[:2]
    rollouts = [{"query": row["query"], "test_cases": row["test_cases"],
                 "right_exe_result": row["right_exe_result"], "function_name": row["function_name"],
                 "response": "```python\n" + row["right_code"] + "\n```"} for row in rows]
    path = write_rows(pytester.path / "rollouts.jsonl", rollouts)
    result = run(pytester, f"--sebench-rollouts={path}", f"--sebench-data={fixture_data}", workers)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*without_zwc/no_code: *makes no call through qel*", "*code:*"])


def test_report_path_checked_before_the_run(pytester, fixture_data):
    result = run(pytester, "--sebench-model=reference", f"--sebench-data={fixture_data}",
                 "--sebench-report=/nonexistent/folder/r.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--sebench-report=/nonexistent/folder/r.json*does not exist*"])
    assert "Traceback" not in result.stderr.str()


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("family", ["xunit1", "xunit2"])
def test_junit_xml_names_category(pytester, fixture_data, family, workers):
    import xml.etree.ElementTree as ET

    rows = read_rows(fixture_data / "single_test.jsonl")[:1]
    rollout = {**{k: rows[0][k] for k in ("query", "test_cases", "right_exe_result")},
               "response": "no code here"}
    path = write_rows(pytester.path / "rollouts.jsonl", [rollout])
    junit = pytester.path / "junit.xml"
    run(pytester, f"--sebench-rollouts={path}", f"--sebench-data={fixture_data}", f"--junitxml={junit}",
        "-o", f"junit_family={family}", workers)
    suite = ET.parse(junit).getroot().find("testsuite")
    case = suite.find("testcase")
    # the failure message names the category and the taxonomy class
    assert case.find("failure").get("message").startswith(
        "without_zwc/no_code: the answer has no fenced Python block")
    item_properties = {prop.get("name"): prop.get("value") for prop in case.iter("property")}
    if family == "xunit1":
        assert item_properties["sebench_category"] == "without_zwc"
        assert item_properties["sebench_taxonomy"] == "no_code"
        assert item_properties["sebench_passed"] == "0/1"
    else:  # the xunit2 schema has no properties on a test case
        assert not item_properties
    # session-level properties reach the XML also under xdist (record_testsuite_property would not)
    session_properties = {prop.get("name"): prop.get("value")
                          for prop in suite.find("properties").iter("property")}
    assert session_properties["sebench_accuracy_rollouts"] == "0.000000"
    assert session_properties["sebench_model"] == "rollouts"


@pytest.mark.parametrize("workers", WORKERS)
def test_every_output_that_cannot_be_written_is_named(pytester, fixture_data, workers):
    """Both outputs fail (their folder vanished after the start-up check): each error is shown, the
    first is not hidden by the second, no partial file is left, and the run ends with exit status 3."""
    out = pytester.mkdir("out")
    pytester.makeconftest("import shutil\n\ndef pytest_sessionstart(session):\n"
                          f"    shutil.rmtree({str(out)!r}, ignore_errors=True)\n")
    result = run(pytester, "--sebench-model=reference", f"--sebench-data={fixture_data}", workers,
                 "--sebench-split=multiple_test", f"--sebench-report={out / 'r.json'}",
                 f"--sebench-save-correct={out / 'sft.jsonl'}")
    assert result.ret == pytest.ExitCode.INTERNAL_ERROR
    result.stdout.fnmatch_lines([f"ERROR: --sebench-report: cannot write {out / 'r.json'}: *",
                                 f"ERROR: --sebench-save-correct: cannot write {out / 'sft.jsonl'}: *"])
    assert "report written to" not in result.stdout.str() and not out.exists()
