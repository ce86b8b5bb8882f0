"""What the sub-commands share: reading option values with the plugin's parsers, the console."""

from __future__ import annotations

import argparse
from typing import Any, Callable

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
