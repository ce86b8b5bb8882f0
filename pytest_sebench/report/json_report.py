"""The JSON report: every item's record, the run's conclusions and what the run was made from.

Written in the one layout of ``records/report_file.py`` (one item per line), item by item from the
controller's spool, so neither writing nor reading it back holds every sample's text at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from ..records.build import keeps_response
from ..records.item import answer_without_response
from ..records.report_file import write_report
from .files import open_atomically
from .finished import FinishedRun
from .runs import RunData


def report_items(run: FinishedRun) -> Iterator[dict[str, Any]]:
    """Each item's full record with its outcome; the raw responses that --sebench-report-responses
    drops are dropped here (--sebench-save-correct may have kept them on the way)."""
    keep, outcomes = run.settings.report_responses, run.evaluation.comparison.outcomes
    for record in run.full_records():
        samples = [sample if keeps_response(keep, bool(sample.get("passed"))) else _without_response(sample)
                   for sample in record["samples"]]
        yield dict(record, samples=samples, outcome=outcomes[record["id"]].to_json())


def _without_response(sample: dict[str, Any]) -> dict[str, Any]:
    return {**sample, "answer": answer_without_response(sample.get("answer") or {})}


def report_fields(run: FinishedRun) -> tuple[dict[str, Any], dict[str, Any]]:
    """The report's top-level fields: those before the items, and those after them."""
    head = {"summary": run.evaluation.summary.to_json()}
    tail = {**run.evaluation.to_json(), "provenance": run.provenance}
    if run.requests is not None:
        tail["requests"] = run.requests
    return head, tail


def run_data(run: FinishedRun) -> RunData:
    """The finished run as its report would hold it (the pages read this form; no file needed)."""
    head, tail = report_fields(run)
    return RunData("this run", {**head, **tail}, lambda: report_items(run))


class JsonReport:
    setting = "report"

    def write(self, run: FinishedRun, path: Path) -> None:
        head, tail = report_fields(run)
        with open_atomically(path) as out:
            write_report(out, head, report_items(run), tail)
