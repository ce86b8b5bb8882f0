"""(not written yet: html)."""

from __future__ import annotations

import argparse


def add_to(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError
