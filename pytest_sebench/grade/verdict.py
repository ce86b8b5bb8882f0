"""One verdict per answer, in the reference grader's order of categories.

1. ``without_zwc``: the code does not use the library (static check);
2. ``numpy``: the code reaches NumPy (seen in the code, or by the sandbox while it ran);
3. ``exe_error``: a case raised, timed out or the process died;
4. ``result_error``: a value differs from the label;
5. ``correct``.
``error`` is ours: the sandbox failed, so the item is an infrastructure ERROR, never a verdict on the model.
The comparison happens here, on the host, against labels the sandbox never saw.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import asdict, dataclass, field

from ..data.library import Library
from ..data.problems import Case, Problem
from ..execution.base import Execution, Job, Sandbox
from ..execution.values import render
from .compare import describe_mismatch, values_match
from .extract import extract_code
from .labels import AS_TEXT, Label, known_labels, read_labels, text_cases
from .static import analyse

CORRECT = "correct"
RESULT_ERROR = "result_error"
EXE_ERROR = "exe_error"
WITHOUT_LIBRARY = "without_zwc"  # the reference grader's name, whatever the library is called
NUMPY = "numpy"
ERROR = "error"
CATEGORIES = (CORRECT, RESULT_ERROR, EXE_ERROR, WITHOUT_LIBRARY, NUMPY, ERROR)
TOLERANCE = 1e-2


@dataclass(frozen=True)
class CaseVerdict:
    input: str
    expected: str
    got: str | None
    passed: bool
    error: str | None = None
    detail: str | None = None  # why the value does not match


@dataclass(frozen=True)
class Verdict:
    category: str
    reason: str
    code: str
    cases: tuple[CaseVerdict, ...] = ()
    seconds: float = 0.0
    stderr: str = ""
    skipped_names: tuple[str, ...] = field(default=())
    sample: int = 0
    answer: dict = field(default_factory=dict)  # what the model side reports: tokens, latency, cache

    @property
    def passed(self) -> bool:
        return self.category == CORRECT

    def to_record(self) -> dict:
        """Plain builtins only: this travels in report.user_properties (and through xdist)."""
        record = asdict(self)
        record["passed"] = self.passed
        record["cases"] = [asdict(case) for case in self.cases]
        record["skipped_names"] = list(self.skipped_names)
        return record


def rewrite_input(text: str, library: Library) -> str:
    """Inputs may build arrays with ``np.array(...)``: the harness calls the library's constructor."""
    if library.array_constructor is None:
        return text
    return re.sub(r"\b(?:np|numpy)\.array\(", f"{library.name}.{library.array_constructor}(", text)


def runnable_code(code: str, library: Library) -> str:
    return f"import {library.name}\n{code}"


def judge(problem: Problem, response: str, library: Library, sandbox: Sandbox) -> Verdict:
    code = extract_code(response)
    if not code.strip():
        return Verdict(WITHOUT_LIBRARY, "the answer has no fenced Python block", code)
    program = runnable_code(code, library)
    findings = analyse(program, library.name, problem.entry_point, library.array_constructor)
    if findings.library_problem is not None:
        return Verdict(WITHOUT_LIBRARY, findings.library_problem, code)
    if findings.numpy_use is not None:
        return Verdict(NUMPY, findings.numpy_use, code)
    assert findings.entry_point is not None  # a library problem otherwise
    labels = known_labels(problem)
    # Labels not yet read are read while the sandbox runs the answer, betting that they all parse
    # (real ones do); if one does not, the answer runs again with its printed text asked for.
    job = Job(library.runtime_spec(), program, findings.entry_point,
              tuple(rewrite_input(case.input, library) for case in problem.cases),
              text_cases=text_cases(labels) if labels is not None else ())
    collect = sandbox.submit(job)
    try:
        labels = labels if labels is not None else read_labels(problem)
    finally:
        execution = collect()
    wanted = text_cases(labels)
    if not set(wanted) <= set(job.text_cases or ()) and _values_decide(execution):
        execution = sandbox.execute(dataclasses.replace(job, text_cases=wanted))
    return verdict_from_execution(problem, code, execution, labels)


def _values_decide(execution: Execution) -> bool:
    """Does the verdict depend on the returned values (and so on printed texts)? Not when the answer
    reached NumPy or a case did not run: the verdict is then decided whatever they are."""
    return execution.numpy_use is None and all(execution.case_failure(index) is None
                                               for index in range(len(execution.cases)))


def verdict_from_execution(problem: Problem, code: str, execution: Execution,
                           labels: tuple[Label, ...] | None = None) -> Verdict:
    """``labels``: ``read_labels(problem)``, when the caller has them already."""
    labels = read_labels(problem) if labels is None else labels
    cases = tuple(_case_verdict(case, label, execution, index)
                  for index, (case, label) in enumerate(zip(problem.cases, labels, strict=True)))
    failed_to_run = [index for index, case in enumerate(cases) if case.error is not None]

    def verdict(category: str, reason: str) -> Verdict:
        return Verdict(category, reason, code=code, cases=cases, seconds=execution.seconds,
                       stderr=execution.stderr[-2000:], skipped_names=execution.skipped_names)

    if execution.numpy_use is not None:  # decided at run time: whatever the cases returned
        return verdict(NUMPY, f"reached NumPy at run time: {execution.numpy_use}")
    if failed_to_run:
        first = cases[failed_to_run[0]]
        return verdict(EXE_ERROR, f"{len(failed_to_run)} of {len(cases)} cases raised or did not finish; "
                                  f"first: {first.error}")
    wrong = [index for index, case in enumerate(cases) if not case.passed]
    if wrong:
        return verdict(RESULT_ERROR, f"{len(wrong)} of {len(cases)} cases returned a wrong value")
    return verdict(CORRECT, f"all {len(cases)} cases match")


def _case_verdict(case: Case, expected: Label, execution: Execution, index: int) -> CaseVerdict:
    failure = execution.case_failure(index)
    if failure is not None:
        return CaseVerdict(case.input, case.expected, None, False, error=str(failure))
    run = execution.cases[index]
    assert run is not None
    got = render(run.value)
    if expected is AS_TEXT:
        # As the reference grader does when a label does not parse: compare the printed texts.
        same = run.printed is not None and _squash(run.printed) == _squash(case.expected)
        return CaseVerdict(case.input, case.expected, got, same,
                           detail=None if same else "label compared as text (it does not parse)")
    if values_match(expected, run.value, TOLERANCE):
        return CaseVerdict(case.input, case.expected, got, True)
    return CaseVerdict(case.input, case.expected, got, False,
                       detail=describe_mismatch(expected, run.value, TOLERANCE))


def _squash(text: str) -> str:
    return " ".join(text.split())


def infrastructure_error(reason: str, code: str = "") -> Verdict:
    return Verdict(ERROR, reason, code)
