"""Accuracy over a training run's checkpoints, from their reports: what ``sebench history`` draws.

Each checkpoint's figures are its report's summary (mean@k and its 95 % interval per split); its
change from the checkpoint before is the gate's paired comparison of the two reports' items
(``gate/comparison.paired_items``, seeded as the plugin seeds it), so a row says what
``pytest --sebench-baseline=<the row before>`` said of that run. Reports of other problems are not
compared (``gate/comparable.dataset_differences``); other differences are notes.

Memory: the reports are ordered by their top-level fields, then each one's items are read once, as
per-item counts; only the previous checkpoint's counts are kept while the next is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..gate.baseline import RunReport, load_run_report
from ..gate.comparable import compare_provenance, dataset_differences
from ..gate.comparison import paired_items
from ..gate.figures import OVERALL
from ..gate.stats import PairedDifference, seed_from
from ..records.report_file import ReportFileError
from .runs import RunData, checkpoint_order, read_runs


@dataclass(frozen=True)
class SplitFigures:
    """One split's figures as the report's summary has them (0-1 units)."""

    items: int
    k: int
    mean: float  # mean@k
    low: float
    high: float

    def to_json(self) -> dict[str, Any]:
        return {"items": self.items, "k": self.k, "mean_at_k": self.mean, "mean_at_k_ci95": [self.low, self.high]}


@dataclass(frozen=True)
class Change:
    """A checkpoint against the one before it."""

    against: str  # the earlier checkpoint's label
    against_report: str
    refused: list[str]  # why the two are not compared (different problems); empty: compared
    paired: dict[str, PairedDifference]  # per split and overall, when compared
    unpaired_errors: list[str]  # items left out for an infrastructure error on either side
    notes: list[str]  # other differences (mode, prompt, K, sampling...): worth knowing, not a refusal
    why: str = ""  # the refusal in a few words, for a table cell

    @property
    def compared(self) -> bool:
        return not self.refused

    def to_json(self) -> dict[str, Any]:
        return {"against": self.against, "against_report": self.against_report, "compared": self.compared,
                "not_compared_because": self.refused, "why": self.why or None,
                "splits": {name: diff.to_json() for name, diff in self.paired.items()},
                "unpaired_errors": self.unpaired_errors, "notes": self.notes}


@dataclass(frozen=True)
class Checkpoint:
    report: str
    label: str
    revision: str | None
    time: str | None
    items: int
    splits: dict[str, SplitFigures]  # the report's splits, and overall
    change: Change | None = None  # None for the first checkpoint
    samples: int | None = None  # K, as the provenance says

    def to_json(self) -> dict[str, Any]:
        return {"report": self.report, "label": self.label, "revision": self.revision, "time": self.time,
                "items": self.items, "samples": self.samples,
                "splits": {name: figures.to_json() for name, figures in self.splits.items()},
                "change": None if self.change is None else self.change.to_json()}


def history(paths: Sequence[Path]) -> list[Checkpoint]:
    """The checkpoints oldest first: by revision (natural order), else by time (``checkpoint_order``)."""
    runs = checkpoint_order(read_runs(paths))
    figures = [_figures(run) for run in runs]  # every summary checked before any item is read
    checkpoints: list[Checkpoint] = []
    previous: tuple[RunData, RunReport] | None = None
    for run, run_figures in zip(runs, figures, strict=True):
        counts = load_run_report(Path(run.source))
        change = None if previous is None else _change(*previous, run, counts)
        checkpoints.append(Checkpoint(run.source, run.label, run.revision, run.time, _items(run), run_figures,
                                      change, _int(run.provenance.get("samples"))))
        previous = (run, counts)
    return checkpoints


def split_names(checkpoints: Sequence[Checkpoint]) -> list[str]:
    """Every split any checkpoint ran, in the order first seen; overall last when there are several."""
    names = list(dict.fromkeys(name for checkpoint in checkpoints for name in checkpoint.splits
                               if name != OVERALL))
    return [*names, OVERALL] if len(names) > 1 else names


def history_json(checkpoints: Sequence[Checkpoint]) -> dict[str, Any]:
    return {"splits": split_names(checkpoints), "checkpoints": [checkpoint.to_json() for checkpoint in checkpoints]}


def _change(before: RunData, before_counts: RunReport, now: RunData, now_counts: RunReport) -> Change:
    base, current = dict(before.provenance), dict(now.provenance)
    refused = dataset_differences(base, current)
    # a different mode or prompt refuses a baseline in the gate; here it is a note: the items still
    # pair, and a history may change its prompt on purpose (the note says the change is not the weights')
    mode_or_prompt, warnings = compare_provenance(base, current)
    notes = [reason for reason in mode_or_prompt if reason not in refused] + warnings
    if refused:
        known = isinstance(base.get("split_fingerprints"), dict) or base.get("dataset_fingerprint") is not None
        return Change(before.label, before.source, refused, {}, [], notes,
                      why="other problems" if known else "no provenance")
    # the plugin seeds its bootstrap with the newer run's problems' fingerprint: the same intervals
    seed = seed_from(str(now.provenance.get("dataset_fingerprint") or ""))
    now_items = ((item_id, now_counts.splits[item_id], counts) for item_id, counts in now_counts.items.items())
    paired, unpaired = paired_items(now_items, before_counts.items, seed=seed)
    return Change(before.label, before.source, [], paired, unpaired, notes)


def _figures(run: RunData) -> dict[str, SplitFigures]:
    splits = dict(run.summary["splits"])  # read_run checked it is an object
    overall = run.summary.get(OVERALL)
    if isinstance(overall, dict):
        splits[OVERALL] = overall
    return {name: _split_figures(run.source, name, data) for name, data in splits.items()}


def _split_figures(source: str, name: str, data: Any) -> SplitFigures:
    try:
        low, high = (float(bound) for bound in data["mean_at_k_ci95"])
        mean = data["mean_at_k"] if "mean_at_k" in data else data["accuracy"]
        return SplitFigures(int(data["items"]), int(data.get("k") or 1), float(mean), low, high)
    except (KeyError, TypeError, ValueError) as error:
        raise ReportFileError(f"{source}: summary.splits.{name} has no mean@k with its interval ({error!r})") from None


def _items(run: RunData) -> int:
    overall = run.summary.get(OVERALL)
    if isinstance(overall, Mapping) and isinstance(overall.get("items"), int):
        return int(overall["items"])
    return sum(int(data.get("items") or 0) for data in run.summary["splits"].values() if isinstance(data, dict))


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
