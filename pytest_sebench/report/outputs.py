"""The files a run writes when it ends, one writer per format: a new format is a new module with one
writer, added to ``OUTPUTS``. Writers run one after the other and a failing one does not stop the
others: every error is kept and shown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..settings import OPTION_BY_KEY, Settings
from .files import OutputError, check_writable
from .finished import FinishedRun, Output
from .html.output import HtmlPage
from .json_report import JsonReport
from .markdown import MarkdownSummary, StepSummary
from .save_correct import SaveCorrect

OUTPUTS: tuple[Output, ...] = (JsonReport(), HtmlPage(), SaveCorrect(), MarkdownSummary(), StepSummary())


def requested(settings: Settings) -> list[tuple[Output, Path]]:
    """The outputs this run was asked for, with their paths."""
    paths = ((output, getattr(settings, output.setting)) for output in OUTPUTS)
    return [(output, Path(path)) for output, path in paths if path is not None]


def flag_of(output: Output) -> str:
    return OPTION_BY_KEY[output.setting].flag


def unwritable(settings: Settings) -> list[str]:
    """Outputs that could not be written where asked, each naming its option and where it came from."""
    return [f"{flag_of(output)}={path} (from {settings.source_of(output.setting)}): {problem}"
            for output, path in requested(settings) if (problem := _checker(output)(path))]


def _checker(output: Output) -> Callable[[Path], str | None]:
    """An output that does not replace its file whole (one that appends) says how to check it."""
    check: Callable[[Path], str | None] = getattr(output, "check", check_writable)
    return check


def write_all(run: FinishedRun) -> dict[str, str]:
    """Write every requested output; the errors by the output's setting (each message names the
    option and the file), empty when all went."""
    errors = {}
    for output, path in requested(run.settings):
        try:
            output.write(run, path)
        except OutputError as error:
            errors[output.setting] = f"{flag_of(output)}: {error}"
    return errors
