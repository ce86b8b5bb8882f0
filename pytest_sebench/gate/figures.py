"""The run's figures: computed once from the item records, then judged by the gates (``gates.py``),
rendered (``report/summary.py``) and serialised (``report/json_report.py``).

Data only: the gates read them, so they live below ``report``, which draws them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from ..grade.verdict import CATEGORIES, CORRECT, ERROR
from ..records.item import ItemRecord, SampleRecord
from .stats import mean_interval, pass_at_k

OVERALL = "overall"  # the figures of every split together (and the comparison's, see comparison.py)


@dataclass
class SplitStats:
    items: int = 0
    samples: int = 0
    solved: float = 0.0  # sum over items of the item's pass rate (mean@k numerator)
    categories: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0))
    counts: list[tuple[int, int]] = field(default_factory=list)  # (samples, correct) per item
    truncated: int = 0  # samples whose answer the server cut at max_tokens

    def add(self, record: ItemRecord) -> None:
        samples = record.samples or (SampleRecord(0, ERROR, "no sample"),)
        self.items += 1
        self.samples += len(samples)
        passed = sum(1 for sample in samples if sample.category == CORRECT)
        # An infrastructure error is never a pass: a broken sandbox cannot raise a score.
        self.solved += passed / len(samples)
        self.counts.append((len(samples), passed))
        for sample in samples:
            self.categories[sample.category if sample.category in self.categories else ERROR] += 1
            self.truncated += sample.truncated

    @property
    def accuracy(self) -> float:
        return self.solved / self.items if self.items else 0.0

    @property
    def errors(self) -> int:
        return self.categories[ERROR]

    @property
    def k(self) -> int:
        """Samples per item (the smallest, should a run mix them)."""
        return min((n for n, _ in self.counts), default=1)

    def pass_at(self, k: int) -> float:
        if not self.counts:
            return 0.0
        return sum(pass_at_k(n, c, k) for n, c in self.counts) / len(self.counts)

    def interval(self, k: int | None = None) -> tuple[float, float]:
        """95 % interval over items of mean@k (``k`` None) or of pass@k."""
        per_item = [c / n if k is None else pass_at_k(n, c, k) for n, c in self.counts]
        return mean_interval(per_item)

    def to_json(self) -> dict[str, Any]:
        # accuracy is mean@k (the mean over items of the fraction of correct samples: the paper's
        # Table 2 figure); pass@1 equals it, pass@k is the unbiased estimator at k = K.
        return {"items": self.items, "samples": self.samples, "k": self.k,
                "accuracy": round(self.accuracy, 6), "mean_at_k": round(self.accuracy, 6),
                "mean_at_k_ci95": [round(bound, 6) for bound in self.interval()],
                "pass_at_1": round(self.pass_at(1), 6), "pass_at_k": round(self.pass_at(self.k), 6),
                "pass_at_k_ci95": [round(bound, 6) for bound in self.interval(self.k)],
                "errors": self.errors, "truncated": self.truncated, "categories": dict(self.categories)}


@dataclass
class Summary:
    model: str
    data_source: str
    library: str
    splits: dict[str, SplitStats]
    overall: SplitStats
    max_tokens: int | None = None  # what the model was asked with (None: no served model)

    @classmethod
    def from_records(cls, records: Iterable[ItemRecord], *, model: str, data_source: str,
                     library: str, max_tokens: int | None = None) -> "Summary":
        splits: dict[str, SplitStats] = {}
        overall = SplitStats()
        for record in records:
            splits.setdefault(record.split, SplitStats()).add(record)
            overall.add(record)
        return cls(model, data_source, library, splits, overall, max_tokens)

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "data": self.data_source, "library": self.library,
                "splits": {name: stats.to_json() for name, stats in self.splits.items()},
                OVERALL: self.overall.to_json()}
