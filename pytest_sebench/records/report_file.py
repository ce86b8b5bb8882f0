"""The JSON report's one layout, written by ``report/json_report.py`` and read back here.

The report is one JSON object whose ``items`` list holds one item per line::

    {"schema_version": 1,
    "summary": {...},
    "items": [
    {"id": "single_test/0000-...", ..., "samples": [...]},
    ...
    ],
    "comparison": {...},
    ...}

so a reader can take the items one at a time: reading a large report back as a baseline keeps one
item's text in memory at a time, not every sample's. A report in any other layout (re-indented by
a tool, say) is still read, whole.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, TextIO

SCHEMA_VERSION = 1
_ITEMS_OPEN = '"items": ['


class ReportFileError(Exception):
    """The file is not a readable report; the message names it."""


def write_report(out: TextIO, head: dict[str, Any], items: Iterator[dict[str, Any]], tail: dict[str, Any]) -> None:
    """``head`` keys, then the items one per line, then ``tail`` keys (schema_version comes first)."""
    out.write(f'{{"schema_version": {SCHEMA_VERSION}')
    for key, value in head.items():
        out.write(f",\n{_dump(key)}: {_dump(value)}")
    out.write(f",\n{_ITEMS_OPEN}")
    for index, item in enumerate(items):
        out.write(("\n" if index == 0 else ",\n") + _dump(item))
    out.write("\n]")
    for key, value in tail.items():
        out.write(f",\n{_dump(key)}: {_dump(value)}")
    out.write("}\n")


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


@dataclass
class ReportContents:
    """A report's top-level fields, and its items read one at a time (once)."""

    path: Path
    top: dict[str, Any]  # every field but ``items``
    items: Iterator[tuple[int, Any]] = field(repr=False)  # (index, item) as the file holds them


def read_report(path: Path) -> ReportContents:
    """Open a report and check its schema version; the items are read as the caller takes them."""
    try:
        with path.open(encoding="utf-8") as handle:
            first = handle.readline()
    except FileNotFoundError:
        raise ReportFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ReportFileError(f"{path}: cannot read it ({getattr(error, 'strerror', None) or error})") from None
    if first.startswith('{"schema_version": ') and _has_items_line(path):
        top, items = _read_by_lines(path)
    else:
        top, items = _read_whole(path)
    _check_schema(path, top)
    return ReportContents(path, top, items)


def _has_items_line(path: Path) -> bool:
    with path.open(encoding="utf-8") as handle:
        return any(line.rstrip("\n") == _ITEMS_OPEN for line in handle)


def _read_by_lines(path: Path) -> tuple[dict[str, Any], Iterator[tuple[int, Any]]]:
    """The top-level fields (a pass that skips the item lines), and an iterator over the items."""
    rest: list[str] = []
    with path.open(encoding="utf-8") as handle:
        inside = False
        for line in handle:
            stripped = line.rstrip("\n")
            if stripped == _ITEMS_OPEN:
                inside = True
                rest.append('"items": []')
            elif inside and stripped.startswith("]"):
                inside = False
                rest.append(stripped[1:])
            elif not inside:
                rest.append(stripped)
    top = _parse(path, "\n".join(rest))
    top.pop("items", None)
    return top, _items_by_lines(path)


def _items_by_lines(path: Path) -> Iterator[tuple[int, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.rstrip("\n") == _ITEMS_OPEN:
                break
        for index, line in enumerate(handle):
            stripped = line.rstrip("\n").rstrip(",")
            if stripped.startswith("]"):
                return
            try:
                yield index, json.loads(stripped)
            except json.JSONDecodeError as error:
                raise ReportFileError(f"{path}: items[{index}]: not JSON ({error.msg}): a truncated or "
                                      "edited report?") from None


def _read_whole(path: Path) -> tuple[dict[str, Any], Iterator[tuple[int, Any]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ReportFileError(f"{path}: cannot read it ({getattr(error, 'strerror', None) or error})") from None
    if not text.strip():
        raise ReportFileError(f"{path}: the file is empty (an interrupted copy?)")
    data = _parse(path, text)
    if not isinstance(data.get("items"), list):
        raise ReportFileError(f"{path}: not a pytest-sebench report (no 'items' list)")
    items = data.pop("items")
    return data, iter(enumerate(items))


def _parse(path: Path, text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ReportFileError(f"{path}:{error.lineno}: not JSON ({error.msg}): is this a "
                              "--sebench-report file?") from None
    if not isinstance(data, dict):
        raise ReportFileError(f"{path}: not a pytest-sebench report (no 'items' list)")
    return data


def _check_schema(path: Path, top: dict[str, Any]) -> None:
    version = top.get("schema_version")
    if version == SCHEMA_VERSION:
        return
    if isinstance(version, int) and version > SCHEMA_VERSION:
        raise ReportFileError(f"{path}: a report of schema version {version}, written by a newer "
                              f"pytest-sebench (this one reads version {SCHEMA_VERSION}): upgrade "
                              "pytest-sebench to compare with it")
    raise ReportFileError(f"{path}: schema version {version!r} is not one this pytest-sebench reads "
                          f"({SCHEMA_VERSION}): make the report again with this version's --sebench-report")
