"""Finding one item of a report by what a person types: its id, the part after the split, or a piece.

The items are read one at a time (a report can be tens of megabytes): only the ids are kept, for the
message that lists candidates, and the first item each rule matched.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Iterable

SHOWN = 10  # candidates a message lists


class ItemLookupError(ValueError):
    """No item, or several, match what was asked; the message names the report and the candidates."""


def after_split(item_id: str) -> str:
    """``0042-amin`` of ``single_test/0042-amin`` (ids are ``split/rest``)."""
    return item_id.split("/", 1)[-1]


@dataclass
class _Matches:
    ids: list[str] = field(default_factory=list)
    first: dict[str, Any] | None = None

    def add(self, item: dict[str, Any]) -> None:
        self.ids.append(item["id"])
        if self.first is None:
            self.first = item


def find_item(items: Iterable[dict[str, Any]], wanted: str, source: str) -> dict[str, Any]:
    """The item whose id is ``wanted``; else the one whose id after the split is ``wanted``; else the
    one whose id contains ``wanted`` (any case). Several at the first rule that matches any, or none
    at all, raise :class:`ItemLookupError`."""
    every: list[str] = []
    tail, piece = _Matches(), _Matches()
    folded = wanted.casefold()
    for item in items:
        item_id = item["id"]
        if item_id == wanted:
            return item  # ids are unique: no need to read further
        every.append(item_id)
        if after_split(item_id) == wanted:
            tail.add(item)
        if folded in item_id.casefold():
            piece.add(item)
    for matches in (tail, piece):
        if len(matches.ids) == 1 and matches.first is not None:
            return matches.first
        if matches.ids:
            raise ItemLookupError(f"{source}: {len(matches.ids)} items match {wanted!r}: "
                                  f"{_listed(matches.ids)}; give more of the id")
    raise ItemLookupError(f"{source}: no item matches {wanted!r}{_suggestions(wanted, every)}")


def _listed(ids: list[str]) -> str:
    more = len(ids) - SHOWN
    return ", ".join(ids[:SHOWN]) + (f" and {more} more" if more > 0 else "")


def _suggestions(wanted: str, ids: list[str]) -> str:
    if not ids:
        return " (the report has no items)"
    # against the whole ids and the parts after the split: "0042-amni" is close to "0042-amin"
    tails: dict[str, str] = {}
    for item_id in ids:
        tails.setdefault(after_split(item_id), item_id)
    close = difflib.get_close_matches(wanted, ids, n=SHOWN, cutoff=0.6)
    close += [tails[tail] for tail in difflib.get_close_matches(wanted, list(tails), n=SHOWN, cutoff=0.6)]
    close = list(dict.fromkeys(close))[:SHOWN]
    if close:
        return f"; close: {', '.join(close)}"
    return f" (the report has {len(ids)} items, from {ids[0]} to {ids[-1]})"
