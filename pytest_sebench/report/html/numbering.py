"""Values numbered in order of first use, each kept once: the page refers to repeated things (filter
names, token classes, an item's identical codes and cases) by number."""

from __future__ import annotations

from typing import Any, Callable, Hashable


class Numbering:
    """``key`` says when two values are the same one (default: the value itself)."""

    def __init__(self, key: Callable[[Any], Hashable] = lambda value: value) -> None:
        self.values: list[Any] = []
        self._key = key
        self._index: dict[Hashable, int] = {}

    def number(self, value: Any) -> int:
        key = self._key(value)
        if key not in self._index:
            self._index[key] = len(self.values)
            self.values.append(value)
        return self._index[key]
