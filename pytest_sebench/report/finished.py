"""What every output of a run is written from, and what an output is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

from ..data.benchmark import Benchmark
from ..gate.evaluation import Evaluation
from ..records.item import ItemRecord
from ..settings import Settings


@dataclass(frozen=True)
class FinishedRun:
    """Everything the run concluded, once the last item reported."""

    settings: Settings
    benchmark: Benchmark
    evaluation: Evaluation
    records: list[ItemRecord]  # light (no text), in the benchmark's order, one per selected item
    full_records: Callable[[], Iterator[dict[str, Any]]]  # the same, whole, as JSON, one at a time
    provenance: dict[str, Any]
    requests: dict[str, Any] | None  # a served model's request counts
    notes: tuple[str, ...] = ()  # warnings about the data and the model server, found at start


class Output(Protocol):
    """One file format (``outputs.py`` lists them)."""

    @property
    def setting(self) -> str:
        """The Settings attribute that holds the path (None there: not asked for)."""
        ...

    def write(self, run: FinishedRun, path: Path) -> None:
        """Write the whole file or nothing; raise files.OutputError saying why not."""
        ...
