"""Several checkpoints side by side: accuracy per split, and each library function's pass rate.

The heat map's rows are the functions whose pass rate changed between checkpoints, ordered so the
reader sees first what was lost earliest, and among those what was lost most.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Sequence

from ...gate.figures import OVERALL
from ...grade.verdict import CORRECT
from ..runs import RunData
from .fields import mapping, samples_of

HEAT_ROWS = 40  # most functions the heat map shows (the page says how many changed)
_SAME = 1e-9


@dataclass
class FunctionRates:
    """Per library function: the mean over its items of the item's pass rate (as the forgetting map)."""

    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, item: Mapping[str, Any]) -> None:
        samples = samples_of(item)
        rate = sum(1 for s in samples if s.get("category") == CORRECT) / len(samples) if samples else 0.0
        for name in dict.fromkeys(str(n) for n in item.get("library_functions") or item.get("functions") or ()):
            self.sums[name] = self.sums.get(name, 0.0) + rate
            self.counts[name] = self.counts.get(name, 0) + 1

    def rates(self) -> dict[str, float]:
        return {name: self.sums[name] / self.counts[name] for name in self.sums}

    def reading(self, items: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
        """``items`` passed through, counted on the way (the newest run's items are read only once)."""
        for item in items:
            self.add(item)
            yield item


@dataclass(frozen=True)
class Checkpoint:
    label: str
    accuracy: Mapping[str, tuple[float, float, float]]  # split -> mean@k, 95 % interval low, high
    rates: Mapping[str, float]  # library function -> pass rate


def accuracy_of(top: Mapping[str, Any]) -> dict[str, tuple[float, float, float]]:
    summary = mapping(top.get("summary"))
    splits = dict(summary.get("splits") or {})
    if len(splits) > 1 and isinstance(summary.get(OVERALL), dict):
        splits[OVERALL] = summary[OVERALL]
    found = {}
    for name, stats in splits.items():
        if not isinstance(stats, dict):
            continue
        mean, bounds = stats.get("mean_at_k", stats.get("accuracy")), stats.get("mean_at_k_ci95")
        if isinstance(mean, (int, float)):
            low, high = bounds if isinstance(bounds, list) and len(bounds) == 2 else (mean, mean)
            found[str(name)] = (float(mean), float(low), float(high))
    return found


def checkpoint(run: RunData, rates: FunctionRates | None = None) -> Checkpoint:
    """A checkpoint's figures; its items are read for the function rates unless ``rates`` has them."""
    if rates is None:
        rates = FunctionRates()
        for item in run.items():
            rates.add(item)
    return Checkpoint(run.label, accuracy_of(run.top), rates.rates())


@dataclass(frozen=True)
class HeatRow:
    function: str
    rates: tuple[float | None, ...]  # per checkpoint, oldest first (None: no item of it there)


@dataclass(frozen=True)
class HeatMap:
    rows: list[HeatRow]  # the ones shown
    changed: int  # functions whose pass rate changed at all


def _order(row: HeatRow) -> tuple[Any, ...]:
    """Lost first: by the checkpoint of the first drop, then by the largest fall from an earlier peak;
    functions that only gained after them, largest gain first."""
    first_drop, lost, peak, previous = None, 0.0, None, None
    for index, rate in enumerate(row.rates):
        if rate is None:
            continue
        if previous is not None and rate < previous - _SAME and first_drop is None:
            first_drop = index
        if peak is not None:
            lost = max(lost, peak - rate)
        peak = rate if peak is None else max(peak, rate)
        previous = rate
    if first_drop is not None:
        return (0, first_drop, -lost, row.function)
    known = [rate for rate in row.rates if rate is not None]
    return (1, -(known[-1] - known[0]), row.function)


def heat_map(checkpoints: Sequence[Checkpoint], limit: int = HEAT_ROWS) -> HeatMap:
    names = sorted({name for point in checkpoints for name in point.rates})
    rows = []
    for name in names:
        rates = tuple(point.rates.get(name) for point in checkpoints)
        known = [rate for rate in rates if rate is not None]
        if known and max(known) - min(known) > _SAME:
            rows.append(HeatRow(name, rates))
    rows.sort(key=_order)
    return HeatMap(rows[:limit], len(rows))
