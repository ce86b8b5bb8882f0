"""``--sebench-html``: the page written at the end of a pytest run, from the finished run itself.

With ``--sebench-baseline`` the baseline's report is the older checkpoint, so the page has the
accuracy chart and the heat map of both runs; the run's own comparison (against that baseline) is shown.
"""

from __future__ import annotations

from pathlib import Path

from ...records.report_file import ReportFileError
from ..files import OutputError
from ..finished import FinishedRun
from ..runs import RunData, read_run


class HtmlPage:
    setting = "html"

    def write(self, run: FinishedRun, path: Path) -> None:
        # imported here: a pytest run without --sebench-html never loads Jinja2, Pygments or matplotlib
        from ..json_report import run_data
        from .page import write_page

        checkpoints: list[RunData] = []
        if run.settings.baseline is not None:
            try:
                checkpoints.append(read_run(Path(run.settings.baseline)))
            except ReportFileError as error:  # read at start; it changed since
                raise OutputError(f"cannot read the baseline again: {error}") from None
        checkpoints.append(run_data(run))
        write_page(checkpoints, path)
