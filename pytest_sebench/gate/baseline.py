"""An earlier run's report, read back as per-item counts: the baseline of a comparison.

Any ``--sebench-report`` output can be a baseline. It is read once per process (xdist workers decide
their items' outcomes against it too); a file that is not such a report stops the run with one message
naming the file and what is wrong, before anything is asked or graded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from ..records.item import ItemCounts
from ..records.report_file import ReportFileError, read_report

__all__ = ["ItemCounts", "ReportFileError", "RunReport", "load_run_report", "run_report_of"]


@dataclass(frozen=True)
class RunReport:
    path: str
    provenance: dict[str, Any]
    items: dict[str, ItemCounts]
    splits: dict[str, str]  # item id -> split

    @property
    def label(self) -> str:
        """Names the run in messages: ``ckpt-1200@step-1200`` (model name and revision)."""
        model = self.provenance.get("model") or {}
        name = str(model.get("name") or "an earlier run")
        revision = model.get("revision")
        return f"{name}@{revision}" if revision else name

    def solved_ids(self) -> set[str]:
        return {item_id for item_id, counts in self.items.items() if counts.solved and not counts.error}


def load_run_report(path: Path) -> RunReport:
    """The report's per-item counts; its items are read one at a time (a large report's text is
    never all in memory)."""
    contents = read_report(path)
    provenance = contents.top.get("provenance")
    return run_report_of(str(path), provenance if isinstance(provenance, dict) else {}, contents.items)


def run_report_of(source: str, provenance: dict[str, Any], items: Iterable[tuple[int, Any]]) -> RunReport:
    """Per-item counts from a report's items, (index, item) as the file holds them; ``source`` names
    the report in messages."""
    counts: dict[str, ItemCounts] = {}
    splits: dict[str, str] = {}
    for index, record in items:
        where = f"{source}: items[{index}]"
        if not isinstance(record, dict) or not isinstance(record.get("id"), str):
            raise ReportFileError(f"{where} has no 'id'")
        samples = record.get("samples")
        if not isinstance(samples, list) or not all(isinstance(s, dict) and "category" in s for s in samples):
            raise ReportFileError(f"{where} ({record['id']}): 'samples' must be a list of graded samples")
        if record["id"] in counts:
            raise ReportFileError(f"{where}: item {record['id']} appears twice")
        counts[record["id"]] = ItemCounts.from_categories([str(sample["category"]) for sample in samples])
        splits[record["id"]] = str(record.get("split", ""))
    return RunReport(source, provenance, counts, splits)
