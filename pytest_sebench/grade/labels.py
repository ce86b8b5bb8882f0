"""A problem's labels read once: each case's expected value, or AS_TEXT where the label does not parse.

The reference grader compares a label that does not parse with what the answer printed, so the
sandbox sends ``str()`` of those cases' values (``Job.text_cases``) and of no other: printing an
array costs an answer's run more than anything else it sends back. Reading the labels costs the
host about as much, and every sample of a problem has the same: they are kept (by their texts)
for the session.
"""

from __future__ import annotations

import enum
import threading
from collections import OrderedDict
from typing import Final

from ..data.problems import Problem
from ..execution.values import Value
from .printed import PrintedFormError, parse_printed

_KEPT = 4096  # problems' labels kept; a session uses each problem's K times


class _AsText(enum.Enum):
    """A label that does not parse: compared as printed text, as the reference grader does. A
    one-member enum, so that ``label is AS_TEXT`` tells type checkers the rest is a Value."""

    AS_TEXT = "AS_TEXT"

    def __repr__(self) -> str:
        return "AS_TEXT"


AS_TEXT: Final = _AsText.AS_TEXT
Label = Value | _AsText
_read: OrderedDict[tuple[str, ...], tuple[Label, ...]] = OrderedDict()
_lock = threading.Lock()


def known_labels(problem: Problem) -> tuple[Label, ...] | None:
    """The labels if they were read before, else None (reading them is left to ``read_labels``)."""
    return _known(_texts(problem))


def _known(texts: tuple[str, ...]) -> tuple[Label, ...] | None:
    with _lock:
        labels = _read.get(texts)
        if labels is not None:
            _read.move_to_end(texts)
        return labels


def read_labels(problem: Problem) -> tuple[Label, ...]:
    """Each case's expected value, or AS_TEXT. The values are shared: never change them."""
    texts = _texts(problem)
    known = _known(texts)
    if known is not None:
        return known
    labels = tuple(_label(text) for text in texts)
    with _lock:
        _read[texts] = labels
        while len(_read) > _KEPT:
            _read.popitem(last=False)
    return labels


def forget() -> None:
    """Read every problem's labels anew (for benchmarks of a problem's first sample)."""
    with _lock:
        _read.clear()


def text_cases(labels: tuple[Label, ...]) -> tuple[int, ...]:
    """The cases whose printed text the comparison needs."""
    return tuple(index for index, label in enumerate(labels) if label is AS_TEXT)


def _texts(problem: Problem) -> tuple[str, ...]:
    return tuple(case.expected for case in problem.cases)


def _label(text: str) -> Label:
    try:
        return parse_printed(text)
    except PrintedFormError:
        return AS_TEXT
