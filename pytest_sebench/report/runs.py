"""Runs as their JSON reports hold them: what ``sebench`` and the pages read.

A :class:`RunData` is a run's top-level report fields (summary, comparison, gates, forgetting map,
taxonomy, provenance) and its items, read one at a time. It comes from a report file, or from a run
that just finished (``--sebench-html`` with no report file), so every page and command reads one form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from ..records.report_file import ReportFileError, read_report


@dataclass(frozen=True)
class RunData:
    source: str  # the report's path, or what the run was
    top: Mapping[str, Any]  # every top-level field but the items
    items: Callable[[], Iterator[dict[str, Any]]]  # each item's full record with its outcome, in run order

    @property
    def provenance(self) -> Mapping[str, Any]:
        provenance = self.top.get("provenance")
        return provenance if isinstance(provenance, dict) else {}

    @property
    def model(self) -> Mapping[str, Any]:
        model = self.provenance.get("model")
        return model if isinstance(model, dict) else {}

    @property
    def summary(self) -> Mapping[str, Any]:
        return self.top["summary"]  # checked when read

    @property
    def revision(self) -> str | None:
        revision = self.model.get("revision")
        return str(revision) if revision else None

    @property
    def time(self) -> str | None:
        time = self.provenance.get("time")
        return str(time) if time else None

    @property
    def label(self) -> str:
        """Names the run: ``ckpt@step-1200``, else the model and the time, else the file."""
        name = str(self.model.get("name") or self.summary.get("model") or Path(self.source).stem)
        if self.revision:
            return f"{name}@{self.revision}"
        return f"{name} {self.time}" if self.time else name


def read_run(path: Path) -> RunData:
    """A report file's top-level fields now (so a wrong file is named before any work), its items when
    asked (read again from the file each time: never all in memory)."""
    contents = read_report(path)  # its items are not read (a generator not started)
    summary = contents.top.get("summary")
    if not isinstance(summary, dict) or not isinstance(summary.get("splits"), dict):
        raise ReportFileError(f"{path}: not a pytest-sebench report (no 'summary' with 'splits')")

    def items() -> Iterator[dict[str, Any]]:
        for index, item in read_report(path).items:
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                raise ReportFileError(f"{path}: items[{index}] has no 'id'")
            yield item

    return RunData(str(path), dict(contents.top), items)


def read_runs(paths: Sequence[Path]) -> list[RunData]:
    return [read_run(path) for path in paths]


def _natural(text: str) -> tuple[Any, ...]:
    """``step-900`` before ``step-1200``: digit runs compare as numbers."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text))


def checkpoint_order(runs: Sequence[RunData]) -> list[RunData]:
    """Oldest first: by revision (natural order) when every run has one, else by the time each ran
    (a run without either keeps its place after those that have one)."""
    if runs and all(run.revision for run in runs):
        return sorted(runs, key=lambda run: _natural(run.revision or ""))
    return sorted(runs, key=lambda run: (run.time is None, run.time or ""))
