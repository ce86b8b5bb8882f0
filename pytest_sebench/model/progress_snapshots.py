"""The shared state of the progress display: snapshots of each asking process's counters, and what
the display and the progress lines show from them.

Requests are made where answers are needed (the only process with ``-n0``, or each xdist worker), but
only the controller may draw. So every asking process writes a small JSON snapshot of its counters to
the run's scratch folder (the broker, via :func:`write_snapshot`), and the controller sums them
(:meth:`Totals.of`) every ``REFRESH_SECONDS``. The folder exists only while a display or the lines run:
that is how the workers know snapshots are wanted, with no setting passed to them.

This part runs in every asking process, xdist workers and the broker's thread included, so it needs
neither pytest nor rich: the drawing is in ``progress_live.py`` and ``progress_lines.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from .scratch import run_scratch

SNAPSHOT_SECONDS = 0.5  # how often a process writes its counts (when they changed)
REFRESH_SECONDS = 0.25  # how often the display and the lines read them
LINE_START = "sebench progress: "


def snapshot_dir(run_id: str) -> Path:
    return run_scratch(run_id) / "progress"


def process_name() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")  # set by xdist in each worker ("gw3")


def write_snapshot(directory: Path, name: str, data: dict[str, int]) -> None:
    """Replace ``<name>.json`` whole (temp file + rename), so the reader never sees half a file.
    Nothing when no display asked (or it is gone): the folder is absent then."""
    if not directory.is_dir():
        return
    temporary = directory / f".{name}.{os.getpid()}.tmp"  # never read: only *.json is
    try:
        temporary.write_text(json.dumps(data), encoding="utf-8")
        os.replace(temporary, directory / f"{name}.json")
    except OSError:  # removed meanwhile, or the disk is full: the run goes on without a display
        with contextlib.suppress(OSError):
            temporary.unlink()


def read_snapshots(directory: Path) -> list[dict[str, Any]]:
    snapshots = []
    for path in directory.glob("*.json"):
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict):
                snapshots.append(data)
    return snapshots


def remove_snapshots(directory: Path) -> None:
    """Remove the snapshot folder, so the asking processes stop writing (see :func:`write_snapshot`)."""
    for _ in range(3):  # a -n0 broker may write one more snapshot while this removes the folder
        shutil.rmtree(directory, ignore_errors=True)
    with contextlib.suppress(OSError):
        directory.parent.rmdir()  # the run's scratch folder, unless the answer cache uses it


@dataclass(frozen=True)
class Totals:
    answered: int = 0
    in_flight: int = 0
    retried: int = 0
    failed: int = 0
    planned: int = 0  # requests of the run
    to_ask: int = 0  # planned minus those already in the cache: what the bar counts up to
    limit: int = 0  # the concurrency the processes have adapted to, summed: each adapts its own
    abandoned: int = 0  # requests abandoned after --sebench-request-timeout (then retried)

    @classmethod
    def of(cls, snapshots: Iterable[dict[str, Any]]) -> "Totals":
        snapshots = list(snapshots)

        def total(field: str) -> int:  # fields an older snapshot lacks count as 0
            return sum(int(s.get(field, 0)) for s in snapshots)

        # Every xdist worker plans the whole selection (the claims split it), so "planned" is a
        # maximum, not a sum. Each counts the answers already cached when it starts; the earliest
        # one saw the fewest answers of this run among them, so the largest remainder is the best.
        planned = max((int(s.get("planned", 0)) for s in snapshots), default=0)
        to_ask = max((int(s.get("planned", 0)) - int(s.get("present", 0)) for s in snapshots), default=0)
        return cls(total("answered"), total("in_flight"), total("retried"), total("failed"), planned,
                   max(0, to_ask), total("limit"), total("abandoned"))

    def text(self) -> str:
        cached = self.planned - self.to_ask  # shown only when there are some: 80 columns are few
        return (f"{self.answered}/{self.to_ask} answered · {self.in_flight} in flight · "
                f"{self.retried} retried · {self.failed} failed" + (f" · {cached} cached" if cached else ""))


def answers_per_minute(answered: int, seconds: float) -> float:
    """The rate since the first request was planned (0 before any time has passed)."""
    return answered * 60.0 / seconds if seconds > 0 else 0.0


def time_left(left: int, rate: float) -> str:
    """What is left to ask at the rate so far, in words (unknown before the first answer)."""
    if left <= 0:
        return "nothing left to ask"
    if rate <= 0:
        return "time left unknown"
    minutes = left / rate
    if minutes < 1:
        return "under a minute left"
    if minutes < 90:
        return f"about {round(minutes)} min left"
    return f"about {minutes / 60:.1f} h left"


def progress_line(totals: Totals, graded: int, selected: int | None, seconds: float) -> str:
    """The whole line for ``totals``, ``graded`` items of ``selected`` (``None``: not known yet) and
    ``seconds`` since the first request was planned."""
    answered = min(totals.answered, totals.to_ask)  # counts up to what must be asked, as the bar does
    rate = answers_per_minute(totals.answered, seconds)
    left = totals.to_ask - answered - totals.failed
    parts = [f"{answered}/{totals.to_ask} answered", f"{totals.in_flight} in flight",
             f"{graded}/{selected} graded" if selected is not None else f"{graded} graded",
             f"{totals.retried} retried", f"{totals.failed} failed"]
    if totals.abandoned:
        parts.append(f"{totals.abandoned} abandoned")
    if totals.planned > totals.to_ask:
        parts.append(f"{totals.planned - totals.to_ask} cached")
    parts += [f"{rate:.1f} answers/min", time_left(left, rate if totals.answered else 0.0)]
    if totals.limit:  # older snapshots do not say
        parts.append(f"concurrency {totals.limit}")
    return LINE_START + " · ".join(parts)
