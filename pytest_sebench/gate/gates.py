"""The aggregate gates: decided once per session, on the controller, and applied through the exit status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..settings import ALL_SPLITS
from .figures import OVERALL, SplitStats
from .stats import PairedDifference, max_drop_fires


@dataclass(frozen=True)
class GateResult:
    name: str  # e.g. "fail-under single_test", "max-drop"
    passed: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"gate": self.name, "passed": self.passed, "detail": self.detail}


def accuracy_gates(bars: Mapping[str, float], splits: Mapping[str, SplitStats],
                   overall: SplitStats) -> list[GateResult]:
    """``--sebench-fail-under``: mean@k of each named split (every split for a bare number)."""
    wanted: dict[str, float] = {}
    if ALL_SPLITS in bars:
        wanted.update(dict.fromkeys(splits, bars[ALL_SPLITS]))
    wanted.update({split: bar for split, bar in bars.items() if split != ALL_SPLITS})
    results = []
    for split, bar in wanted.items():
        stats = overall if split == OVERALL else splits.get(split)
        name = f"fail-under {split}"
        if stats is None or not stats.items:
            # a bar for a split that did not run cannot be met: say so rather than pass silently
            results.append(GateResult(name, False, f"no items of {split} ran (bar {100 * bar:.1f}%)"))
            continue
        verb = "meets" if stats.accuracy >= bar else "is below"
        results.append(GateResult(name, stats.accuracy >= bar,
                                  f"mean@{stats.k} {100 * stats.accuracy:.1f}% {verb} {100 * bar:.1f}%"))
    return results


def drop_gate(points: float, alpha: float, paired: PairedDifference) -> GateResult:
    """``--sebench-max-drop``: a drop larger than POINTS that a paired test says is real."""
    if not paired.items:  # nothing in common with the baseline: a gate that cannot look must not pass
        return GateResult("max-drop", False, "no item was paired with the baseline (none in common, or "
                                             "infrastructure errors on a side): nothing to compare")
    drop = -100 * paired.difference
    fires = max_drop_fires(paired, points, alpha)
    test = "exact McNemar" if paired.method == "mcnemar" else "paired bootstrap"
    detail = (f"change {100 * paired.difference:+.1f} points (95% CI {100 * paired.low:+.1f} to "
              f"{100 * paired.high:+.1f}) over {paired.items} paired items, {test} p={paired.p_value:.3g}; "
              + (f"a drop of {drop:.1f} > {points:g} points with p < {alpha:g}" if fires else
                 f"fails only on a drop > {points:g} points with p < {alpha:g}"))
    return GateResult("max-drop", not fires, detail)
