"""Everything the run concludes, computed once after the last item: figures, comparison, gates, map.

The terminal summary, the JSON report and the JUnit properties all read this one object, so they can
never disagree; it holds data only (rendering lives in ``report/terminal.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..grade.taxonomy import CLASSES, PARENT
from ..records.item import ItemRecord
from .baseline import RunReport
from .comparison import Comparison, compare_run
from .figures import OVERALL, Summary
from .forgetting import FunctionChange, forgetting_map
from .gates import GateResult, accuracy_gates, drop_gate
from .outcomes import Policy


@dataclass(frozen=True)
class GateSettings:
    fail_under: Mapping[str, float] | None = None
    max_drop: float | None = None
    alpha: float = 0.05


@dataclass
class Evaluation:
    summary: Summary
    comparison: Comparison
    gates: list[GateResult]
    functions: list[FunctionChange]
    taxonomy: dict[str, int]

    @property
    def failed_gates(self) -> list[GateResult]:
        return [gate for gate in self.gates if not gate.passed]

    def to_json(self) -> dict[str, Any]:
        return {"comparison": self.comparison.to_json(), "gates": [gate.to_json() for gate in self.gates],
                "forgetting_map": [entry.to_json() for entry in self.functions],
                "taxonomy": {name: {"count": self.taxonomy[name], "category": PARENT[name]}
                             for name in CLASSES}}


def evaluate(records: list[ItemRecord], summary: Summary, baseline: RunReport | None, policy: Policy,
             gates: GateSettings, *, seed: int, warnings: list[str]) -> Evaluation:
    comparison = compare_run(records, baseline, policy, seed=seed, warnings=warnings)
    results: list[GateResult] = []
    if gates.fail_under:
        results += accuracy_gates(gates.fail_under, summary.splits, summary.overall)
    if gates.max_drop is not None and OVERALL in comparison.paired:
        results.append(drop_gate(gates.max_drop, gates.alpha, comparison.paired[OVERALL]))
    taxonomy = dict.fromkeys(CLASSES, 0)
    for record in records:
        for sample in record.samples:
            if sample.taxonomy in taxonomy:
                taxonomy[sample.taxonomy] += 1
    functions = forgetting_map(records, baseline.items if baseline is not None else None)
    return Evaluation(summary, comparison, results, functions, taxonomy)
