"""Writing a run's files: checked before the run spends its time, written whole or not at all."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
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


def _umask() -> int:
    """The process's umask (only readable by setting it: set back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def open_atomically(path: Path) -> Iterator[TextIO]:
    """A file to write whole or not at all at ``path`` (a temporary file beside it, renamed when the
    block ends without an error): a reader never sees a partial file."""
    folder = path.parent if str(path.parent) else Path(".")
    temporary: str | None = None
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
        # mkstemp makes the file readable by its owner only; a report is shared like any file written
        # with open(): the permissions the umask gives
        os.chmod(handle, 0o666 & ~_umask())
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


def check_appendable(path: Path) -> str | None:
    """Why text could not be appended to ``path``, or None: a file made elsewhere (the job summary
    GitHub Actions hands each step) may exist read-only in a writable folder."""
    if problem := check_writable(path):
        return problem
    if path.exists() and not os.access(path, os.W_OK):
        return f"{path} is not writable"
    return None


def append_whole(path: Path, text: str) -> None:
    """Add ``text`` at the end of ``path`` (created if missing) in one write, never touching what is
    already there: other writers (the CI job's other steps) own that. Should the write stop short (a
    full disk), the part that went is cut off again, so the file gains all of ``text`` or none of it."""
    data = text.encode("utf-8")
    try:
        handle = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as error:
        raise OutputError(f"cannot append to {path}: {error.strerror or error}") from None
    written = 0
    try:
        status = os.fstat(handle)
        before = status.st_size
        while written < len(data):  # one write on a regular file, unless the disk runs out
            count = os.write(handle, data[written:])
            if count == 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            written += count
        if stat.S_ISREG(status.st_mode):  # not a pipe or a terminal (/dev/stdout), which cannot sync
            os.fsync(handle)
    except OSError as error:
        if written:
            with contextlib.suppress(OSError):
                os.ftruncate(handle, before)  # only the bytes this call added
        raise OutputError(f"cannot append to {path}: {error.strerror or error}") from None
    finally:
        os.close(handle)
