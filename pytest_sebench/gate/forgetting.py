"""The forgetting map: per library function, how its items fare now and in the baseline.

A checkpoint rarely forgets "the library"; it forgets ``zwc.rfx.quvohe``. Each item counts for every
function in its ``selected_functions``, keyed by the full library path (resolved when the record was
made, so main and linalg names that share a NumPy name stay apart).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from ..records.item import ItemRecord
from .baseline import ItemCounts


@dataclass
class FunctionChange:
    name: str
    items: int = 0
    now_sum: float = 0.0
    paired: int = 0  # items with an error-free result on both sides
    paired_now: float = 0.0
    paired_base: float = 0.0
    item_ids: list[str] = field(default_factory=list)

    @property
    def now(self) -> float:
        return self.now_sum / self.items if self.items else 0.0

    @property
    def base(self) -> float | None:
        return self.paired_base / self.paired if self.paired else None

    @property
    def change(self) -> float | None:
        """Mean change of the pass rate over the paired items (negative: forgotten)."""
        return (self.paired_now - self.paired_base) / self.paired if self.paired else None

    def to_json(self) -> dict[str, Any]:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 6)

        return {"function": self.name, "items": self.items, "now": rounded(self.now),
                "baseline": rounded(self.base), "change": rounded(self.change), "paired_items": self.paired,
                "item_ids": self.item_ids}


def forgetting_map(records: Iterable[ItemRecord],
                   baseline: dict[str, ItemCounts] | None) -> list[FunctionChange]:
    """Every function of the run, most forgotten first (then weakest now when there is no baseline)."""
    table: dict[str, FunctionChange] = {}
    for record in records:
        now = record.counts
        base = baseline.get(record.id) if baseline is not None else None
        for name in record.library_functions or record.functions:
            entry = table.setdefault(name, FunctionChange(name))
            entry.items += 1
            entry.now_sum += now.rate
            entry.item_ids.append(record.id)
            if base is not None and not base.error and not now.error:
                entry.paired += 1
                entry.paired_now += now.rate
                entry.paired_base += base.rate
    return sorted(table.values(), key=lambda entry: (
        entry.change if entry.change is not None else 0.0, entry.now, entry.name))


def most_forgotten(entries: list[FunctionChange], count: int) -> list[FunctionChange]:
    return [entry for entry in entries if (entry.change or 0.0) < 0][:count]


def most_learned(entries: list[FunctionChange], count: int) -> list[FunctionChange]:
    gained = [entry for entry in entries if (entry.change or 0.0) > 0]
    return sorted(gained, key=lambda entry: (-(entry.change or 0.0), entry.name))[:count]
