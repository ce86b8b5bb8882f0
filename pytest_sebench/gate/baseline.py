"""An earlier run's report, read back as per-item counts: the baseline of a comparison.

Any ``--sebench-report`` output can be a baseline. It is read once per process (xdist workers decide
their items' outcomes against it too); a file that is not such a report stops the run with one message
naming the file and what is wrong, before anything is asked or graded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..grade.verdict import CORRECT, ERROR


class ReportFileError(Exception):
    """The file is not a readable report; the message names it."""


@dataclass(frozen=True)
class ItemCounts:
    """How one item fared in one run: correct samples out of samples, and whether our side failed."""

    correct: int
    samples: int
    error: bool = False  # an infrastructure error in some sample: the item says nothing about the model

    @property
    def rate(self) -> float:
        return self.correct / self.samples if self.samples else 0.0

    @property
    def solved(self) -> bool:
        return self.correct > 0

    @classmethod
    def from_categories(cls, categories: list[str]) -> "ItemCounts":
        categories = categories or [ERROR]  # no sample at all: our failure, never the model's
        return cls(correct=categories.count(CORRECT), samples=len(categories), error=ERROR in categories)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> "ItemCounts":
        return cls.from_categories([sample.get("category", ERROR) for sample in record.get("samples") or ()])

    def text(self) -> str:
        return f"{self.correct}/{self.samples}"


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
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ReportFileError(f"{path}: cannot read it ({getattr(error, 'strerror', None) or error})") from None
    if not text.strip():
        raise ReportFileError(f"{path}: the file is empty (an interrupted copy?)")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ReportFileError(f"{path}:{error.lineno}: not JSON ({error.msg}): is this a "
                              "--sebench-report file?") from None
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise ReportFileError(f"{path}: not a pytest-sebench report (no 'items' list)")
    items: dict[str, ItemCounts] = {}
    splits: dict[str, str] = {}
    for index, record in enumerate(data["items"]):
        where = f"{path}: items[{index}]"
        if not isinstance(record, dict) or not isinstance(record.get("id"), str):
            raise ReportFileError(f"{where} has no 'id'")
        samples = record.get("samples")
        if not isinstance(samples, list) or not all(isinstance(s, dict) and "category" in s for s in samples):
            raise ReportFileError(f"{where} ({record['id']}): 'samples' must be a list of graded samples")
        if record["id"] in items:
            raise ReportFileError(f"{where}: item {record['id']} appears twice")
        items[record["id"]] = ItemCounts.from_record(record)
        splits[record["id"]] = str(record.get("split", ""))
    provenance = data.get("provenance")
    return RunReport(str(path), provenance if isinstance(provenance, dict) else {}, items, splits)
