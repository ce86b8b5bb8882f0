"""The obfuscated library as the docs describe it: its name, its linalg submodule, its name mapping.

Nothing here knows SE-Bench's names: everything comes from the api_doc rows (``func_mapping`` maps
``np.X`` / ``np.linalg.X`` to ``lib.Y`` / ``lib.sub.Y``), so our own fixtures work the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .jsonl import DataError, Line, read_jsonl

_NUMPY_PREFIX = "np."
_LINALG_PREFIX = "np.linalg."


@dataclass(frozen=True)
class Library:
    name: str  # e.g. "zwc"
    linalg_name: str  # e.g. "rfx"
    main: dict[str, str]  # numpy name -> library name
    linalg: dict[str, str]  # numpy.linalg name -> library name
    docs: dict[str, str] = field(default_factory=dict, compare=False)  # "lib.Y" -> rewritten doc
    source: str = ""

    def runtime_spec(self) -> dict:
        """What the sandbox needs to build the library (library names -> NumPy names)."""
        return {
            "name": self.name,
            "linalg_name": self.linalg_name,
            "main": {lib: np_name for np_name, lib in self.main.items()},
            "linalg": {lib: np_name for np_name, lib in self.linalg.items()},
        }

    @property
    def array_constructor(self) -> str | None:
        return self.main.get("array")

    def resolve(self, function: str, code: str = "") -> list[str]:
        """Full library names for a ``selected_functions`` entry (a bare NumPy name). A name that
        exists in both namespaces (cross, trace, ...) is the linalg one when ``code`` calls it
        through ``linalg.``, else the main one."""
        in_main, in_linalg = function in self.main, function in self.linalg
        if in_main and in_linalg:
            in_main = f"linalg.{function}" not in code
            in_linalg = not in_main
        names = [self.full_name(function)] if in_main else []
        names += [self.full_name(f"linalg.{function}")] if in_linalg else []
        return [name for name in names if name]

    def full_name(self, numpy_name: str) -> str | None:
        """``np.linalg.inv`` / ``linalg.inv`` / ``inv`` -> ``zwc.rfx.quvohe`` / ``zwc.xxx``."""
        bare = numpy_name.removeprefix(_NUMPY_PREFIX)
        if bare.startswith("linalg."):
            target = self.linalg.get(bare.removeprefix("linalg."))
            return f"{self.name}.{self.linalg_name}.{target}" if target else None
        target = self.main.get(bare)
        return f"{self.name}.{target}" if target else None


def _split_target(target: str, where: str) -> list[str]:
    parts = target.split(".")
    if len(parts) not in (2, 3) or not all(part.isidentifier() for part in parts):
        raise DataError(f"{where}: func_mapping target {target!r} is not 'lib.name' or 'lib.sub.name'")
    return parts


class _MappingBuilder:
    """Accumulates func_mapping entries from doc rows and checks they agree with each other."""

    def __init__(self) -> None:
        self.name: str | None = None
        self.linalg_name: str | None = None
        self.main: dict[str, str] = {}
        self.linalg: dict[str, str] = {}
        self.docs: dict[str, str] = {}

    def add_row(self, line: Line) -> None:
        raw = line.record.get("func_mapping")
        mapping = json.loads(raw) if isinstance(raw, str) and _is_json(raw) else raw
        if not isinstance(mapping, dict):
            raise DataError(f"{line.where}: 'func_mapping' must be a JSON object (or a string holding one)")
        for source, target in mapping.items():
            if not isinstance(source, str) or not isinstance(target, str):
                raise DataError(f"{line.where}: func_mapping entries must map names to names")
            self._add(source, target, line.where)
        own = line.record.get("curr_name")
        doc = line.record.get("rewritten_doc")
        if isinstance(own, str) and isinstance(doc, str):
            for target in mapping.values():
                if target.rsplit(".", 1)[-1] == own:
                    self.docs[target] = doc

    def _add(self, source: str, target: str, where: str) -> None:
        parts = _split_target(target, where)
        self._set_once("name", parts[0], where)
        if source.startswith(_LINALG_PREFIX):
            if len(parts) != 3:
                raise DataError(f"{where}: {source} must map into the linalg submodule, got {target!r}")
            self._set_once("linalg_name", parts[1], where)
            table, key = self.linalg, source.removeprefix(_LINALG_PREFIX)
        elif source.startswith(_NUMPY_PREFIX) and len(parts) == 2:
            table, key = self.main, source.removeprefix(_NUMPY_PREFIX)
        else:
            raise DataError(f"{where}: cannot place func_mapping entry {source!r} -> {target!r}")
        if table.get(key, parts[-1]) != parts[-1]:
            raise DataError(f"{where}: {source} maps to {target!r} here but to {table[key]!r} elsewhere")
        table[key] = parts[-1]

    def _set_once(self, attribute: str, value: str, where: str) -> None:
        current = getattr(self, attribute)
        if current is not None and current != value:
            raise DataError(f"{where}: func_mapping names library part {value!r}, earlier rows {current!r}")
        setattr(self, attribute, value)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def load_library(path: Path) -> Library:
    builder = _MappingBuilder()
    for line in read_jsonl(path):
        builder.add_row(line)
    if builder.name is None or not builder.main:
        raise DataError(f"{path}: no func_mapping entries found: is this an api_doc JSONL file?")
    return Library(name=builder.name, linalg_name=builder.linalg_name or "linalg",
                   main=builder.main, linalg=builder.linalg, docs=builder.docs, source=str(path))
