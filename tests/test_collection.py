"""SE-Bench items are collected like any test: counted in the header, listed by --collect-only, and
selected or ordered by -k, -m, --lf, --ff, --sw, --deselect and xdist's scheduling. Each run is a
subprocess pytest, with -n0 and -n2.
"""

from __future__ import annotations

import re

import pytest

from conftest import write_rows
from pytest_sebench.data.jsonl import read_jsonl
from pytest_sebench.data.library import load_library
from pytest_sebench.data.problems import problem_from_row
from pytest_sebench.model.reference import reference_response

WORKERS = ["-n0", "-n2"]
FIXTURE_ITEMS = 49  # 31 single_test + 18 multiple_test problems in fixtures/qel


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:randomly", *args)


def bench(fixture_data) -> list[str]:
    return ["--sebench-model=reference", f"--sebench-data={fixture_data}"]


def ran(result: pytest.RunResult) -> list[str]:
    """The ids of the items that ran, in the order they reported (-v lines: ``ID PASSED`` with -n0,
    ``[gw0] [ 50%] PASSED ID`` under xdist)."""
    verdict = r"(?:PASSED|FAILED|ERROR|XFAIL)"
    pairs = re.findall(rf"(sebench::\S+) {verdict}\b|\] {verdict} (sebench::\S+)", result.stdout.str())
    return [local or distributed for local, distributed in pairs]


@pytest.fixture
def rollouts(pytester, fixture_data):
    """Four rollout lines: 0 and 2 right (the reference, translated), 1 and 3 wrong (NumPy itself)."""
    library = load_library(fixture_data / "api_doc.jsonl")
    lines = []
    for index, line in zip(range(4), read_jsonl(fixture_data / "single_test.jsonl"), strict=False):
        row = line.record
        right = reference_response(problem_from_row(line, "single_test", index), library)
        lines.append({key: row[key] for key in ("query", "test_cases", "right_exe_result", "function_name")}
                     | {"response": right if index % 2 == 0 else f"```python\n{row['right_code']}\n```"})
    return [f"--sebench-rollouts={write_rows(pytester.path / 'rollouts.jsonl', lines)}",
            f"--sebench-data={fixture_data}"]


@pytest.mark.parametrize("workers", WORKERS)
def test_header_counts_the_items(pytester, fixture_data, workers):
    result = run(pytester, *bench(fixture_data), workers)
    result.assert_outcomes(passed=FIXTURE_ITEMS)
    expected = f"collected {FIXTURE_ITEMS} items" if workers == "-n0" else f"*2 workers [[]{FIXTURE_ITEMS} items[]]"
    result.stdout.fnmatch_lines([expected])


@pytest.mark.parametrize("workers", WORKERS)
def test_collect_only_lists_and_counts(pytester, fixture_data, workers):
    report = pytester.path / "r.json"
    result = run(pytester, *bench(fixture_data), workers, "--collect-only", "-q", f"--sebench-report={report}")
    assert result.ret == 0
    ids = [line for line in result.stdout.lines if line.startswith("sebench::")]
    assert len(ids) == FIXTURE_ITEMS and ids[0].startswith("sebench::single_test/0000-")
    result.stdout.fnmatch_lines([f"{FIXTURE_ITEMS} tests collected*"])
    assert "SE-Bench summary" not in result.stdout.str()
    assert "no tests collected" not in result.stdout.str()
    assert not report.exists()  # nothing was graded: no report


@pytest.mark.parametrize("workers", WORKERS)
def test_keyword_marker_and_deselect(pytester, fixture_data, workers):
    first = "sebench::multiple_test/0003"
    listed = run(pytester, *bench(fixture_data), "--collect-only", "-q", "-m", "multiple_test", "-k", "0003 or 0004")
    ids = [line for line in listed.stdout.lines if line.startswith("sebench::")]
    assert len(ids) == 2 and ids[0].startswith(first)
    result = run(pytester, *bench(fixture_data), workers, "-m", "multiple_test", "-k", "0003 or 0004",
                 f"--deselect={ids[0]}", "-v")
    assert ran(result) == [ids[1]]
    if workers == "-n0":
        result.stdout.fnmatch_lines([f"*collected {FIXTURE_ITEMS} items / {FIXTURE_ITEMS - 1} deselected / 1 selected"])


@pytest.mark.parametrize("workers", WORKERS)
def test_last_failed_and_failed_first(pytester, rollouts, workers):
    first = run(pytester, *rollouts, workers, "-v")
    first.assert_outcomes(passed=2, failed=2)
    failed = sorted(nodeid for nodeid in ran(first) if f"{nodeid} FAILED" in first.stdout.str()
                    or f"FAILED {nodeid}" in first.stdout.str())
    assert len(failed) == 2
    again = run(pytester, *rollouts, workers, "--lf", "-v")
    again.assert_outcomes(failed=2, deselected=2 if workers == "-n0" else 0)
    assert sorted(ran(again)) == failed
    ordered = run(pytester, *rollouts, "-n0", "--ff", "-v")  # xdist does not keep an order to check
    ordered.assert_outcomes(passed=2, failed=2)
    assert sorted(ran(ordered)[:2]) == failed


def test_stepwise_resumes_at_the_failure(pytester, rollouts):
    first = run(pytester, *rollouts, "--sw", "-v")
    first.assert_outcomes(passed=1, failed=1)  # stops at the first failure, item 1
    second = run(pytester, *rollouts, "--sw", "-v")
    assert ran(second)[0] == ran(first)[1]  # starts again from the failing item
    second.assert_outcomes(failed=1, deselected=1)


@pytest.mark.parametrize("dist", ["load", "loadgroup"])
def test_xdist_schedules_the_items(pytester, fixture_data, dist):
    result = run(pytester, *bench(fixture_data), "-n2", f"--dist={dist}", "-v")
    result.assert_outcomes(passed=FIXTURE_ITEMS)
    workers = set(re.findall(r"\[(gw\d)\]", result.stdout.str()))
    assert workers == {"gw0", "gw1"}, "both workers got items"
