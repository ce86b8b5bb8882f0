"""Writing a run's files: checked before the run spends its time, written whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class OutputError(Exception):
    """A file that could not be written; the message names it."""


def check_writable(path: Path) -> str | None:
    """Why a file could not be written there, or None; checked before the run spends its time."""
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        return f"{path} is a folder"
    if not folder.is_dir():
        return f"folder {folder} does not exist"
    if not os.access(folder, os.W_OK):
        return f"folder {folder} is not writable"
    return None


def write_atomically(path: Path, text: str) -> None:
    """The whole text or nothing at ``path`` (a temporary file beside it, then an atomic rename): a
    reader never sees a partial file."""
    folder = path.parent if str(path.parent) else Path(".")
    temporary: str | None = None
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except OSError as error:
        if temporary is not None and os.path.exists(temporary):
            os.unlink(temporary)
        raise OutputError(f"cannot write {path}: {error.strerror or error}") from None
