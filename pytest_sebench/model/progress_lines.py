"""Progress lines: one plain line every ``--sebench-progress-interval`` seconds where nothing animates.

A CI log (or a pipe, or ``-q``) cannot show the live display, and without it a benchmark run can go
quiet for many minutes while answers arrive: one cannot tell a slow server from a stuck run. So the
controller (or the only process with ``-n0``; never an xdist worker) prints, from a background thread,
a line such as (one line, cut here)::

    sebench progress: 12/31 answered · 1 in flight · 10/31 graded · 0 retried · 0 failed ·
        3.1 answers/min · about 6 min left · concurrency 1

The counts come from the snapshots the asking processes write (``progress_snapshots.py``,
summed by :class:`Totals`); the items graded come from the plugin. The line goes through the same
:class:`Router` as the live display's output, so it never lands in the middle of pytest's dots.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from .progress_router import Router, own_stream, take_over
from .progress_snapshots import (REFRESH_SECONDS, Totals, progress_line, read_snapshots, remove_snapshots,
                                 snapshot_dir)


class ProgressLines:
    """Runs in the controller (or the only process): reads the snapshots and prints a line each interval.

    It is also registered as a pytest plugin while it runs, for one reason: to keep quiet while a
    debugger (``--pdb``, ``breakpoint()``) has the terminal.
    """

    def __init__(self, config: pytest.Config, router: Router, directory: Path, interval: float,
                 graded: Callable[[], int], selected: Callable[[], int | None]) -> None:
        self.config, self.router, self.directory, self.interval = config, router, directory, interval
        self.graded, self.selected = graded, selected
        self.writer: Any = config.get_terminal_writer()
        self.debugging = False
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name="sebench-progress-lines", daemon=True)

    @classmethod
    def start(cls, config: pytest.Config, run_id: str, interval: float, graded: Callable[[], int],
              selected: Callable[[], int | None]) -> "ProgressLines":
        writer = config.get_terminal_writer()
        raw = writer._file  # TerminalWriter's file (see ProgressDisplay): put back in stop()
        # Our own descriptor, as the live display's: with -n0 pytest points fd 1 at its capture file
        # during each test, and the lines are printed during tests too.
        lines = cls(config, Router(raw, own_stream(raw) or raw), snapshot_dir(run_id), interval,
                    graded, selected)
        take_over(writer, lines.router, lines.directory)
        config.pluginmanager.register(lines, "sebench-progress-lines")
        lines.thread.start()
        return lines

    def stop(self) -> None:
        """Stop printing and give pytest its file back (before the summary); idempotent."""
        if self.done.is_set():
            return
        self.done.set()
        self.thread.join(timeout=5)
        with self.router.lock:
            self.router.out.flush()
            self.writer._file = self.router.raw
        if self.router.out is not self.router.raw:
            self.router.out.close()
        remove_snapshots(self.directory)
        if self.config.pluginmanager.is_registered(self):
            self.config.pluginmanager.unregister(self)

    def pytest_enter_pdb(self) -> None:
        self.debugging = True

    def pytest_leave_pdb(self) -> None:
        self.debugging = False

    def _run(self) -> None:
        # Snapshots are read more often than lines are printed, to know when requests were planned.
        due = time.monotonic() + self.interval
        planned_at: float | None = None
        try:
            while not self.done.wait(min(REFRESH_SECONDS, self.interval)):
                totals = Totals.of(read_snapshots(self.directory))
                now = time.monotonic()
                if planned_at is None and totals.planned:
                    planned_at = now
                if planned_at is not None and now >= due and not self.debugging:
                    self.router.interject(progress_line(totals, self.graded(), self.selected(),
                                                        now - planned_at))
                    due = now + self.interval
        except Exception:  # broken lines must never break the run: pytest's output still passes
            return
