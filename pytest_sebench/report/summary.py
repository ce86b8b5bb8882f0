"""The run's figures: computed once from the item records, then rendered (terminal) or serialised (JSON)."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Any, Iterable

from ..grade.verdict import CATEGORIES, CORRECT, ERROR

OVERALL = "overall"


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased estimator of pass@k from n samples of which c are correct (Chen et al., 2021):
    1 - C(n-c, k) / C(n, k). With k > n it is undefined; we use k = n then."""
    k = min(k, n)
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


@dataclass
class SplitStats:
    items: int = 0
    samples: int = 0
    solved: float = 0.0  # sum over items of the item's pass rate (mean@k numerator)
    categories: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0))
    counts: list[tuple[int, int]] = field(default_factory=list)  # (samples, correct) per item
    truncated: int = 0  # samples whose answer the server cut at max_tokens

    def add(self, record: dict[str, Any]) -> None:
        samples = record.get("samples") or [{"category": ERROR}]
        self.items += 1
        self.samples += len(samples)
        passed = sum(1 for sample in samples if sample.get("category") == CORRECT)
        # An infrastructure error is never a pass: a broken sandbox cannot raise a score.
        self.solved += passed / len(samples)
        self.counts.append((len(samples), passed))
        for sample in samples:
            category = sample.get("category", ERROR)
            self.categories[category if category in self.categories else ERROR] += 1
            self.truncated += bool((sample.get("answer") or {}).get("truncated"))

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
        from ..gate.stats import mean_interval

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
    def from_records(cls, records: Iterable[dict[str, Any]], *, model: str, data_source: str,
                     library: str, max_tokens: int | None = None) -> "Summary":
        splits: dict[str, SplitStats] = {}
        overall = SplitStats()
        for record in records:
            splits.setdefault(record["split"], SplitStats()).add(record)
            overall.add(record)
        return cls(model, data_source, library, splits, overall, max_tokens)

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "data": self.data_source, "library": self.library,
                "splits": {name: stats.to_json() for name, stats in self.splits.items()},
                OVERALL: self.overall.to_json()}

    def render(self, width: int = 100, color: bool = False) -> str:
        return console_text(width, color, self.draw)

    def draw(self, console: Any) -> None:
        from rich import box
        from rich.table import Table

        table = Table(box=box.SIMPLE_HEAD)
        columns = list(self.splits.items()) + ([(OVERALL, self.overall)] if len(self.splits) > 1 else [])
        table.add_column("")
        for name, _ in columns:
            table.add_column(name, justify="right")
        table.add_row("items", *(str(stats.items) for _, stats in columns))
        k = self.overall.k
        if k > 1:
            table.add_row(f"mean@{k}", *(f"{100 * stats.accuracy:.1f}%" for _, stats in columns))
            table.add_row("  95% CI", *(_interval(stats.interval()) for _, stats in columns))
            table.add_row(f"pass@{k}", *(f"{100 * stats.pass_at(k):.1f}%" for _, stats in columns))
            table.add_row("  95% CI", *(_interval(stats.interval(k)) for _, stats in columns),
                          end_section=True)
        else:
            table.add_row("accuracy", *(f"{100 * stats.accuracy:.1f}%" for _, stats in columns))
            table.add_row("  95% CI", *(_interval(stats.interval()) for _, stats in columns),
                          end_section=True)
        indent = ""
        if k > 1:  # the categories below count samples, not items: say so
            table.add_row(f"samples ({k} per item)", *(str(stats.samples) for _, stats in columns))
            indent = "  "
        for category in CATEGORIES:
            table.add_row(indent + category, *(str(stats.categories[category]) for _, stats in columns))
        console.print(f"model {self.model}, data {self.data_source}, library {self.library}")
        console.print(table)
        if self.overall.truncated:
            console.print(self.truncation_note(), soft_wrap=True)  # one line: CI logs are grepped
        if self.overall.errors:
            console.print(f"{self.overall.errors} infrastructure error(s): counted as not solved; "
                          "the run fails until they are fixed.")

    def truncation_note(self) -> str:
        limit = f"max_tokens={self.max_tokens}" if self.max_tokens else "max_tokens"
        return (f"{self.overall.truncated} of {self.overall.samples} answers were cut at {limit} "
                "(finish_reason \"length\"): raise --sebench-max-tokens if the server's context allows, "
                "or see whether the model stops at all")


def _interval(bounds: tuple[float, float]) -> str:
    return f"{100 * bounds[0]:.1f}-{100 * bounds[1]:.1f}"


def console_text(width: int, color: bool, *parts: Any) -> str:
    """Render rich objects (or callables drawing on a console) to text for pytest's terminal writer."""
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=color, no_color=not color, highlight=False)
    for part in parts:
        part(console) if callable(part) else console.print(part)
    return buffer.getvalue()
