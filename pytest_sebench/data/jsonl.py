"""Read JSON Lines so that every problem points at its file and line."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator


_BYTE_ORDER_MARK = b"\xef\xbb\xbf"


class DataError(Exception):
    """Malformed input data; the message names the file and, where it helps, the line."""


@dataclass(frozen=True)
class Line:
    path: str
    number: int  # 1-based, as an editor shows it
    record: dict[str, Any]

    @property
    def where(self) -> str:
        return f"{self.path}:{self.number}"


def read_jsonl(path: Path) -> Iterator[Line]:
    """Yield one :class:`Line` per non-blank line; a line that is not a JSON object is a DataError."""
    try:
        handle = path.open("rb")
    except OSError as error:
        raise DataError(f"{path}: cannot read: {error.strerror or error}") from None
    with handle:
        # Bytes, decoded line by line: a text-mode file decodes in chunks, so a bad byte could not be
        # tied to its line. A byte order mark (Windows editors write one) is dropped from line 1.
        for number, raw in enumerate(handle, start=1):
            if number == 1:
                raw = raw.removeprefix(_BYTE_ORDER_MARK)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise DataError(f"{path}:{number}: not UTF-8 text ({error.reason} at byte "
                                f"{error.start + 1} of the line)") from None
            if not text.strip():
                continue
            yield Line(str(path), number, _parse_object(text, path, number))


def _parse_object(text: str, path: Path, number: int) -> dict[str, Any]:
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(f"{path}:{number}: not valid JSON: {error.msg} (column {error.colno})") from None
    if not isinstance(record, dict):
        raise DataError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}")
    return record
