"""Making an item's record from its problem and its verdicts (on the process that graded it)."""

from __future__ import annotations

from typing import Any, Callable, Iterable

from ..data.library import Library
from ..data.problems import Problem
from ..grade.extract import split_reasoning
from ..grade.taxonomy import classify
from ..grade.verdict import Verdict, infrastructure_error
from .item import ItemRecord, ProblemText, SampleRecord


def response_facts(text: str, answer: dict[str, Any]) -> dict[str, Any]:
    """What a sample's record says about the model's response: the answer and the reasoning apart
    (a server's reasoning field, else inline ``<think>`` blocks) and whether it was cut at max_tokens."""
    response, inline = split_reasoning(text)
    facts = {**answer, "response": response, "reasoning": answer.get("reasoning") or inline or None}
    facts["truncated"] = answer.get("finish_reason") == "length"
    return facts


def keeps_response(policy: str, passed: bool) -> bool:
    """Whether ``--sebench-report-responses=policy`` keeps a sample's raw response and reasoning
    (reports of many samples grow large)."""
    return policy == "all" or (policy == "failed" and not passed)


def sample_record(verdict: Verdict, library: Library) -> SampleRecord:
    return SampleRecord(sample=verdict.sample, category=verdict.category, reason=verdict.reason, code=verdict.code,
                        cases=verdict.cases, seconds=verdict.seconds, stderr=verdict.stderr,
                        skipped_names=verdict.skipped_names, answer=verdict.answer,
                        taxonomy=classify(verdict.to_record(), library.name))


def item_record(problem: Problem, verdicts: Iterable[Verdict], library: Library,
                keep_response: Callable[[Verdict], bool] = lambda verdict: True,
                stopped_run: str | None = None) -> ItemRecord:
    """``keep_response``: whether a sample's record keeps its raw response and reasoning."""
    samples = tuple(sample if keep_response(verdict) else sample.without_response()
                    for verdict in verdicts for sample in [sample_record(verdict, library)])
    return ItemRecord(id=problem.id, split=problem.split, row=problem.row, functions=tuple(problem.functions),
                      library_functions=library_functions(problem, library), where=problem.where,
                      samples=samples, source_line=problem.source_line, stopped_run=stopped_run,
                      problem=problem_text(problem))


def problem_text(problem: Problem) -> ProblemText:
    example = None if problem.example is None else (problem.example.input, problem.example.expected)
    return ProblemText(problem.query, problem.signature, example)


def library_functions(problem: Problem, library: Library) -> tuple[str, ...]:
    """The row's functions by their full library path (``zwc.rfx.quvohe``), for the forgetting map;
    the NumPy reference tells main from linalg for names that exist in both."""
    names: list[str] = []
    for function in problem.functions:
        names += library.resolve(function, problem.reference_code or "") or [function]
    return tuple(dict.fromkeys(names))


def error_record(problem: Problem, reason: str, library: Library) -> ItemRecord:
    """For an item that produced no verdict of its own (sandbox failure, crashed worker)."""
    return item_record(problem, [infrastructure_error(reason)], library)
