"""The page: its model, built from the checkpoints' reports, rendered by Jinja2 into one HTML file.

Everything is inline (styles, the page's own script, the charts, the items' details), so the file
opens offline and fetches nothing. Text from reports reaches the page through Jinja2's autoescaping or
as data the script places with ``textContent``. A Content-Security-Policy allows only the page's own
script (by its hash), inline styles and ``data:`` images, so even markup that slipped through could
neither run nor fetch anything.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Iterator, Sequence

from ... import __version__
from ...gate.evaluation import Evaluation
from ...gate.figures import OVERALL
from ..files import open_atomically
from ..runs import RunData
from ..templating import render
from .charts import accuracy_chart, heat_map_chart
from .code import style_sheet
from .fields import mapping
from .figures import Figures, figures, island_figures, provenance_facts
from .history import HEAT_ROWS, FunctionRates, checkpoint, heat_map
from .items import ItemsView, items_view
from ..prompts import PromptMaker

TEMPLATE = "page.html.j2"


@dataclass(frozen=True)
class Charts:
    checkpoints: list[str]  # labels, oldest first
    accuracy: str  # SVG
    heat_map: str | None  # SVG; None when no function's pass rate changed
    heat_rows: int
    heat_changed: int


@dataclass(frozen=True)
class Page:
    run_label: str
    sources: list[str]  # the reports (or "this run"), oldest first
    facts: list[tuple[str, str]]
    figures: Figures
    charts: Charts | None  # with several checkpoints only
    items: ItemsView
    has_prompt: bool


def with_evaluation(run: RunData, evaluation: Evaluation) -> RunData:
    """``run`` with the conclusions ``judge()`` reached against another checkpoint in place of its own:
    its figures, comparison, gates and map, and each item's outcome."""
    outcomes = evaluation.comparison.outcomes
    top = {**run.top, "summary": evaluation.summary.to_json(), **evaluation.to_json()}

    def items() -> Iterator[dict[str, Any]]:
        for item in run.items():
            outcome = outcomes.get(item["id"])
            yield item if outcome is None else {**item, "outcome": outcome.to_json()}

    return RunData(run.source, top, items)


def build_page(checkpoints: Sequence[RunData]) -> Page:
    """The page of the newest checkpoint (the last); the earlier ones, oldest first, feed the charts."""
    run, earlier = checkpoints[-1], checkpoints[:-1]
    summary = mapping(run.top.get("summary"))
    prompts = PromptMaker(run.provenance, str(summary.get("library") or ""))
    rates = FunctionRates()
    overall = mapping(summary.get(OVERALL))
    view = items_view(rates.reading(run.items()), prompts, island_figures(run.top), int(overall.get("samples") or 0))
    charts = None
    if earlier:
        points = [checkpoint(old) for old in earlier] + [checkpoint(run, rates)]
        heat = heat_map(points, HEAT_ROWS)
        charts = Charts([point.label for point in points], accuracy_chart(points),
                        heat_map_chart(heat, points) if heat.rows else None, len(heat.rows), heat.changed)
    return Page(run.label, [old.source for old in checkpoints], provenance_facts(run.top), figures(run.top), charts,
                view, prompts.template is not None)


@functools.cache
def static(name: str) -> str:
    """A file of ``report/static/`` (the page's own script and style sheet)."""
    return resources.files("pytest_sebench.report").joinpath("static").joinpath(name).read_text(encoding="utf-8")


def script_hash(script: str) -> str:
    """The CSP source that allows exactly this inline script."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii") + "'"


def content_security_policy(script: str) -> str:
    # nothing may be fetched or framed: no connect, font, media or frame source is allowed (default-src)
    return (f"default-src 'none'; script-src {script_hash(script)}; style-src 'unsafe-inline'; img-src data:; "
            "base-uri 'none'; form-action 'none'")


def render_page(page: Page) -> str:
    script = static("page.js")
    if "</script" in script.lower():  # inlined as it is, it would end its own element early
        raise RuntimeError("report/static/page.js must not contain '</script'")
    text = render(TEMPLATE, page=page, script=script, style=static("page.css") + style_sheet(),
                  csp=content_security_policy(script), version=__version__)
    # a lone surrogate in a report's text (a model can emit one inside JSON) cannot be written as UTF-8
    return text.encode("utf-8", "replace").decode("utf-8")


def write_page(checkpoints: Sequence[RunData], path: Path) -> None:
    """Render first, then write whole or nothing (files.OutputError names the file)."""
    text = render_page(build_page(checkpoints))
    with open_atomically(path) as out:
        out.write(text)
