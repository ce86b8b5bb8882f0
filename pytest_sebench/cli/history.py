"""Accuracy per split over a training run's checkpoints, and each checkpoint's change from the last.

``sebench history REPORT.json...`` orders the reports by revision (``step-900`` before ``step-1200``),
else by the time they ran, and draws one row per checkpoint: per split mean@k with its 95 % interval,
and the change from the row above in points, with its 95 % interval and p, paired over the items both
reports have, as the gate computes it. ``--json`` gives the same table to scripts.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from rich import box
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from ..gate.figures import OVERALL
from ..report.history import Checkpoint, history, history_json, split_names
from .common import add_width, console
from .plain import plain

SIGNIFICANT = 0.05  # a drop with p below it is drawn red (the gate's default --sebench-alpha)
LEGEND = ("Each cell: mean@k [95% interval] from the report's summary; below it, the change from the row "
          "above in points [95% interval] and p (one-sided, for a drop: exact McNemar when K = 1, else a "
          "paired bootstrap), paired over the items both reports ran without an infrastructure error, as "
          "the gate computes it.")


def add_to(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("reports", type=Path, nargs="+", metavar="REPORT.json",
                        help="--sebench-report files of the checkpoints, in any order")
    parser.add_argument("--json", action="store_true",
                        help="print the table as JSON (rates as fractions 0-1, as the reports hold them)")
    add_width(parser)


def run(args: argparse.Namespace) -> int:
    checkpoints = history(args.reports)
    if args.json:
        json.dump(history_json(checkpoints), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    out = console(args)
    table = history_table(checkpoints)
    if args.width is None and not out.is_terminal:
        # a log or a pipe does not wrap lines: draw the table whole rather than folding its cells
        wide = out.options.update(width=1000, max_width=1000)
        out.width = max(out.width, Measurement.get(out, wide, table).maximum)
    out.print(table)
    out.print(plain(LEGEND, "dim"))
    for line in notes(checkpoints):
        out.print(line, soft_wrap=True)  # one line each: logs are grepped
    return 0


def history_table(checkpoints: Sequence[Checkpoint]) -> Table:
    """One row per checkpoint; one column per split, mean@k over the change from the row above (two
    columns per split would not fit a terminal). Cells fold at spaces, never inside a number."""
    names = split_names(checkpoints)
    table = Table(box=box.SIMPLE_HEAD)
    for header in ("checkpoint", "revision", "time"):
        table.add_column(header, overflow="fold")
    table.add_column("items", justify="right")
    for name in names:
        ks = {checkpoint.splits[name].k for checkpoint in checkpoints if name in checkpoint.splits}
        k = str(ks.pop()) if len(ks) == 1 else "k"
        table.add_column(plain(f"{name}\nmean@{k}\nchange"), justify="right", overflow="fold")
    for checkpoint in checkpoints:
        cells: list[Any] = [plain(_short_label(checkpoint), "bold"), plain(checkpoint.revision or "-"),
                            plain(_time(checkpoint.time)), str(checkpoint.items)]
        cells += [_split_cell(checkpoint, name) for name in names]
        table.add_row(*cells)
    return table


def _split_cell(checkpoint: Checkpoint, name: str) -> Text:
    figures = checkpoint.splits.get(name)
    if figures is None:
        cell = Text("-")
    else:
        cell = Text(f"{100 * figures.mean:.1f}% [{100 * figures.low:.1f}, {100 * figures.high:.1f}]")
    change = _change(checkpoint, name)
    if change.plain:
        cell.append("\n")
        cell.append_text(change)
    return cell


def _change(checkpoint: Checkpoint, name: str) -> Text:
    change = checkpoint.change
    if change is None:
        return Text()
    if change.refused:
        return Text(f"not compared: {change.why}", "yellow")
    diff = change.paired.get(name)
    if diff is None or diff.items == 0:
        return Text("no items in both", "dim") if name in checkpoint.splits or name == OVERALL else Text()
    style = "bold red" if diff.difference < 0 and diff.p_value < SIGNIFICANT else "cyan"
    return Text(f"{100 * diff.difference:+.1f} [{100 * diff.low:+.1f}, {100 * diff.high:+.1f}]\n"
                f"p={diff.p_value:.3g}", style)


def notes(checkpoints: Sequence[Checkpoint]) -> list[Text]:
    """What the cells cannot say: why a pair was not compared, items left out, other differences."""
    lines = []
    for checkpoint in checkpoints:
        change = checkpoint.change
        if change is None:
            continue
        # the row above is what the provenance messages call "the baseline"
        against = f"{checkpoint.label} ({checkpoint.report}) against {change.against} ({change.against_report}): "
        if change.refused:
            lines.append(plain(against + "not compared: " + "; ".join(change.refused), "yellow"))
        if change.unpaired_errors:
            count = len(change.unpaired_errors)
            shown = ", ".join(change.unpaired_errors[:10]) + (" ..." if count > 10 else "")
            lines.append(plain(f"{against}{count} item{'s' if count != 1 else ''} left out of the pairing "
                               f"(an infrastructure error on either side): {shown}"))
        lines += [plain(f"{against}note: {note}", "dim") for note in change.notes]
    return lines


def _short_label(checkpoint: Checkpoint) -> str:
    """The label without the time it ends with when there is no revision (the time has its column)."""
    if checkpoint.time and checkpoint.label.endswith(f" {checkpoint.time}"):
        return checkpoint.label[:-len(checkpoint.time) - 1]
    return checkpoint.label


def _time(time: str | None) -> str:
    """``2026-12-07`` over ``10:02`` for ``2026-12-07T10:02:05+00:00`` (the JSON keeps it whole)."""
    if not time:
        return "-"
    return f"{time[:10]}\n{time[11:16]}" if len(time) >= 16 and time[10] == "T" else time
