"""The terminal summary after the split table: the baseline, the gates, regressions, forgetting, taxonomy.

Only renders: every figure comes from the :class:`Evaluation` that the JSON report serialises too.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any, Sequence

from ..gate.evaluation import Evaluation
from ..gate.forgetting import FunctionChange, most_forgotten, most_learned
from ..grade.taxonomy import CLASSES, PARENT
from ..settings import FALLBACK_ENV
from .summary import console_text, markup_free as _text

SHOWN_REGRESSIONS = 20
SHOWN_FUNCTIONS = 10
SHOWN_IDS = 10


@dataclass(frozen=True)
class NextSteps:
    """What the user may want to run next; built from the command line of this run."""

    args: tuple[str, ...]  # this run's arguments
    report: str | None
    baseline: str | None
    errors: int = 0  # infrastructure errors of this run
    # output settings that did not come from the command line, as (option name, where it came from):
    # a rerun must not overwrite those files either
    inherited_outputs: tuple[tuple[str, str], ...] = ()


def render_evaluation(evaluation: Evaluation, steps: NextSteps, width: int = 100, color: bool = False) -> str:
    return console_text(width, color, lambda console: draw(console, evaluation, steps))


def draw(console: Any, evaluation: Evaluation, steps: NextSteps | None) -> None:
    """``steps`` None: no advice on what to run next (``sebench compare`` has no command line to rerun)."""
    comparison = evaluation.comparison
    if comparison.baseline is not None:
        _draw_baseline(console, evaluation)
    _draw_gates(console, evaluation)
    _draw_regressions(console, evaluation)
    _draw_functions(console, evaluation.functions, has_baseline=comparison.baseline is not None)
    _draw_taxonomy(console, evaluation.taxonomy)
    if steps is not None:
        _draw_next(console, evaluation, steps)


def _draw_baseline(console: Any, evaluation: Evaluation) -> None:
    from rich import box
    from rich.table import Table

    comparison = evaluation.comparison
    baseline = comparison.baseline
    assert baseline is not None
    tests = sorted({"exact McNemar" if diff.method == "mcnemar" else "paired bootstrap"
                    for diff in comparison.paired.values()})
    console.print(f"against {_text(baseline.label)} ({_text(baseline.path)}, "
                  f"{_text(baseline.provenance.get('time', 'time unknown'))}); "
                  f"change in points, {' / '.join(tests) or 'no'} test, one-sided p of a drop", soft_wrap=True)
    table = Table(box=box.SIMPLE_HEAD)
    for title in ("", "items", "now", "before", "change", "95% CI", "p"):
        table.add_column(title, justify="left" if not title else "right", no_wrap=True)
    for name, diff in comparison.paired.items():
        table.add_row(_text(name), str(diff.items), f"{100 * diff.now:.1f}%", f"{100 * diff.base:.1f}%",
                      f"{100 * diff.difference:+.1f}", f"{100 * diff.low:+.1f}..{100 * diff.high:+.1f}",
                      f"{diff.p_value:.3g}")
    console.print(table)
    counts = [(len(comparison.regressions), "regressions"), (len(comparison.improvements), "improvements"),
              (len(comparison.known_gaps), "known gaps"), (len(comparison.flaky), "flaky")]
    console.print("items: " + ", ".join(f"{count} {what}" for count, what in counts))
    for ids, what in ((comparison.missing_now, "in the baseline but not run now"),
                      (comparison.not_in_baseline, "run now but not in the baseline"),
                      (comparison.unpaired_errors, "left out of the pairing (infrastructure error on a side)")):
        if ids:
            console.print(f"{len(ids)} items {what}: {_text(_ids(ids))}")
    for warning in comparison.warnings:
        console.print(f"warning: {_text(warning)}", soft_wrap=True)  # one line: CI logs are grepped


def _draw_gates(console: Any, evaluation: Evaluation) -> None:
    for gate in evaluation.gates:
        verdict = "[green]PASS[/green]" if gate.passed else "[bold red]FAIL[/bold red]"
        console.print(f"gate {_text(gate.name)}: {verdict} {_text(gate.detail)}", soft_wrap=True)


def _draw_regressions(console: Any, evaluation: Evaluation) -> None:
    comparison = evaluation.comparison
    regressions = comparison.regressions
    if not regressions:
        return
    console.print(f"[bold]regressions[/bold] ({min(len(regressions), SHOWN_REGRESSIONS)} of {len(regressions)}):")
    for item_id in regressions[:SHOWN_REGRESSIONS]:
        base = comparison.baseline_counts(item_id)
        now = comparison.counts[item_id]
        console.print(f"  {_text(item_id)}  {base.text() if base else '?'} -> {now.text()}")


def _draw_functions(console: Any, functions: list[FunctionChange], *, has_baseline: bool) -> None:
    from rich import box
    from rich.table import Table

    if not functions:
        return
    if not has_baseline:
        weakest = sorted(functions, key=lambda entry: (entry.now, entry.name))[:SHOWN_FUNCTIONS]
        console.print("weakest functions: " + ", ".join(
            f"{_text(entry.name)} {100 * entry.now:.0f}% ({entry.items})" for entry in weakest))
        return
    table = Table(box=box.SIMPLE_HEAD, title="forgetting map (all functions in the report)", title_justify="left")
    for title in ("", "function", "items", "now", "before", "change"):
        table.add_column(title, justify="left" if title in ("", "function") else "right", no_wrap=True)
    for title, entries in (("forgotten", most_forgotten(functions, SHOWN_FUNCTIONS)),
                           ("learned", most_learned(functions, SHOWN_FUNCTIONS))):
        for index, entry in enumerate(entries):
            table.add_row(title if index == 0 else "", _text(entry.name), str(entry.paired),
                          f"{100 * entry.now:.0f}%", f"{100 * (entry.base or 0):.0f}%",
                          f"{100 * (entry.change or 0):+.0f}", end_section=index == len(entries) - 1)
    if table.row_count:
        console.print(table)
    else:
        console.print("forgetting map: no function changed")


def _draw_taxonomy(console: Any, taxonomy: dict[str, int]) -> None:
    if not any(taxonomy.values()):
        return
    by_category: dict[str, list[str]] = {}
    for name in CLASSES:
        if taxonomy[name]:
            by_category.setdefault(PARENT[name], []).append(f"{name} {taxonomy[name]}")
    console.print("failures: " + "; ".join(f"{category}: {', '.join(parts)}"
                                           for category, parts in by_category.items()))


def _draw_next(console: Any, evaluation: Evaluation, steps: NextSteps) -> None:
    regressions = evaluation.comparison.regressions
    if regressions:
        command = rerun_command(steps.args, regressions, steps.inherited_outputs)
        console.print("rerun the regressions: " + _text(command), soft_wrap=True)
    blockers = baseline_blockers(evaluation, steps.errors)
    if blockers:
        console.print(f"not a baseline to keep: {'; '.join(blockers)}", soft_wrap=True)
    elif steps.report is None:
        console.print("to keep this run as a baseline, run it with --sebench-report=PATH")
    else:
        target = steps.baseline or "baseline.json"
        console.print(f"accept this report as the baseline: cp {_text(shlex.quote(steps.report))} "
                      f"{_text(shlex.quote(target))}", soft_wrap=True)


def baseline_blockers(evaluation: Evaluation, errors: int) -> list[str]:
    """Why this run must not become the baseline (empty: it may): later runs would be judged
    against a failed gate, a forgotten problem or a broken infrastructure."""
    blockers = [f"gate {gate.name} failed" for gate in evaluation.failed_gates]
    regressions = evaluation.comparison.regressions
    if regressions and evaluation.comparison.policy.regressions_fail:
        blockers.append(f"{len(regressions)} regression{'s' if len(regressions) != 1 else ''} failed")
    if errors:
        blockers.append(f"{errors} infrastructure error{'s' if errors != 1 else ''} (answers that were never "
                        "graded)")
    return blockers


# Options whose files a rerun of a few items must not overwrite, and pytest's selection: dropped from
# the rerun command in each of their forms (--x=V, --x V; -k V, -kV; -o key=V).
_OUTPUT_OPTIONS = ("--sebench-report", "--sebench-save-correct", "--sebench-html", "--sebench-markdown",
                   "--sebench-step-summary", "--junitxml", "--junit-xml", "-k")
_OUTPUT_INI_KEYS = tuple(option.lstrip("-").replace("-", "_") for option in _OUTPUT_OPTIONS
                         if option.startswith("--sebench-"))
_OVERRIDE_INI = ("-o", "--override-ini")


def rerun_command(args: Sequence[str], item_ids: Sequence[str],
                  inherited_outputs: Sequence[tuple[str, str]] = ()) -> str:
    """This run's command line selecting ``item_ids`` with ``-k``, writing none of this run's outputs:
    output options are left out, and outputs set in the environment or an ini file are switched off
    (an empty value unsets a setting): ``SEBENCH_X=`` before the command for one set by its own
    variable (the environment wins over ``-o``), ``-o sebench_x=`` for one set by an ini key or by a
    conventional variable read after everything else (GITHUB_STEP_SUMMARY: an empty ``-o`` stops the
    search before it, and keeps the command a plain pytest command)."""
    kept: list[str] = []
    words = iter(args)
    for arg in words:
        name, equals, value = arg.partition("=")
        if name in _OUTPUT_OPTIONS or (arg.startswith("-k") and arg != "-k" and not arg.startswith("--")):
            if arg in _OUTPUT_OPTIONS:  # the value is the next word
                next(words, None)
            continue
        if name in _OVERRIDE_INI:
            setting = value if equals else next(words, "")
            if setting.partition("=")[0] not in _OUTPUT_INI_KEYS:
                kept += [name, setting]
            continue
        kept.append(arg)
    prefix: list[str] = []
    for option, source in inherited_outputs:
        key = option.removeprefix("--").replace("-", "_")
        variable = source.removeprefix("environment variable ")
        if variable == key.upper():
            prefix.append(f"{variable}=")
            if key.removeprefix("sebench_") in FALLBACK_ENV:  # emptied, ours would hand over to the fallback
                kept += ["-o", f"{key}="]
        else:
            kept += ["-o", f"{key}="]
    return shlex.join([*prefix, "pytest", *kept, "-k", " or ".join(item_ids)])


def _ids(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:SHOWN_IDS])
    return shown + (f" and {len(ids) - SHOWN_IDS} more (all in the report)" if len(ids) > SHOWN_IDS else "")
