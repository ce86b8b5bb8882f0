"""Compare two reports: per-item outcomes, paired statistics, forgetting map and gates, as the plugin.

``sebench compare BASE.json NEW.json`` concludes what ``pytest --sebench-baseline=BASE.json`` concluded
(or would have) for the run in NEW.json, with the gates given here; its exit status is the gate's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..gate.baseline import load_run_report
from ..gate.evaluation import GateSettings
from ..report.judge import IncomparableReports, gate_failures, judge
from ..report.runs import read_run
from ..report.summary import draw_summary, markup_free
from ..report.terminal import draw
from .common import UsageProblem, add_gate_options, add_width, console

PASSED, GATE_FAILED = 0, 1


def add_to(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("base", type=Path, metavar="BASE.json", help="the baseline's report")
    parser.add_argument("new", type=Path, metavar="NEW.json", help="the report of the run to judge")
    add_gate_options(parser)
    add_width(parser)


def run(args: argparse.Namespace) -> int:
    baseline = load_run_report(args.base)
    new = read_run(args.new)
    try:
        evaluation = judge(baseline, new, GateSettings(args.fail_under, args.max_drop, args.alpha),
                           regressions_fail=args.regressions == "fail", force=args.force)
    except IncomparableReports as error:
        raise UsageProblem(f"{error}. Pass --force to compare anyway") from None
    out = console(args)
    out.print(f"[bold]{markup_free(new.label)}[/bold] ({markup_free(args.new)}) against "
              f"[bold]{markup_free(baseline.label)}[/bold] ({markup_free(args.base)})", soft_wrap=True)
    draw_summary(out, evaluation.summary)
    draw(out, evaluation, None)
    failures = gate_failures(evaluation)
    if failures:
        out.print(f"[bold red]FAILED[/bold red]: {'; '.join(failures)}", soft_wrap=True)
        return GATE_FAILED
    out.print("[bold green]PASSED[/bold green]: no item failed and every gate passed")
    return PASSED
