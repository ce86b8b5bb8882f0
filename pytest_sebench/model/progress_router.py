"""pytest's output, routed around the progress display and the progress lines.

pytest keeps writing its own progress while ours is shown. Its terminal writer's file is swapped for
a :class:`Router`, which prints finished lines through the live console (above the display) and shows
the unfinished line (the dots of the current file) at the top of the live area, so nothing interleaves;
the progress lines go through it too (:meth:`Router.interject`), never into the middle of pytest's dots.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from pathlib import Path
from typing import Any, TextIO

_OSC = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")  # pytest's terminal-progress sequences


def own_stream(raw: Any) -> TextIO | None:
    """Our own copy of the descriptor pytest's output goes to (see :class:`Router`), or ``None``
    when it is not a real file (an in-process pytester run)."""
    try:
        return os.fdopen(os.dup(raw.fileno()), "w", encoding=getattr(raw, "encoding", None) or "utf-8",
                         errors="replace")
    except (AttributeError, OSError, ValueError):
        return None


def take_over(writer: Any, router: Router, directory: Path) -> None:
    """Start a display or the lines: ask the asking processes for snapshots (the folder's existence
    tells them) and route pytest's terminal writer through ``router`` (put back by their stop())."""
    directory.mkdir(parents=True, exist_ok=True)
    router.raw.flush()  # what pytest wrote so far comes first
    writer._file = router  # TerminalWriter has no public way to change its file (see progress_live)


class Router:
    """Stands in for the file pytest's terminal writer writes to (see ``progress_live.ProgressDisplay``).

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
