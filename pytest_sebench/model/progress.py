"""Progress of the model requests, shown while a served model is asked: which form, and starting it.

Two forms read the same snapshots (``progress_snapshots.py``: every asking process's counters) and
route pytest's output the same way (``progress_router.py``): the live display (``progress_live.py``,
a rich ``Live`` under pytest's output, where a terminal can animate) and the progress lines
(``progress_lines.py``, one plain line every ``--sebench-progress-interval`` seconds: a CI log, a pipe,
``-q``).
"""

from __future__ import annotations

import os
from typing import Any, Callable

import pytest

from .progress_lines import ProgressLines
from .progress_live import ProgressDisplay


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
                   selected: Callable[[], int | None]) -> ProgressDisplay | ProgressLines | None:
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
    return ProgressLines.start(config, run_id, interval, graded, selected)
