"""Correct answers pass even where the reference grader's text comparison fails them: NumPy's line
wrapping of long arrays, complex numbers, and containers of arrays printed with their repr."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import FIXTURE_DATA
from pytest_sebench.data.jsonl import Line
from pytest_sebench.data.library import load_library
from pytest_sebench.data.problems import problem_from_rollout
from pytest_sebench.execution.base import Limits
from pytest_sebench.execution.backends.local import LocalSandbox
from pytest_sebench.grade.verdict import CORRECT, RESULT_ERROR, judge

LIBRARY = load_library(FIXTURE_DATA / "api_doc.jsonl")
ARANGE, LINSPACE = LIBRARY.main["arange"], LIBRARY.main["linspace"]


def rollout(label_values: list, body: str) -> tuple:
    """A one-case-per-value problem whose label is what NumPy's print showed for each value."""
    cases = [{"input": f"k={index}", "output": ""} for index in range(len(label_values))]
    record = {"query": "q", "test_cases": cases, "right_exe_result": "#".join(map(str, label_values)),
              "response": f"```python\ndef solve(k):\n{body}\n```", "function_name": "def solve(k):"}
    return problem_from_rollout(Line("mem.jsonl", 1, record), 0), record["response"]


@pytest.fixture(scope="module")
def sandbox() -> LocalSandbox:
    return LocalSandbox(Limits(timeout_seconds=20))


def test_long_wrapped_float_arrays(sandbox):
    values = [np.arange(40 + k) / 3 for k in range(3)]
    assert all("\n" in str(value) for value in values)  # NumPy wrapped them over lines
    problem, response = rollout(values, f"    return qel.{ARANGE}(40 + k) / 3")
    assert judge(problem, response, LIBRARY, sandbox).category == CORRECT


def test_complex_results(sandbox):
    values = [np.linspace(0, k + 1, 5) * (1 + 2j) for k in range(2)]
    problem, response = rollout(values, f"    return qel.{LINSPACE}(0, k + 1, 5) * (1 + 2j)")
    assert judge(problem, response, LIBRARY, sandbox).category == CORRECT


def test_tuple_of_arrays_printed_with_repr(sandbox):
    values = [(np.arange(3) * 1.5, np.arange(k + 2)) for k in range(2)]
    assert "array(" in str(values[0])
    problem, response = rollout(values, f"    return (qel.{ARANGE}(3) * 1.5, qel.{ARANGE}(k + 2))")
    assert judge(problem, response, LIBRARY, sandbox).category == CORRECT


def test_a_wrong_value_in_a_wrapped_array_still_fails(sandbox):
    values = [np.arange(40) / 3]
    problem, response = rollout(values, f"    return qel.{ARANGE}(40) / 3 + (qel.{ARANGE}(40) == 39)")
    verdict = judge(problem, response, LIBRARY, sandbox)
    assert verdict.category == RESULT_ERROR
    assert "[39]" in (verdict.cases[0].detail or "")
