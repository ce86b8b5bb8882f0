"""The live progress display: a rich ``Live`` of the request counts, drawn under pytest's output.

It runs in the controller (or the only process), reads the snapshots every asking process writes
(``progress_snapshots.py``) and routes pytest's own output around itself (``progress_router.py``).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from .progress_router import Router, own_stream, take_over
from .progress_snapshots import REFRESH_SECONDS, Totals, read_snapshots, remove_snapshots, snapshot_dir


class ProgressDisplay:
    """Runs in the controller (or the only process): reads the snapshots, draws, and routes pytest."""

    def __init__(self, writer: Any, console: Any, directory: Path) -> None:
        self.writer, self.console, self.directory = writer, console, directory
        # TerminalWriter has no public way to change its file; ``_file`` is the attribute its
        # write() and flush() use (pytest 8 and 9). It is put back in stop().
        self.router = Router(writer._file, console.file)
        self.live: Any = None
        self.totals = Totals()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name="sebench-progress", daemon=True)

    @classmethod
    def start(cls, config: pytest.Config, run_id: str) -> "ProgressDisplay | None":
        """The display, or ``None`` when the output cannot animate (then lines are printed instead)."""
        writer = config.get_terminal_writer()
        raw = writer._file  # see __init__
        stream = own_stream(raw)  # see Router
        if stream is None:
            return None
        from rich.console import Console
        console = Console(file=stream, color_system="auto" if writer.hasmarkup else None, highlight=False)
        if not console.is_terminal or console.is_dumb_terminal:
            stream.close()
            return None
        display = cls(writer, console, snapshot_dir(run_id))
        take_over(writer, display.router, display.directory)
        display.thread.start()
        return display

    def stop(self) -> None:
        """Erase the display and give pytest its terminal back (before the summary); idempotent."""
        if self.done.is_set():
            return
        self.done.set()
        self.thread.join(timeout=5)
        self._unroute()
        self.console.file.close()
        remove_snapshots(self.directory)

    def _run(self) -> None:
        try:
            while not self.done.wait(REFRESH_SECONDS):
                self.totals = Totals.of(read_snapshots(self.directory))
                if self.live is None and self.totals.planned:  # appear once requests are planned
                    self._go_live()
                if self.live is not None:
                    self.console.size = self._size()
                    self.live.refresh()
        except Exception:  # a broken display must never break the run: pytest gets its terminal back
            self._unroute()

    def _go_live(self) -> None:
        from rich.live import Live
        with self.router.lock:  # no pytest output meanwhile
            if self.router.pending:  # its unfinished line moves into the live area: erase it here
                self.router.out.write("\r\x1b[2K")
            self.router.out.flush()
            self.console.size = self._size()
            self.live = Live(console=self.console, get_renderable=self._render, auto_refresh=False,
                             transient=True, redirect_stdout=False, redirect_stderr=False)
            self.live.start(refresh=True)
            self.router.console = self.console

    def _unroute(self) -> None:
        with self.router.lock:
            if self.live is not None:
                self.router.console = None
                self.live.stop()  # transient: the area is erased and the cursor back where it began
                self.live = None
                self.router.out.write(self.router.pending)  # and pytest's unfinished line is back
            self.router.out.flush()
            self.writer._file = self.router.raw  # see __init__

    def _size(self) -> tuple[int, int]:
        # Asked of our own descriptor: rich asks fds 0-2, which pytest redirects during a -n0 test.
        try:
            columns, lines = os.get_terminal_size(self.console.file.fileno())
        except OSError:
            columns, lines = 0, 0
        return columns or self.writer.fullwidth, lines or 25

    def _render(self) -> Any:
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text
        totals = self.totals
        done = min(totals.answered + totals.failed, totals.to_ask)
        row = Table.grid(padding=(0, 1))
        row.add_column(no_wrap=True)
        row.add_column(min_width=5, max_width=40)  # the bar takes what the counts leave
        row.add_column(no_wrap=True)
        row.add_row(Text("requests", style="bold"),
                    ProgressBar(total=totals.to_ask or 1, completed=done if totals.to_ask else 1),
                    Text(totals.text()))
        pending = self.router.pending
        return Group(Text.from_ansi(pending), row) if pending else row
