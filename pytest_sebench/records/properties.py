"""How item records ride on pytest's test reports: the full record once, in the setup report's
``user_properties`` (as JSON: plain builtins, also through xdist), and its small readable part for
JUnit XML on the teardown report."""

from __future__ import annotations

from typing import Any, Iterable

from .item import ItemRecord

PROPERTY = "sebench"  # the user_properties key carrying the full record
NODE_PREFIX = "sebench::"


def record_from_properties(properties: Iterable[tuple[str, object]]) -> dict[str, Any] | None:
    """The full record as JSON (``ItemRecord.from_json`` reads it), if the properties carry one."""
    for name, value in properties:
        if name == PROPERTY and isinstance(value, dict):
            return value
    return None


def junit_properties(record: ItemRecord, outcome_label: str | None) -> list[tuple[str, object]]:
    """The small, readable part of a record for JUnit XML (the whole record would swamp it)."""
    samples = record.samples
    properties: list[tuple[str, object]] = [
        ("sebench_id", record.id), ("sebench_category", ",".join(sample.category for sample in samples)),
        ("sebench_taxonomy", ",".join(sorted({sample.taxonomy for sample in samples if sample.taxonomy}))),
        ("sebench_passed", f"{sum(sample.passed for sample in samples)}/{len(samples)}")]
    if outcome_label is not None:
        properties.append(("sebench_outcome", outcome_label))
    return properties
