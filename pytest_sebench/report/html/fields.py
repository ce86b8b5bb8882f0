"""Reading a report's fields defensively: a report is a file anyone may have edited, so a field of the
wrong type reads as empty instead of failing half-way through a page."""

from __future__ import annotations

from typing import Any, Mapping


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def samples_of(item: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    samples = item.get("samples")
    return [sample for sample in samples if isinstance(sample, dict)] if isinstance(samples, list) else []
