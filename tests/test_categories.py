"""Every grading category through the whole pipeline: extraction, static checks, the local sandbox, the
comparison against the label, and the plugin on a rollout file (-n0 and -n2); then the real data."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter

import pytest

from conftest import read_rows, write_rows
from pytest_sebench.data.jsonl import read_jsonl
from pytest_sebench.data.library import load_library
from pytest_sebench.data.problems import problem_from_row
from pytest_sebench.execution.base import Job, Limits, Sandbox
from pytest_sebench.execution.backends.local import LocalSandbox
from pytest_sebench.grade.static import analyse
from pytest_sebench.grade.verdict import (CORRECT, EXE_ERROR, NUMPY, RESULT_ERROR, WITHOUT_LIBRARY, judge,
                                          rewrite_input, runnable_code, verdict_from_execution)
from pytest_sebench.model.reference import translate


class Unreachable(Sandbox):
    """For verdicts the code alone decides: the pipeline must not get as far as running anything."""

    name = "unreachable"

    def execute(self, job: Job):
        raise AssertionError(f"the sandbox was asked to run {job.entry_point}(); a static verdict was due")


@pytest.fixture(scope="module")
def library(fixture_data):
    return load_library(fixture_data / "api_doc.jsonl")


@pytest.fixture(scope="module")
def balance(fixture_data):
    """single_test row 0: running_balance(opening, transactions) = opening + cumsum(transactions)."""
    problem = problem_from_row(next(read_jsonl(fixture_data / "single_test.jsonl")), "single_test", 0)
    assert problem.entry_point == "running_balance" and problem.cases[1].input.startswith("opening=0,")
    return problem


@pytest.fixture(scope="module")
def sandbox():
    return LocalSandbox(Limits(timeout_seconds=10))


def fenced(code: str, tag: str = "python") -> str:
    return f"Here is my solution.\n```{tag}\n{code}```\nIt uses qel.\n"


SIGNATURE = "def running_balance(opening, transactions):\n"
RIGHT = SIGNATURE + "    return opening + qel.vihalir(transactions)\n"
WRONG = SIGNATURE + "    return qel.vihalir(transactions)\n"  # forgets the opening balance
USES_LIBRARY = "    qel.dumim(qel.pihirib([0]))\n"  # enough to pass the library check


def test_correct(balance, library, sandbox):
    verdict = judge(balance, fenced(RIGHT), library, sandbox)
    assert verdict.category == CORRECT, verdict
    assert len(verdict.cases) == len(balance.cases) and all(case.passed for case in verdict.cases)


def test_correct_within_the_absolute_tolerance(balance, library, sandbox):
    verdict = judge(balance, fenced(RIGHT.replace("transactions)\n", "transactions) + 0.005\n")), library, sandbox)
    assert verdict.category == CORRECT, verdict


@pytest.mark.parametrize("code", [
    WRONG,
    RIGHT.replace("transactions)\n", "transactions) + 0.02\n"),  # beyond the tolerance
    "class AlwaysEqual:\n    def __eq__(self, other):\n        return True\n" + RIGHT.replace(
        "return opening + qel.vihalir(transactions)", "qel.vihalir(transactions)\n    return AlwaysEqual()"),
], ids=["wrong_value", "off_by_0.02", "always_equal_object"])
def test_result_error(balance, library, sandbox, code):
    verdict = judge(balance, fenced(code), library, sandbox)
    assert verdict.category == RESULT_ERROR, verdict
    assert all(case.error is None for case in verdict.cases)
    failing = [case for case in verdict.cases if not case.passed]
    assert failing and all(case.got is not None and case.detail for case in failing)
    if code == WRONG:  # its second case starts from 0, where forgetting the opening does no harm
        assert [case.passed for case in verdict.cases][:2] == [False, True]


class Recording(Sandbox):
    """The local sandbox, keeping the jobs it was given."""

    name = "recording"

    def __init__(self, inner: Sandbox) -> None:
        self.inner, self.jobs = inner, []

    def execute(self, job: Job):
        self.jobs.append(job)
        return self.inner.execute(job)


def with_labels(problem, labels: dict[int, str]):
    cases = tuple(dataclasses.replace(case, expected=labels.get(index, case.expected))
                  for index, case in enumerate(problem.cases))
    return dataclasses.replace(problem, cases=cases)


TEXT = SIGNATURE + "    qel.vihalir(transactions)\n    return {answer!r}\n"


@pytest.mark.parametrize("answer, category", [("balance ok", CORRECT), ("balance  ok\n", CORRECT),
                                              ("balance low", RESULT_ERROR)])
def test_labels_that_do_not_parse_are_compared_as_printed_text(balance, library, sandbox, answer, category):
    """Bare words print without quotes and parse as no value: the reference compares such labels with
    what the answer printed, whitespace squashed."""
    problem = with_labels(balance, {index: "balance ok" for index in range(len(balance.cases))})
    recording = Recording(sandbox)
    verdict = judge(problem, fenced(TEXT.format(answer=answer)), library, recording)
    assert verdict.category == category, verdict
    assert recording.jobs[-1].text_cases == tuple(range(len(balance.cases)))
    if category == RESULT_ERROR:
        assert all(case.detail == "label compared as text (it does not parse)" for case in verdict.cases)


def test_the_printed_text_is_asked_for_only_where_a_label_does_not_parse(balance, library, sandbox):
    """The first time, labels are read while the answer runs, betting that they parse: it runs again
    with the text asked for. Later samples of the problem ask for it at once."""
    problem = with_labels(balance, {1: "a label in words"})
    recording = Recording(sandbox)
    verdict = judge(problem, fenced(RIGHT), library, recording)
    assert [job.text_cases for job in recording.jobs] == [(), (1,)]
    assert [case.passed for case in verdict.cases] == [index != 1 for index in range(len(balance.cases))]
    assert verdict.cases[1].detail == "label compared as text (it does not parse)"
    execution = sandbox.execute(recording.jobs[1])
    assert [run.printed is not None for run in execution.cases] == [index == 1 for index in range(len(balance.cases))]
    assert execution.cases[1].printed.startswith("[")  # str() of the array the answer returned
    again = Recording(sandbox)
    assert judge(problem, fenced(RIGHT), library, again).cases == verdict.cases
    assert [job.text_cases for job in again.jobs] == [(1,)]


def test_no_second_run_when_the_text_cannot_change_the_verdict(balance, library, sandbox):
    problem = with_labels(balance, {0: "words, first sample", 1: "words, first sample"})
    recording = Recording(sandbox)
    verdict = judge(problem, fenced(SIGNATURE + "    if opening > -1:\n        raise ValueError('no')\n"
                                                "    return qel.vihalir(transactions)\n"),
                    library, recording)
    assert verdict.category == EXE_ERROR and len(recording.jobs) == 1


@pytest.mark.parametrize("body, limits, error", [
    ("    raise ValueError('no balance today')\n    return opening + qel.vihalir(transactions)\n", Limits(),
     "ValueError: no balance"),
    ("    if opening == 0:\n        raise ZeroDivisionError('zero')\n"
     "    return opening + qel.vihalir(transactions)\n", Limits(), "ZeroDivisionError: zero"),
    ("    while qel.dumim(qel.pihirib([1])):\n        pass\n    return 0\n", Limits(timeout_seconds=1), "Timeout"),
    ("    import os\n    os._exit(3)\n    return qel.vihalir(transactions)\n", Limits(), "Exited"),
], ids=["raises", "one_case_raises", "timeout", "process_exits"])
def test_exe_error(balance, library, body, limits, error):
    verdict = judge(balance, fenced(SIGNATURE + body), library, LocalSandbox(limits))
    assert verdict.category == EXE_ERROR, verdict
    errors = [case.error for case in verdict.cases if case.error is not None]
    assert errors and all(text.startswith(error) for text in errors), errors
    if "opening == 0" in body:  # only the case that starts from 0 raised; the others are correct
        assert [case.error is None and case.passed for case in verdict.cases].count(False) == 1


WITHOUT = {
    "no_library_call": (SIGNATURE + "    out, total = [], opening\n    for t in transactions:\n"
                        "        total += t\n        out.append(total)\n    return out\n", "makes no call through qel"),
    "only_the_constructor": (SIGNATURE + "    out, total = [], opening\n    for t in qel.pihirib(transactions):\n"
                             "        total += t\n        out.append(total)\n    return out\n", "array constructor"),
    "no_return": (SIGNATURE + "    print(opening + qel.vihalir(transactions))\n", "returns no value"),
    "bare_return": (SIGNATURE + "    qel.vihalir(transactions)\n    return\n", "returns no value"),
    "library_only_in_a_helper": ("def helper(t):\n    return qel.vihalir(t)\n" + SIGNATURE
                                 + "    return opening + helper(transactions)\n", "makes no call through qel"),
    "missing_entry_function": (RIGHT.replace("running_balance", "balance"), "does not define running_balance"),
    "syntax_error": (RIGHT.replace("):", ")"), "does not parse"),
}


@pytest.mark.parametrize("name", WITHOUT)
def test_without_library(balance, library, name):
    code, reason = WITHOUT[name]
    verdict = judge(balance, fenced(code), library, Unreachable())
    assert verdict.category == WITHOUT_LIBRARY and reason in verdict.reason, verdict
    assert verdict.cases == () and verdict.code == code


@pytest.mark.parametrize("response", [
    "The answer is `opening + qel.vihalir(transactions)`.",
    "```\n" + RIGHT + "```\n",  # a fence that does not say Python
    "```javascript\n" + RIGHT + "```\n",
], ids=["no_fence", "untagged_fence", "other_language"])
def test_without_library_when_there_is_no_python_block(balance, library, response):
    verdict = judge(balance, response, library, Unreachable())
    assert verdict.category == WITHOUT_LIBRARY and verdict.code == "", verdict
    assert verdict.reason == "the answer has no fenced Python block"


NUMPY_ROUTES = {
    "import": ("import numpy as np\n", ""),
    "import_submodule": ("import numpy.linalg\nnp = numpy\n", ""),
    "from_import": ("from numpy import cumsum\nclass np:\n    cumsum = staticmethod(cumsum)\n", ""),
    "import_in_function": ("", "    import numpy as np\n"),
    "dunder_import": ("np = __import__('numpy')\n", ""),
    "importlib": ("import importlib\nnp = importlib.import_module('numpy')\n", ""),
    "sys_modules": ("import sys\nnp = sys.modules['numpy']\n", ""),
    # reached through the library's own module globals; no literal 'numpy' to give it away
    "function_globals": ("np = qel.vihalir.__globals__['sys'].modules.get('nu' + 'mpy')\n", ""),
}


def numpy_answer(route: str) -> str:
    head, inside = NUMPY_ROUTES[route]
    return head + SIGNATURE + inside + USES_LIBRARY + "    return (opening + np.cumsum(transactions)).tolist()\n"


@pytest.mark.parametrize("route", NUMPY_ROUTES)
def test_numpy_is_caught_before_running(balance, library, route):
    verdict = judge(balance, fenced(numpy_answer(route)), library, Unreachable())
    assert verdict.category == NUMPY, verdict


@pytest.mark.parametrize("route", NUMPY_ROUTES)
def test_numpy_routes_are_caught_at_run_time_too(balance, library, sandbox, route):
    """Past the static check (as an obfuscated route would be), the sandbox sees each route itself."""
    program = runnable_code(numpy_answer(route), library)
    job = Job(library.runtime_spec(), program, "running_balance",
              tuple(rewrite_input(case.input, library) for case in balance.cases))
    verdict = verdict_from_execution(balance, program, sandbox.execute(job))
    assert verdict.category == NUMPY and verdict.reason.startswith("reached NumPy at run time"), verdict


EXTRACTION = {
    "last_block_wins": (fenced(numpy_answer("import")) + "Better, without NumPy:\n" + fenced(RIGHT), CORRECT),
    "last_block_wins_even_if_wrong": (fenced(RIGHT) + "Or maybe:\n" + fenced(WRONG), RESULT_ERROR),
    "py": (fenced(RIGHT, "py"), CORRECT),
    "python3": (fenced(RIGHT, "python3"), CORRECT),
    "upper_case_tag": (fenced(RIGHT, "Python"), CORRECT),
    "crlf": (fenced(RIGHT).replace("\n", "\r\n"), CORRECT),
    "think_block_code_is_not_the_answer": ("<think>\n" + fenced(RIGHT) + "</think>\nI cannot tell.", WITHOUT_LIBRARY),
    "think_block_before_answer": ("<think>\n" + fenced(RIGHT) + "</think>\n" + fenced(WRONG), RESULT_ERROR),
    "think_block_with_unclosed_fence": ("<think>\nstart with ```python\nx = 1\n</think>\n" + fenced(RIGHT), CORRECT),
}


@pytest.mark.parametrize("name", EXTRACTION)
def test_code_extraction(balance, library, sandbox, name):
    response, category = EXTRACTION[name]
    verdict = judge(balance, response, library, sandbox)
    assert verdict.category == category, verdict
    assert "\r" not in verdict.code


# ---------------------------------------------------------------------------- the plugin, on rollouts

def rollout(row: dict, code: str | None, signature: bool = True) -> dict:
    line = {key: row[key] for key in ("query", "test_cases", "right_exe_result")}
    line["response"] = fenced(code) if code is not None else "I do not know."
    if signature:
        line["function_name"] = row["function_name"]
    return line


HELPER_FIRST = "def helper(t):\n    return qel.vihalir(t)\n" + SIGNATURE + "    return opening + helper(transactions)\n"
ROLLOUTS = [  # (code, with function_name, category)
    (RIGHT, True, CORRECT),
    (WRONG, True, RESULT_ERROR),
    (SIGNATURE + "    raise ValueError('no')\n    return qel.vihalir(transactions)\n", True, EXE_ERROR),
    (SIGNATURE + "    while qel.dumim(qel.pihirib([1])):\n        pass\n    return 0\n", True, EXE_ERROR),
    (None, True, WITHOUT_LIBRARY),
    (numpy_answer("sys_modules"), True, NUMPY),
    (RIGHT.replace("running_balance", "whatever_name"), False, CORRECT),  # the first def is called
    (HELPER_FIRST, False, EXE_ERROR),  # helper(opening=..., transactions=...) is called and fails
    (HELPER_FIRST, True, WITHOUT_LIBRARY),  # the named function makes no library call itself
]


@pytest.mark.parametrize("workers", ["-n0", "-n2"])
def test_rollouts_through_the_plugin(pytester, fixture_data, workers):
    row = read_rows(fixture_data / "single_test.jsonl")[0]
    path = write_rows(pytester.path / "rollouts.jsonl", [rollout(row, code, signed) for code, signed, _ in ROLLOUTS])
    report = pytester.path / "report.json"
    result = pytester.runpytest_subprocess("-p", "no:randomly", f"--sebench-rollouts={path}",
                                           f"--sebench-data={fixture_data}", "--sebench-timeout=1",
                                           f"--sebench-report={report}", workers)
    expected = [category for _, _, category in ROLLOUTS]
    result.assert_outcomes(passed=expected.count(CORRECT), failed=len(expected) - expected.count(CORRECT))
    data = json.loads(report.read_text())
    got = {item["id"]: item["samples"][0]["category"] for item in data["items"]}
    assert got == {f"rollouts/{index:04d}": category for index, category in enumerate(expected)}
    counts = data["summary"]["overall"]["categories"]
    assert {category: count for category, count in counts.items() if count} == Counter(expected)
    result.stdout.fnmatch_lines(["*error:*Timeout: the answer ran longer than 1 s*",
                                 "*numpy/numpy_use: line *: looks numpy up by name*"])


# ---------------------------------------------------------------------------------- the real data

# Rows whose own NumPy reference, once translated, makes no library call of its own (pure Python,
# NumPy names the mapping lacks such as np.trapezoid, or only the array constructor): the library check
# comes first, as in the reference grader, so adding a NumPy import cannot make them `numpy`.
REFERENCES_WITHOUT_LIBRARY = {"0039-array", "0121-log10", "0184-trapz", "0221-multi_dot",
                              "0223-matrix_transpose", "0227-matrix_norm", "0230-squeeze"}


@pytest.fixture(scope="module")
def real(shared_data):
    library = load_library(shared_data / "api_doc.jsonl")
    lines = list(read_jsonl(shared_data / "single_test.jsonl"))
    problems = [problem_from_row(line, "single_test", index) for index, line in enumerate(lines)]
    assert len(problems) == 259 and library.name == "zwc"
    return library, problems, [line.record for line in lines]


def real_categories(real, response_of) -> dict[str, str]:
    library, problems, rows = real
    return {problem.id.split("/")[1]: judge(problem, response_of(row), library, Unreachable()).category
            for problem, row in zip(problems, rows, strict=True)}


def test_real_pure_python_right_code_is_without_library(real):
    categories = real_categories(real, lambda row: fenced(row["right_code"]))
    assert Counter(categories.values()) == {WITHOUT_LIBRARY: 259}


def test_real_untranslated_numpy_reference_is_without_library(real):
    categories = real_categories(real, lambda row: fenced(row["example_output"][0]))
    assert Counter(categories.values()) == {WITHOUT_LIBRARY: 259}


def test_real_translated_reference_with_numpy_import_is_numpy(real):
    library, problems, rows = real
    with_numpy = real_categories(real, lambda row: fenced(
        "import numpy as np\n" + translate(row["example_output"][0], library)))
    without_library = {problem.id.split("/")[1] for problem, row in zip(problems, rows, strict=True) if analyse(
        runnable_code(translate(row["example_output"][0], library), library), library.name,
        problem.entry_point, library.array_constructor).library_problem is not None}
    assert without_library == REFERENCES_WITHOUT_LIBRARY
    assert {name for name, category in with_numpy.items() if category != NUMPY} == REFERENCES_WITHOUT_LIBRARY
    assert {with_numpy[name] for name in REFERENCES_WITHOUT_LIBRARY} == {WITHOUT_LIBRARY}


def test_real_right_code_rollouts_through_the_plugin(pytester, shared_data):
    rows = read_rows(shared_data / "single_test.jsonl")
    lines = [{key: row[key] for key in ("query", "test_cases", "right_exe_result")}
             | {"response": fenced(row["right_code"])} for row in rows]  # no function_name: the first def
    path = write_rows(pytester.path / "rollouts.jsonl", lines)
    report = pytester.path / "report.json"
    result = pytester.runpytest_subprocess("-p", "no:randomly", f"--sebench-rollouts={path}",
                                           f"--sebench-data={shared_data}", f"--sebench-report={report}", "-n2")
    result.assert_outcomes(failed=259)
    summary = json.loads(report.read_text())["summary"]["overall"]
    assert summary["items"] == 259 and summary["categories"][WITHOUT_LIBRARY] == 259
