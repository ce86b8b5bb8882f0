"""What the sub-commands share: reading option values with the plugin's parsers, the console."""

from __future__ import annotations

import argparse
from typing import Any, Callable

from ..settings import parsers
from ..settings.parsers import SettingError


class UsageProblem(Exception):
    """A bad argument; the message names it."""


def typed(parse: Callable[[str], Any], flag: str) -> Callable[[str], Any]:
    """An argparse type from one of the plugin's option parsers: the same values are accepted as by
    the matching ``--sebench-*`` option, with its message."""
    def convert(raw: str) -> Any:
        try:
            return parse(raw)
        except SettingError as error:
            raise argparse.ArgumentTypeError(f"{error}") from None
    convert.__name__ = flag  # argparse names the type in "invalid <name> value"
    return convert


def console(args: argparse.Namespace) -> Any:
    from rich.console import Console

    return Console(width=getattr(args, "width", None), highlight=False, soft_wrap=False)


def add_gate_options(parser: argparse.ArgumentParser, when: str = "") -> None:
    """The gate's options, spelled as the plugin's without ``--sebench-``; ``when`` ends their help
    texts (when they apply)."""
    parser.add_argument("--max-drop", type=typed(parsers.points, "--max-drop"), metavar="POINTS",
                        help="fail when accuracy fell by more than POINTS (0-100) and a paired test says the "
                             f"drop is real (as --sebench-max-drop){when}")
    parser.add_argument("--fail-under", type=typed(parsers.accuracy_bars, "--fail-under"),
                        metavar="ACC|SPLIT:ACC,...",
                        help=f"fail when mean@k is below ACC (as --sebench-fail-under){when}")
    parser.add_argument("--alpha", type=typed(parsers.alpha, "--alpha"), default=0.05, metavar="ALPHA",
                        help="significance level of the per-item and aggregate tests (default 0.05)")
    parser.add_argument("--regressions", choices=("fail", "report"), default="fail",
                        help="fail: a regression fails its item and the gate (default); report: only listed")
    parser.add_argument("--force", action="store_true",
                        help="compare even if the problems, mode or prompt differ (as --sebench-baseline-force)")


def add_width(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--width", type=int, default=None, help="terminal width (default: the terminal's)")
