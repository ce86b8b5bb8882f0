"""Progress of the model requests: the live display (answered / in flight / retried / failed) drawn
under pytest's output, and what it shares with the progress lines of logs (``progress_lines.py``).

Requests are made where answers are needed (the only process with ``-n0``, or each xdist worker), but
only the controller may draw. So every asking process writes a small JSON snapshot of its counters to
the run's scratch folder (the broker, via :func:`write_snapshot`), and the controller's display thread
sums them (:meth:`Totals.of`) and draws a rich ``Live``. The folder exists only while a display runs:
that is how the workers know snapshots are wanted, with no setting passed to them.

pytest keeps writing its own progress meanwhile. Its terminal writer's file is swapped for
:class:`_Router`, which prints finished lines through the live console (above the display) and shows
the unfinished line (the dots of the current file) at the top of the live area, so nothing interleaves.

Where nothing can animate (a CI log, a pipe, ``-q``), :func:`start_progress` starts the progress lines
instead: the same snapshots, the same router, one plain line every ``--sebench-progress-interval``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, TextIO

import pytest

if TYPE_CHECKING:
    from .progress_lines import ProgressLines

SNAPSHOT_SECONDS = 0.5  # how often a process writes its counts (when they changed)
REFRESH_SECONDS = 0.25  # how often the display reads them and redraws
_OSC = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")  # pytest's terminal-progress sequences


def snapshot_dir(run_id: str) -> Path:
    from .factory import run_scratch  # here, not above: factory imports the broker, which imports us
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


def resolve_mode(choice: str, config: pytest.Config, stream: Any) -> str:
    """``live``, ``lines`` or ``off`` for ``--sebench-progress`` (``auto|live|lines|off``).

    ``auto`` animates only where that is welcome (a terminal, not CI, not ``-q``, not pdb, which
    needs the terminal) and prints lines elsewhere, so a CI log is never silent for minutes. A
    ``live`` that turns out unable to animate falls back to lines in :func:`start_progress`.
    """
    if choice != "auto":
        return choice
    is_terminal = getattr(stream, "isatty", None)
    animate = (bool(is_terminal and is_terminal()) and not os.environ.get("CI")
               and config.get_verbosity() >= 0 and not config.getoption("usepdb", False))
    return "live" if animate else "lines"


def start_progress(config: pytest.Config, choice: str, run_id: str, interval: float,
                   graded: Callable[[], int],
                   selected: Callable[[], int | None]) -> "ProgressDisplay | ProgressLines | None":
    """Start what ``choice`` resolves to, in the controller (or the only process): the live display,
    the progress lines (``graded()`` items finished of ``selected()``, learnt after collection), or
    nothing (``None``). Both have ``stop()``, which must run before the terminal summary."""
    if config.pluginmanager.get_plugin("terminalreporter") is None:  # -p no:terminal
        return None
    mode = resolve_mode(choice, config, config.get_terminal_writer()._file)  # see ProgressDisplay
    if mode == "off":
        return None
    if mode == "live" and (display := ProgressDisplay.start(config, run_id)) is not None:
        return display
    from .progress_lines import ProgressLines  # here: it imports this module

    return ProgressLines.start(config, run_id, interval, graded, selected)


def own_stream(raw: Any) -> TextIO | None:
    """Our own copy of the descriptor pytest's output goes to (see :class:`_Router`), or ``None``
    when it is not a real file (an in-process pytester run)."""
    try:
        return os.fdopen(os.dup(raw.fileno()), "w", encoding=getattr(raw, "encoding", None) or "utf-8",
                         errors="replace")
    except (AttributeError, OSError, ValueError):
        return None


def take_over(writer: Any, router: "_Router", directory: Path) -> None:
    """Start a display or the lines: ask the asking processes for snapshots (the folder's existence
    tells them) and route pytest's terminal writer through ``router`` (put back by their stop())."""
    directory.mkdir(parents=True, exist_ok=True)
    router.raw.flush()  # what pytest wrote so far comes first
    writer._file = router  # TerminalWriter has no public way to change its file (see ProgressDisplay)


def remove_snapshots(directory: Path) -> None:
    """Remove the snapshot folder, so the asking processes stop writing (see :func:`write_snapshot`)."""
    for _ in range(3):  # a -n0 broker may write one more snapshot while this removes the folder
        shutil.rmtree(directory, ignore_errors=True)
    with contextlib.suppress(OSError):
        directory.parent.rmdir()  # the run's scratch folder, unless the answer cache uses it


class _Router:
    """Stands in for the file pytest's terminal writer writes to (see :class:`ProgressDisplay`).

    Everything goes to ``out``, our own copy of the terminal's descriptor, never to ``raw``: with
    -n0, pytest points fd 1 at its capture file during each test, and the display draws (and pytest's
    unfinished line is moved into it) during tests too.
    """

    def __init__(self, raw: Any, out: Any) -> None:
        self.raw, self.out = raw, out
        self.pending = ""  # the unfinished last line; read without the lock by the render
        self.console: Any = None  # set while the display is live
        self.lock = threading.RLock()

    def write(self, text: str) -> int:
        from rich.text import Text
        with self.lock:
            if self.console is None:
                self._flush_raw()
                self.out.write(text)
            else:  # an OSC sequence is invisible but would be shown as text: drop it while live
                text = _OSC.sub("", text)
            *lines, last = (self.pending + text).split("\n")
            self.pending = last.rsplit("\r", 1)[-1]  # "\r" rewinds: pytest rewrites the line
            for line in lines if self.console is not None else ():
                self.console.print(Text.from_ansi(line.rsplit("\r", 1)[-1]), soft_wrap=True)
        return len(text)

    def flush(self) -> None:
        if self.console is None:
            self.out.flush()

    def interject(self, line: str) -> None:
        """Print one whole line of ours (not live) without breaking pytest's unfinished one: end it,
        print ours, then write it again, so the terminal's current line is what pytest thinks it is
        (it counts its width to place the ``[ 42%]`` column)."""
        with self.lock:
            self._flush_raw()
            pending = _OSC.sub("", self.pending)
            self.out.write(("\n" if pending else "") + line + "\n" + pending)
            self.out.flush()

    def _flush_raw(self) -> None:
        """What was written to the real file around pytest's writer (a test's print() with ``-s``)
        goes out before what comes through ``out``, as it would have without us."""
        if self.raw is not None and self.raw is not self.out:
            with contextlib.suppress(OSError, ValueError):
                self.raw.flush()

    def __getattr__(self, name: str) -> Any:  # isatty, encoding, fileno, ...: the real terminal's
        return getattr(self.raw, name)


class ProgressDisplay:
    """Runs in the controller (or the only process): reads the snapshots, draws, and routes pytest."""

    def __init__(self, writer: Any, console: Any, directory: Path) -> None:
        self.writer, self.console, self.directory = writer, console, directory
        # TerminalWriter has no public way to change its file; ``_file`` is the attribute its
        # write() and flush() use (pytest 8 and 9). It is put back in stop().
        self.router = _Router(writer._file, console.file)
        self.live: Any = None
        self.totals = Totals()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name="sebench-progress", daemon=True)

    @classmethod
    def start(cls, config: pytest.Config, run_id: str) -> "ProgressDisplay | None":
        """The display, or ``None`` when the output cannot animate (then lines are printed instead)."""
        writer = config.get_terminal_writer()
        raw = writer._file  # see __init__
        stream = own_stream(raw)  # see _Router
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
