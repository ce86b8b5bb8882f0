"""The run's conclusions as a short Markdown page, for CI: ``--sebench-markdown=PATH`` writes it, and
``--sebench-step-summary`` (by default ``$GITHUB_STEP_SUMMARY``) appends it to the job summary GitHub
Actions shows on the run's page.

Python builds a plain context of figures and names from the :class:`FinishedRun` (the same
:class:`Evaluation` the terminal summary and the JSON report read, so the three never disagree); the
template ``templates/summary.md.j2`` does the layout. Markdown has no autoescape and GitHub renders job
summaries with HTML allowed, so every text the template prints goes through the ``md`` filter (model
names, item ids, function names, paths, messages) or is a number formatted by one of the figure
filters; the environment refuses to print anything else, so a forgotten filter fails the tests rather
than handing a model name such as ``<img src=x onerror=...>`` to the page as markup.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..gate.comparison import Comparison
from ..gate.figures import OVERALL, SplitStats
from ..gate.forgetting import most_forgotten
from ..gate.outcomes import FAIL, NOT_SOLVED, REGRESSION
from .files import append_whole, check_appendable, open_atomically
from .finished import FinishedRun
from .summary import truncation_note
from .terminal import SHOWN_FUNCTIONS, SHOWN_REGRESSIONS

if TYPE_CHECKING:
    import jinja2

TEMPLATE = "summary.md.j2"


class Escaped(str):
    """Text that is safe to print in the page: escaped by ``md``, or a figure formatted by a filter."""


# Backslash-escaped: what makes emphasis (* _ ~), code (`), links and images ([ ]), table cells (|),
# GitHub's math ($), and the backslash itself (else "\|" in a name would escape our own escape).
_BACKSLASHED = re.compile(r"([\\`*_\[\]|~$])")
# As entities: what would open raw HTML (< >) or an entity of the text's own making (&).
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_BREAKS = re.compile(r"[\x00-\x1f\x7f]+")  # a line break would end a table row or start a block


def escape_markdown(value: object) -> Escaped:
    """``value`` as literal text in a Markdown table cell or line (GFM, HTML allowed)."""
    text = _BREAKS.sub(" ", str(value))
    text = "".join(_ENTITIES.get(char, char) for char in text)
    return Escaped(_BACKSLASHED.sub(r"\\\1", text))


def _only_escaped(value: object) -> object:
    """The environment's ``finalize``: what a template may print."""
    if isinstance(value, Escaped) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise TypeError(f"{value!r} reached the Markdown page unescaped: print it through '| md' or a figure filter")


def _percent(rate: float, digits: int = 1) -> Escaped:
    return Escaped(f"{100 * rate:.{digits}f}%")


def _points(change: float, digits: int = 1) -> Escaped:
    return Escaped(f"{100 * change:+.{digits}f}")


def _interval(bounds: tuple[float, float]) -> Escaped:  # as the terminal prints an accuracy interval
    return Escaped(f"{100 * bounds[0]:.1f}-{100 * bounds[1]:.1f}")


def _change_interval(bounds: tuple[float, float]) -> Escaped:  # signed, as the terminal prints a change
    return Escaped(f"{100 * bounds[0]:+.1f}..{100 * bounds[1]:+.1f}")


def _p_value(p: float) -> Escaped:
    return Escaped(f"{p:.3g}")


@functools.lru_cache(maxsize=1)
def markdown_environment() -> jinja2.Environment:
    from .templating import environment  # jinja2 is loaded only when a summary is written

    markdown = environment().overlay(finalize=_only_escaped)
    markdown.filters.update(md=escape_markdown, percent=_percent, points=_points, interval=_interval,
                            change_interval=_change_interval, p_value=_p_value)
    return markdown


def render_markdown(run: FinishedRun) -> str:
    return markdown_environment().get_template(TEMPLATE).render(**summary_context(run))


# -- the context: figures and names, no Markdown ---------------------------------------------------------

def summary_context(run: FinishedRun) -> dict[str, Any]:
    evaluation = run.evaluation
    summary = evaluation.summary
    comparison = evaluation.comparison
    k = summary.overall.k
    splits = [_split_row(name, stats, k) for name, stats in summary.splits.items()]
    if len(summary.splits) > 1:
        splits.append(_split_row(OVERALL, summary.overall, k))
    regressions = comparison.regressions
    return {
        "model": summary.model, "data": summary.data_source, "library": summary.library, "k": k,
        "splits": splits,
        "baseline": _baseline(comparison) if comparison.baseline is not None else None,
        "gates": [{"name": gate.name, "passed": gate.passed, "detail": gate.detail} for gate in evaluation.gates],
        "regressions": [_regression(comparison, item_id) for item_id in regressions[:SHOWN_REGRESSIONS]],
        "regressions_total": len(regressions),
        "regressions_fail": comparison.policy.regressions_fail,
        "forgotten": [{"name": entry.name, "item_count": entry.paired, "now": entry.now, "before": entry.base or 0.0,
                       "change": entry.change or 0.0}
                      for entry in most_forgotten(evaluation.functions, SHOWN_FUNCTIONS)],
        "errors": summary.overall.errors,
        "truncation": truncation_note(summary) if summary.overall.truncated else None,
        "notes": list(run.notes),
        "verdict": verdict(run),
    }


def _split_row(name: str, stats: SplitStats, k: int) -> dict[str, Any]:
    return {"name": name, "overall": name == OVERALL, "item_count": stats.items, "mean": stats.accuracy,
            "mean_ci": stats.interval(), "pass": stats.pass_at(k), "pass_ci": stats.interval(k)}


def _baseline(comparison: Comparison) -> dict[str, Any]:
    baseline = comparison.baseline
    assert baseline is not None
    rows = [{"name": name, "item_count": diff.items, "now": diff.now, "before": diff.base, "change": diff.difference,
             "ci": (diff.low, diff.high), "p": diff.p_value,
             "test": "exact McNemar" if diff.method == "mcnemar" else "paired bootstrap"}
            for name, diff in comparison.paired.items() if diff.items]  # none paired: no figures to show
    return {"label": baseline.label, "path": baseline.path, "time": baseline.provenance.get("time") or "time unknown",
            "rows": rows, "regressions": len(comparison.regressions), "improvements": len(comparison.improvements),
            "known_gaps": len(comparison.known_gaps), "flaky": len(comparison.flaky),
            "missing_now": len(comparison.missing_now), "not_in_baseline": len(comparison.not_in_baseline),
            "unpaired": len(comparison.unpaired_errors), "warnings": list(comparison.warnings)}


def _regression(comparison: Comparison, item_id: str) -> dict[str, str]:
    base = comparison.baseline_counts(item_id)
    return {"id": item_id, "before": base.text() if base is not None else "?",
            "now": comparison.counts[item_id].text()}


def verdict(run: FinishedRun) -> dict[str, Any]:
    """Whether the run passes, and why not: what makes the plugin's exit status non-zero (failed items,
    failed gates, infrastructure errors, an early stop). Other tests of the session, and outputs that
    could not be written, are pytest's to report."""
    evaluation = run.evaluation
    outcomes = evaluation.comparison.outcomes.values()

    def failed(label: str) -> int:
        return sum(1 for outcome in outcomes if outcome.result == FAIL and outcome.label == label)

    reasons: list[str] = []
    stopped = next((record.stopped_run for record in run.records if record.stopped_run), None)
    if stopped:
        reasons.append(f"the run stopped early ({stopped})")
    reasons += [f"gate {gate.name} failed" for gate in evaluation.failed_gates]
    if regressions := failed(REGRESSION):
        reasons.append(f"{_plural(regressions, 'regression')} failed")
    if unsolved := failed(NOT_SOLVED):  # without a baseline or a bar, each unsolved item fails
        reasons.append(f"{_plural(unsolved, 'item')} not solved")
    if errors := evaluation.summary.overall.errors:
        reasons.append(_plural(errors, "infrastructure error"))
    return {"passed": not reasons, "reasons": reasons, "gates": len(evaluation.gates)}


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' if count != 1 else ''}"


# -- the outputs ----------------------------------------------------------------------------------------

class MarkdownSummary:
    """``--sebench-markdown``: the page as a file of its own, replaced whole."""

    setting = "markdown"

    def write(self, run: FinishedRun, path: Path) -> None:
        text = render_markdown(run)  # before the file is opened: a failure leaves the old one
        with open_atomically(path) as out:
            out.write(text)


class StepSummary:
    """``--sebench-step-summary``: the page added to the end of a file that other steps write to too."""

    setting = "step_summary"

    @staticmethod
    def check(path: Path) -> str | None:
        return check_appendable(path)

    def write(self, run: FinishedRun, path: Path) -> None:
        # Blank lines around the page: the file may end in another step's text without a line break,
        # which would swallow the heading, and a line written after the page would join its last table
        # or list.
        append_whole(path, "\n" + render_markdown(run) + "\n")
