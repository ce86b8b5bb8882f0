"""Writing a run's files: checked before the run spends its time, written whole or not at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator, TextIO


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


@contextlib.contextmanager
def open_atomically(path: Path) -> Iterator[TextIO]:
    """A file to write whole or not at all at ``path`` (a temporary file beside it, renamed when the
    block ends without an error): a reader never sees a partial file."""
    folder = path.parent if str(path.parent) else Path(".")
    temporary: str | None = None
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except OSError as error:
        raise OutputError(f"cannot write {path}: {error.strerror or error}") from None
    finally:
        if temporary is not None and os.path.exists(temporary):
            os.unlink(temporary)  # an error, of the disk or of the writer: no partial file

