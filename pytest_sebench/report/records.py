"""Per-item records: plain dicts that travel in ``report.user_properties`` (also through xdist).

A record is built on the process that ran the item and read back on the one that writes the summary
and the report (the xdist controller, or the only process with ``-n0``).
"""

from __future__ import annotations

from typing import Any, Iterable

from ..data.problems import Problem
from ..grade.verdict import Verdict, infrastructure_error

PROPERTY = "sebench"  # the user_properties key carrying the full record
NODE_PREFIX = "sebench::"


def item_record(problem: Problem, verdicts: Iterable[Verdict]) -> dict[str, Any]:
    record: dict[str, Any] = {"id": problem.id, "split": problem.split, "row": problem.row,
                              "functions": list(problem.functions), "where": problem.where,
                              "samples": [verdict.to_record() for verdict in verdicts]}
    if problem.source_line is not None:
        record["source_line"] = problem.source_line
    return record


def record_from_properties(properties: Iterable[tuple[str, object]]) -> dict[str, Any] | None:
    for name, value in properties:
        if name == PROPERTY and isinstance(value, dict):
            return value
    return None


def junit_properties(record: dict[str, Any]) -> list[tuple[str, object]]:
    """The small, readable part of a record for JUnit XML (the whole record would swamp it)."""
    samples = record.get("samples", [])
    categories = ",".join(sample["category"] for sample in samples)
    return [("sebench_id", record["id"]), ("sebench_category", categories),
            ("sebench_passed", sum(1 for sample in samples if sample.get("passed")))]


def error_record(problem: Problem, reason: str) -> dict[str, Any]:
    """For an item that produced no verdict of its own (sandbox failure, crashed worker)."""
    return item_record(problem, [infrastructure_error(reason)])


def node_name(problem: Problem) -> str:
    return problem.id
