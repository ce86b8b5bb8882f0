"""Per-item records: plain dicts that travel in ``report.user_properties`` (also through xdist).

A record is built on the process that ran the item and read back on the one that writes the summary
and the report (the xdist controller, or the only process with ``-n0``).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from ..data.library import Library
from ..data.problems import Problem
from ..grade.extract import split_reasoning
from ..grade.taxonomy import classify
from ..grade.verdict import Verdict, infrastructure_error

PROPERTY = "sebench"  # the user_properties key carrying the full record
NODE_PREFIX = "sebench::"


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


def without_response(sample: dict[str, Any]) -> dict[str, Any]:
    answer = {key: value for key, value in (sample.get("answer") or {}).items()
              if key not in ("response", "reasoning")}
    return {**sample, "answer": answer}


def item_record(problem: Problem, verdicts: Iterable[Verdict], library: Library,
                keep_response: Callable[[Verdict], bool] = lambda verdict: True) -> dict[str, Any]:
    """``keep_response``: whether a sample's record keeps its raw response and reasoning."""
    samples = []
    for verdict in verdicts:
        sample = verdict.to_record()
        if not keep_response(verdict):
            sample = without_response(sample)
        sample["taxonomy"] = classify(sample, library.name)
        samples.append(sample)
    record: dict[str, Any] = {"id": problem.id, "split": problem.split, "row": problem.row,
                              "functions": list(problem.functions),
                              "library_functions": library_functions(problem, library),
                              "where": problem.where, "samples": samples}
    if problem.source_line is not None:
        record["source_line"] = problem.source_line
    return record


def record_from_properties(properties: Iterable[tuple[str, object]]) -> dict[str, Any] | None:
    for name, value in properties:
        if name == PROPERTY and isinstance(value, dict):
            return value
    return None


def junit_properties(record: dict[str, Any], outcome: dict[str, Any] | None) -> list[tuple[str, object]]:
    """The small, readable part of a record for JUnit XML (the whole record would swamp it)."""
    samples = record.get("samples", [])
    categories = ",".join(sample["category"] for sample in samples)
    classes = ",".join(sorted({sample["taxonomy"] for sample in samples if sample.get("taxonomy")}))
    properties: list[tuple[str, object]] = [
        ("sebench_id", record["id"]), ("sebench_category", categories), ("sebench_taxonomy", classes),
        ("sebench_passed", f"{sum(1 for sample in samples if sample.get('passed'))}/{len(samples)}")]
    if outcome is not None:
        properties.append(("sebench_outcome", outcome["label"]))
    return properties


def library_functions(problem: Problem, library: Library) -> list[str]:
    """The row's functions by their full library path (``zwc.rfx.quvohe``), for the forgetting map;
    the NumPy reference tells main from linalg for names that exist in both."""
    names: list[str] = []
    for function in problem.functions:
        names += library.resolve(function, problem.reference_code or "") or [function]
    return list(dict.fromkeys(names))


def error_record(problem: Problem, reason: str, library: Library) -> dict[str, Any]:
    """For an item that produced no verdict of its own (sandbox failure, crashed worker)."""
    return item_record(problem, [infrastructure_error(reason)], library)

