"""The JSON report: written whole or not at all (a temporary file beside it, then an atomic rename)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ..gate.figures import Summary

SCHEMA_VERSION = 1


class ReportError(Exception):
    pass


def check_writable(path: Path) -> str | None:
    """Why the report could not be written there, or None; checked before the run spends its time."""
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        return f"{path} is a folder"
    if not folder.is_dir():
        return f"folder {folder} does not exist"
    if not os.access(folder, os.W_OK):
        return f"folder {folder} is not writable"
    return None


def build_report(summary: Summary, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "summary": summary.to_json(), "items": items}


def write_report(path: Path, report: dict[str, Any]) -> None:
    write_atomically(path, json.dumps(report, indent=1, ensure_ascii=False, allow_nan=False) + "\n")


def write_atomically(path: Path, text: str) -> None:
    """The whole text or nothing at ``path``: a reader never sees a partial file."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except OSError as error:
        if "temporary" in locals() and os.path.exists(temporary):
            os.unlink(temporary)
        raise ReportError(f"cannot write {path}: {error.strerror or error}") from None
