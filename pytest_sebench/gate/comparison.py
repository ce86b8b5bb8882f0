"""The whole run against its baseline: every item's outcome, the paired difference, what is missing.

Built once on the controller (or the only process) from the item records after the last item; pure
data, rendered by the summary and serialised into the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from ..records.item import ItemRecord
from .baseline import ItemCounts, RunReport
from .figures import OVERALL
from .outcomes import IMPROVEMENT, KNOWN_GAP, REGRESSION, ItemOutcome, Policy, decide
from .stats import PairedDifference, paired_difference


@dataclass
class Comparison:
    policy: Policy
    baseline: RunReport | None
    outcomes: dict[str, ItemOutcome]  # every item of this run, in run order
    counts: dict[str, ItemCounts]
    missing_now: list[str] = field(default_factory=list)  # in the baseline, not run now
    not_in_baseline: list[str] = field(default_factory=list)
    unpaired_errors: list[str] = field(default_factory=list)  # infrastructure error on either side
    paired: dict[str, PairedDifference] = field(default_factory=dict)  # per split, and overall
    warnings: list[str] = field(default_factory=list)

    def with_label(self, label: str) -> list[str]:
        return [item_id for item_id, outcome in self.outcomes.items() if outcome.label == label]

    @property
    def regressions(self) -> list[str]:
        return self.with_label(REGRESSION)

    @property
    def improvements(self) -> list[str]:
        return self.with_label(IMPROVEMENT)

    @property
    def known_gaps(self) -> list[str]:
        return self.with_label(KNOWN_GAP)

    @property
    def flaky(self) -> list[str]:
        return [item_id for item_id, outcome in self.outcomes.items() if outcome.flaky]

    def baseline_counts(self, item_id: str) -> ItemCounts | None:
        return self.baseline.items.get(item_id) if self.baseline is not None else None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "regressions": self.regressions, "improvements": self.improvements,
            "known_gaps": self.known_gaps, "flaky": self.flaky,
            "outcomes": {label: sum(1 for o in self.outcomes.values() if o.label == label)
                         for label in sorted({o.label for o in self.outcomes.values()})},
        }
        if self.baseline is not None:
            data.update({
                "baseline": {"path": self.baseline.path, "label": self.baseline.label,
                             "time": self.baseline.provenance.get("time"),
                             "git_commit": self.baseline.provenance.get("git_commit")},
                "missing_now": self.missing_now, "not_in_baseline": self.not_in_baseline,
                "unpaired_errors": self.unpaired_errors,
                "paired": {name: diff.to_json() for name, diff in self.paired.items()},
                "warnings": self.warnings})
        return data


def compare_run(records: Iterable[ItemRecord], baseline: RunReport | None, policy: Policy, *,
                seed: int, warnings: list[str] | None = None) -> Comparison:
    records = list(records)
    counts = {record.id: record.counts for record in records}
    base_items = baseline.items if baseline is not None else {}
    outcomes = {item_id: decide(now, base_items.get(item_id), policy) for item_id, now in counts.items()}
    comparison = Comparison(policy, baseline, outcomes, counts, warnings=list(warnings or []))
    if baseline is None:
        return comparison
    comparison.missing_now = [item_id for item_id in base_items if item_id not in counts]
    comparison.not_in_baseline = [item_id for item_id in counts if item_id not in base_items]
    comparison.paired, comparison.unpaired_errors = paired_items(
        ((record.id, record.split, counts[record.id]) for record in records), base_items, seed=seed)
    return comparison


def paired_items(now: Iterable[tuple[str, str, ItemCounts]], base_items: Mapping[str, ItemCounts], *,
                 seed: int) -> tuple[dict[str, PairedDifference], list[str]]:
    """The paired difference per split (of ``now``'s items) and overall, over the items both runs have
    without an infrastructure error; and the ids left out for such an error (on either side).

    ``now``: (id, split, counts) in run order. One pairing for the gate and ``sebench history``.
    """
    pairs: dict[str, list[tuple[ItemCounts, ItemCounts]]] = {}
    unpaired_errors: list[str] = []
    for item_id, split, counts in now:
        base = base_items.get(item_id)
        if base is None:
            continue
        if counts.error or base.error:
            unpaired_errors.append(item_id)
            continue
        pairs.setdefault(split, []).append((counts, base))
    everything = [pair for split_pairs in pairs.values() for pair in split_pairs]
    paired: dict[str, PairedDifference] = {}
    for name, split_pairs in [*sorted(pairs.items()), (OVERALL, everything)]:
        paired[name] = paired_difference(
            [now.rate for now, _ in split_pairs], [base.rate for _, base in split_pairs],
            binary=all(now.samples == 1 and base.samples == 1 for now, base in split_pairs), seed=seed)
    return paired, unpaired_errors
