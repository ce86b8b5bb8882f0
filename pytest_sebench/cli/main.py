"""The ``sebench`` command: one sub-command per module of this package, each with ``add_to`` (its
arguments) and ``run`` (its exit status).

Exit statuses: 0 done (a gate passed), 1 a gate failed, 2 a usage error or a report that cannot be
read or compared, with one message naming the file or option and no traceback.
"""

from __future__ import annotations

import argparse
import sys
from types import ModuleType
from typing import Sequence

from ..records.report_file import ReportFileError
from ..report.judge import IncomparableReports
from . import compare, export, history, html, show
from .common import UsageProblem

COMMANDS: tuple[ModuleType, ...] = (compare, html, show, history, export)
USAGE_ERROR = 2
DESCRIPTION = "The reports of pytest-sebench runs, read without pytest."


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="sebench", description=DESCRIPTION)
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        name = command.__name__.rsplit(".", 1)[-1]
        summary = (command.__doc__ or "").strip().splitlines()[0]
        sub = commands.add_parser(name, help=summary, description=summary)
        command.add_to(sub)
        sub.set_defaults(run=command.run)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)  # a usage error: argparse's one line, exit status 2
    try:
        return int(args.run(args))
    except (UsageProblem, ReportFileError, IncomparableReports) as error:
        print(f"sebench {args.command}: error: {error}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        return 130
