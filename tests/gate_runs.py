"""Whole runs of the plugin for the gate's tests (test_gate_run.py, test_markdown.py, test_cli_compare.py).

Answers come from rollout files (K = 1: one line per fixture problem, so each item's fate is chosen
exactly) or from the fake model server (K > 1); baselines are real reports of earlier runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURE_DATA, write_rows
from pytest_sebench.data.benchmark import load_benchmark
from pytest_sebench.model.reference import reference_response

WORKERS = ["-n0", "-n2"]
BENCH = load_benchmark(data=str(FIXTURE_DATA), docs=None, splits=("single_test",), splits_explicit=True,
                       rollouts=None, cache_dir=Path("."))
SINGLE = BENCH.problems
WRONG = "```python\nimport qel\ndef {name}(*args, **kwargs):\n    return qel.{sum}([0.5])\n```"
USAGE_ERROR = pytest.ExitCode.USAGE_ERROR


def wrong_answer(problem) -> str:
    """Calls the right entry point through the library, returns a wrong value (result_error)."""
    return WRONG.format(name=problem.entry_point, sum=BENCH.library.main["sum"])


def right_answer(problem) -> str:
    return reference_response(problem, BENCH.library)


def rollout_file(path: Path, solved: list[bool]) -> Path:
    """One rollout line per fixture problem: right where ``solved`` says so, wrong elsewhere."""
    rows = [{"query": problem.query, "function_name": problem.signature,
             "selected_functions": list(problem.functions),
             "test_cases": [{"input": case.input} for case in problem.cases],
             "right_exe_result": "#".join(case.expected for case in problem.cases),
             "response": right_answer(problem) if ok else wrong_answer(problem)}
            for problem, ok in zip(SINGLE, solved, strict=True)]
    return write_rows(path, rows)


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:randomly", f"--sebench-data={FIXTURE_DATA}", *args)


def rollout_run(pytester: pytest.Pytester, name: str, solved: list[bool], *args: str) -> pytest.RunResult:
    path = rollout_file(pytester.path / f"{name}.jsonl", solved)
    return run(pytester, f"--sebench-rollouts={path}", *args)


def report_of(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def make_baseline(pytester: pytest.Pytester, solved: list[bool]) -> Path:
    path = pytester.path / "baseline.json"
    result = rollout_run(pytester, "base", solved, f"--sebench-report={path}")
    assert path.is_file(), result.stdout.str()
    return path


N = len(SINGLE)
# items 0-3: regression (1 -> 0), known gap (0 -> 0), still solved (1 -> 1), improvement (0 -> 1)
BASE = [True, False, True, False] + [True] * (N - 4)
NOW = [False, False, True, True] + [True] * (N - 4)


# -- K > 1: the fake model server ---------------------------------------------------------------------

def served_run(pytester, server, *args):
    return run(pytester, "--sebench-model=ckpt", f"--sebench-base-url={server.base_url}",
               "--sebench-backoff=0.01", "--sebench-split=single_test", "--sebench-samples=5",
               f"--sebench-cache={pytester.path / 'cache'}", "-k", "0000 or 0001 or 0002 or 0003", *args)


def with_counts(report: dict, counts: dict[str, int]) -> dict:
    """The report with item i's first counts[i] samples correct and the rest wrong."""
    for item in report["items"]:
        if item["id"] in counts:
            for index, sample in enumerate(item["samples"]):
                sample["category"] = "correct" if index < counts[item["id"]] else "result_error"
    return report


def plugin_run(where: Path, *args: str) -> None:
    """``pytest`` with the plugin in a subprocess in ``where``, as pytester's runpytest_subprocess (for
    the reports a module's tests share: pytester is per test)."""
    env = {key: value for key, value in os.environ.items() if key != "PYTEST_ADDOPTS"}
    subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly",
                    f"--sebench-data={FIXTURE_DATA}", *args], cwd=where, env=env, capture_output=True,
                   timeout=300)
