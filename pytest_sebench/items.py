"""The pytest face of a problem: one item each, graded in setup, judged in call.

Setup obtains the answer and runs it, so a failure of our own infrastructure there becomes a pytest
ERROR (never a FAIL); the call phase only turns the verdict into pass or fail.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .data.problems import Problem
from .gate.outcomes import FAIL, REGRESSION, XFAIL, ItemOutcome
from .grade.extract import head_and_tail, shorten
from .grade.taxonomy import classify
from .grade.verdict import Verdict
from .records.properties import PROPERTY

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr, TracebackStyle

    from .grading import ItemGrader

MAX_CASES_SHOWN = 5


class WrongAnswer(Exception):
    def __init__(self, verdicts: list[Verdict], outcome: ItemOutcome) -> None:
        super().__init__(outcome.reason or verdicts[0].reason)
        self.verdicts = verdicts
        self.outcome = outcome


class SebenchCollector(pytest.Collector):
    """Parent of all SE-Bench items, so node ids read ``sebench::single_test/0042-amin``."""

    def __init__(self, *, grader: "ItemGrader", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.grader = grader

    def collect(self) -> list[pytest.Item]:
        return [SebenchItem.from_parent(self, name=problem.id, problem=problem)
                for problem in self.grader.benchmark.problems]


class SebenchItem(pytest.Item):
    def __init__(self, *, problem: Problem, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.problem = problem
        self.verdicts: list[Verdict] = []
        self.add_marker("sebench")
        self.add_marker(problem.split)

    @property
    def grader(self) -> "ItemGrader":
        assert isinstance(self.parent, SebenchCollector)
        return self.parent.grader

    def setup(self) -> None:
        self.verdicts, infrastructure_failure = self.grader.grade(self.problem)
        self.user_properties.append((PROPERTY, self.grader.record(self.problem, self.verdicts).to_json()))
        if self.grader.stop_reason is not None:
            self.session.shouldstop = self.grader.stop_reason  # after this item; xdist stops too
        if infrastructure_failure:
            pytest.fail(f"infrastructure error (not the model's fault): {infrastructure_failure}",
                        pytrace=False)

    def _drop_record(self) -> None:
        """The record rides on the setup report only: the call and teardown reports need not carry
        (nor xdist send) it again."""
        self.user_properties[:] = [prop for prop in self.user_properties if prop[0] != PROPERTY]

    def teardown(self) -> None:
        self._drop_record()
        self.verdicts = []  # the failure text is written by now: a worker keeps no answer's text

    def runtest(self) -> None:
        self._drop_record()
        # Without a baseline an item passes when some sample is correct; with one, see gate/outcomes.py.
        outcome = self.grader.outcome(self.problem, self.verdicts)
        if outcome.result == XFAIL:
            pytest.xfail(f"{outcome.reason} [{describe_failure(first_failure(self.verdicts), self.library_name)}]")
        if outcome.result == FAIL:
            raise WrongAnswer(self.verdicts, outcome)

    @property
    def library_name(self) -> str:
        return self.grader.benchmark.library.name

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: TracebackStyle | None = None) -> str | TerminalRepr:
        if isinstance(excinfo.value, WrongAnswer):
            return failure_text(self.problem, excinfo.value.verdicts, excinfo.value.outcome,
                                self.library_name)
        if isinstance(excinfo.value, pytest.xfail.Exception):
            # pytest asks for a representation before it sees the xfail; a traceback with source
            # costs a lot per item (see BENCHMARKS.md) and is never shown (the reason is)
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path | str, int | None, str]:
        file, _, line = self.problem.where.rpartition(":")
        return file, int(line) - 1 if line.isdigit() else None, self.problem.id


def describe_failure(verdict: Verdict, library: str) -> str:
    """``result_error/wrong_value: 2 of 5 cases returned a wrong value``: category, class, reason."""
    taxonomy = classify(verdict.to_record(), library)
    return f"{verdict.category}{'/' + taxonomy if taxonomy else ''}: {verdict.reason}"


def first_failure(verdicts: list[Verdict]) -> Verdict:
    """The sample a failure message describes: the first that is not correct (a correct one says
    nothing about why the item failed)."""
    return next((verdict for verdict in verdicts if not verdict.passed), verdicts[0])


def failure_text(problem: Problem, verdicts: list[Verdict], outcome: ItemOutcome, library: str) -> str:
    verdict = first_failure(verdicts)
    lines = [outcome.reason] if outcome.label == REGRESSION else []
    lines += [describe_failure(verdict, library), f"problem: {problem.id} ({problem.where})"]
    if len(verdicts) > 1:
        categories = ", ".join(sorted({v.category for v in verdicts}))
        correct = sum(v.passed for v in verdicts)
        lines.append(f"{correct}/{len(verdicts)} samples correct ({categories}); "
                     f"failing sample {verdict.sample} below")
    failing = [case for case in verdict.cases if not case.passed]
    for case in failing[:MAX_CASES_SHOWN]:
        lines.append(f"  input:    {case.input}")
        lines.append(f"  expected: {case.expected}")
        if case.error is not None:
            lines.append(f"  error:    {case.error}")
        else:
            lines.append(f"  got:      {case.got}")
            if case.detail:
                lines.append(f"  why:      {case.detail}")
    if len(failing) > MAX_CASES_SHOWN:
        lines.append(f"  ... and {len(failing) - MAX_CASES_SHOWN} more failing cases")
    if verdict.code.strip():
        lines += ["code:", *("  " + line for line in shorten(verdict.code).splitlines())]
    else:
        lines += _without_code(verdict.answer)
    return "\n".join(lines)


def _without_code(answer: dict) -> list[str]:
    """No fenced Python block: show what the model said instead, and whether it was cut short."""
    cut = answer.get("finish_reason") == "length"
    lines = ["code: (no fenced Python block in the answer" +
             (f"; it was cut at max_tokens after {answer.get('completion_tokens')} tokens)" if cut else ")")]
    response, reasoning = answer.get("response"), answer.get("reasoning")
    if response and response.strip():
        lines += ["response (head and tail):", *("  " + line for line in head_and_tail(response).splitlines())]
    elif response is not None:
        lines.append("response: (empty)")
    if reasoning:  # where a reasoning model stopped thinking tells why no answer followed
        lines += ["reasoning (last lines):", *("  " + line for line in head_and_tail(reasoning).splitlines()[-6:])]
    return lines
