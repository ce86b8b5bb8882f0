"""The run's figures (``gate/figures.py``) drawn as the table of the terminal summary."""

from __future__ import annotations

import io
from typing import Any

from ..gate.figures import OVERALL, Summary
from ..grade.verdict import CATEGORIES


def render_summary(summary: Summary, width: int = 100, color: bool = False) -> str:
    return console_text(width, color, lambda console: draw_summary(console, summary))


def draw_summary(console: Any, summary: Summary) -> None:
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD)
    columns = list(summary.splits.items()) + ([(OVERALL, summary.overall)] if len(summary.splits) > 1 else [])
    table.add_column("")
    for name, _ in columns:
        table.add_column(markup_free(name), justify="right")
    table.add_row("items", *(str(stats.items) for _, stats in columns))
    k = summary.overall.k
    if k > 1:
        table.add_row(f"mean@{k}", *(f"{100 * stats.accuracy:.1f}%" for _, stats in columns))
        table.add_row("  95% CI", *(_interval(stats.interval()) for _, stats in columns))
        table.add_row(f"pass@{k}", *(f"{100 * stats.pass_at(k):.1f}%" for _, stats in columns))
        table.add_row("  95% CI", *(_interval(stats.interval(k)) for _, stats in columns),
                      end_section=True)
    else:
        table.add_row("accuracy", *(f"{100 * stats.accuracy:.1f}%" for _, stats in columns))
        table.add_row("  95% CI", *(_interval(stats.interval()) for _, stats in columns),
                      end_section=True)
    indent = ""
    if k > 1:  # the categories below count samples, not items: say so
        table.add_row(f"samples ({k} per item)", *(str(stats.samples) for _, stats in columns))
        indent = "  "
    for category in CATEGORIES:
        table.add_row(indent + category, *(str(stats.categories[category]) for _, stats in columns))
    console.print(f"model {markup_free(summary.model)}, data {markup_free(summary.data_source)}, "
                  f"library {markup_free(summary.library)}")
    console.print(table)
    if summary.overall.truncated:
        console.print(truncation_note(summary), soft_wrap=True)  # one line: CI logs are grepped
    if summary.overall.errors:
        console.print(f"{summary.overall.errors} infrastructure error(s): counted as not solved; "
                      "the run fails until they are fixed.")


def markup_free(value: object) -> str:
    """Text from a model, a dataset or a user, printed as written: rich would read ``[...]`` in a model
    name or an item id as markup (and stop at a closing tag it has no opening for)."""
    from rich.markup import escape

    return escape(str(value))


def truncation_note(summary: Summary) -> str:
    limit = f"max_tokens={summary.max_tokens}" if summary.max_tokens else "max_tokens"
    return (f"{summary.overall.truncated} of {summary.overall.samples} answers were cut at {limit} "
            "(finish_reason \"length\"): raise --sebench-max-tokens if the server's context allows, "
            "or see whether the model stops at all")


def _interval(bounds: tuple[float, float]) -> str:
    return f"{100 * bounds[0]:.1f}-{100 * bounds[1]:.1f}"


def console_text(width: int, color: bool, *parts: Any) -> str:
    """Render rich objects (or callables drawing on a console) to text for pytest's terminal writer."""
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=color, no_color=not color, highlight=False)
    for part in parts:
        part(console) if callable(part) else console.print(part)
    return buffer.getvalue()
