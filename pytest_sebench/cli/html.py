"""Write one self-contained HTML page of one or more reports (the newest run, and the checkpoints before it).

``sebench html REPORT.json... -o report.html``: several reports are checkpoints, ordered by revision
(else by time); the newest is the run whose items the page shows, judged against the checkpoint before
it (or ``--baseline``) by the plugin's own gate functions. One report alone shows its own comparison
and gates, as the run recorded them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..gate.baseline import load_run_report
from ..gate.evaluation import GateSettings
from ..report.files import OutputError, check_writable
from ..report.judge import judge
from ..report.runs import RunData, checkpoint_order, read_run
from .common import UsageProblem, add_gate_options

DONE = 0


def add_to(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("reports", type=Path, nargs="+", metavar="REPORT.json",
                        help="a run's report; several: checkpoints, the newest is the run shown")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="PAGE.html",
                        help="where to write the page (whole or not at all)")
    parser.add_argument("--baseline", type=Path, metavar="BASE.json",
                        help="judge the newest run against this report (default: the checkpoint before it); "
                             "it is also the oldest checkpoint on the charts")
    add_gate_options(parser, "; applies when the newest run is judged against another")


def checkpoints_of(args: argparse.Namespace) -> list[RunData]:
    """The checkpoints, oldest first, the newest judged against its baseline when there is one."""
    from ..report.html.page import with_evaluation

    runs = checkpoint_order([read_run(path) for path in args.reports])
    base_path: Path | None = args.baseline
    if base_path is not None:
        named = {path.resolve() for path in args.reports}
        runs = ([] if base_path.resolve() in named else [read_run(base_path)]) + runs
    elif len(runs) > 1:
        base_path = Path(runs[-2].source)
    if base_path is None:
        return runs  # one report: its own recorded conclusions
    gates = GateSettings(args.fail_under, args.max_drop, args.alpha)
    evaluation = judge(load_run_report(base_path), runs[-1], gates, regressions_fail=args.regressions == "fail",
                       force=args.force)
    return [*runs[:-1], with_evaluation(runs[-1], evaluation)]


def run(args: argparse.Namespace) -> int:
    output: Path = args.output
    problem = check_writable(output)
    if problem:  # before any report is read
        raise UsageProblem(f"-o {output}: {problem}")
    inputs = [*args.reports, *([args.baseline] if args.baseline is not None else [])]
    if any(path.resolve() == output.resolve() for path in inputs):
        raise UsageProblem(f"-o {output} is one of the reports read: the page would replace it")
    checkpoints = checkpoints_of(args)
    from ..report.html.page import write_page

    try:
        write_page(checkpoints, output)
    except OutputError as error:
        raise UsageProblem(f"-o {output}: {error}") from None
    print(f"wrote {output} ({len(checkpoints)} checkpoint{'s' if len(checkpoints) != 1 else ''}, "
          f"newest {checkpoints[-1].label})")
    return DONE
