"""--sebench-limit / --sebench-seed: a stable random subset of N problems per split."""

from __future__ import annotations

import json

import pytest

from conftest import FIXTURE_DATA
from test_served_run import BENCH

from pytest_sebench.data.subset import subset_ids

SPLITS = {problem.split for problem in BENCH.problems}


def run(pytester: pytest.Pytester, name: str, *args: str) -> tuple[pytest.RunResult, dict]:
    report = pytester.path / f"{name}.json"
    result = pytester.runpytest_subprocess("--sebench-model=reference", f"--sebench-data={FIXTURE_DATA}",
                                           f"--sebench-report={report}", "-p", "no:randomly", *args)
    return result, json.loads(report.read_text())


def ran(report: dict) -> set[str]:
    return {item["id"] for item in report["items"]}


def test_the_subset_is_stable_per_split_and_moves_with_the_seed():
    first = subset_ids(BENCH.problems, 4, seed=0)
    assert first == subset_ids(list(reversed(BENCH.problems)), 4, seed=0)  # order does not matter
    assert len(first) == 4 * len(SPLITS)
    assert {split: sum(1 for p in BENCH.problems if p.id in first and p.split == split) for split in SPLITS} == \
        dict.fromkeys(SPLITS, 4)
    assert subset_ids(BENCH.problems, 4, seed=1) != first
    assert subset_ids(BENCH.problems, 1000, seed=0) == {problem.id for problem in BENCH.problems}


@pytest.mark.parametrize("workers", ["-n0", "-n2"])
def test_a_limited_run_records_its_subset(pytester, workers):
    result, report = run(pytester, "r", "--sebench-limit=4", "--sebench-seed=3", workers)
    result.assert_outcomes(passed=4 * len(SPLITS), deselected=len(BENCH.problems) - 4 * len(SPLITS)
                           if workers == "-n0" else 0)
    result.stdout.fnmatch_lines(["sebench: a stable random subset of at most 4 problems per split "
                                 "(--sebench-limit=4, --sebench-seed=3)"])
    assert ran(report) == subset_ids(BENCH.problems, 4, seed=3)
    assert report["provenance"]["subset"] == {"limit": 4, "seed": 3}
    assert report["summary"]["overall"]["items"] == 4 * len(SPLITS)


def test_a_baseline_of_another_subset_is_compared_on_the_shared_items_and_says_so(pytester):
    _, base = run(pytester, "base", "--sebench-limit=10", "--sebench-seed=1")
    result, now = run(pytester, "now", "--sebench-limit=10", "--sebench-seed=2",
                      f"--sebench-baseline={pytester.path / 'base.json'}")
    shared = ran(base) & ran(now)
    assert 0 < len(shared) < len(ran(now))
    result.stdout.fnmatch_lines([
        f"*{len(ran(now) - ran(base))} items run now but not in the baseline*",
        "*warning: the baseline ran a subset (--sebench-limit=10, --sebench-seed=1) and this run a subset "
        "(--sebench-limit=10, --sebench-seed=2): items are compared where both ran them only*"])
    assert now["comparison"]["paired"]["overall"]["items"] == len(shared)
