"""The JSON report: every item's record, the run's conclusions and what the run was made from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .files import write_atomically
from .finished import FinishedRun
from .records import keeps_response, without_response

SCHEMA_VERSION = 1


def report_document(run: FinishedRun) -> dict[str, Any]:
    evaluation, keep = run.evaluation, run.settings.report_responses
    items = [dict(record, outcome=evaluation.comparison.outcomes[record["id"]].to_json(),
                  samples=[sample if keeps_response(keep, bool(sample.get("passed"))) else without_response(sample)
                           for sample in record["samples"]])
             for record in run.records]
    document = {"schema_version": SCHEMA_VERSION, "summary": evaluation.summary.to_json(), "items": items,
                **evaluation.to_json(), "provenance": run.provenance}
    if run.requests is not None:
        document["requests"] = run.requests
    return document


class JsonReport:
    setting = "report"

    def write(self, run: FinishedRun, path: Path) -> None:
        write_atomically(path, json.dumps(report_document(run), indent=1, ensure_ascii=False, allow_nan=False) + "\n")
