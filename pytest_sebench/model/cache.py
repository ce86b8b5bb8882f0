"""A crash-safe answer cache shared by every process of a run (xdist workers included).

One file per answer, written to a temporary name, fsynced and renamed: after a crash or ``kill -9``
every answer that arrived is whole on disk and the rerun asks only for the rest. The same folder holds
*claims*: a process creates ``claims/<key>`` exclusively before it sends a request, so no two workers
ask for the same answer. A claim names its run and process; a claim from another run or a dead process
is stale and may be taken over. The key hashes everything that changes the answer, never the API key.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .client import Completion


def answer_key(fields: dict[str, Any]) -> str:
    """``fields``: model name, served model id, revision, prompt, sampling, sample index."""
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _write_atomically(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".part-", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class Claim:
    run: str
    pid: int


class AnswerCache:
    def __init__(self, root: Path, run_id: str) -> None:
        self.root = root
        self.run_id = run_id

    def _answer_path(self, key: str) -> Path:
        return self.root / "answers" / key[:2] / f"{key}.json"

    def holds(self, key: str) -> bool:
        """Whether an answer is saved under ``key`` (a file check: no reading, no parsing)."""
        return self._answer_path(key).exists()

    def _claim_path(self, key: str) -> Path:
        return self.root / "claims" / key

    def run_folder(self, name: str) -> Path:
        """A folder of this run's own, shared by its processes (not created here)."""
        return self.root / name / self.run_id

    def _failure_path(self, key: str) -> Path:
        return self.root / "failures" / self.run_id / key

    def get(self, key: str) -> Completion | None:
        try:
            data = json.loads(self._answer_path(key).read_text(encoding="utf-8"))
            return Completion.from_json(data)
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent (or, against all odds, unreadable: then it is asked again)

    def put(self, key: str, completion: Completion) -> None:
        _write_atomically(self._answer_path(key), completion.to_json())

    def claim(self, key: str) -> bool:
        """True when this process now owns the request for ``key``.

        Decided under a lock file, so two processes can never both see a stale claim and take it.
        """
        path = self._claim_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.parent / ".lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            holder = self.holder(key)
            if holder is not None and holder.run == self.run_id and _pid_alive(holder.pid):
                return holder.pid == os.getpid()
            _write_atomically(path, {"run": self.run_id, "pid": os.getpid()})
            return True

    def release(self, key: str) -> None:
        """Give up a claim this process holds, so another process may ask instead."""
        path = self._claim_path(key)
        with open(path.parent / ".lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.holder(key) == Claim(self.run_id, os.getpid()):
                path.unlink(missing_ok=True)

    def holder(self, key: str) -> Claim | None:
        try:
            data = json.loads(self._claim_path(key).read_text(encoding="utf-8"))
            return Claim(str(data["run"]), int(data["pid"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def holder_alive(self, key: str) -> bool:
        holder = self.holder(key)
        return holder is not None and holder.run == self.run_id and _pid_alive(holder.pid)

    def fail(self, key: str, reason: str) -> None:
        """Tell the other processes of this run that this request will not be answered."""
        _write_atomically(self._failure_path(key), {"reason": reason})

    def failure(self, key: str) -> str | None:
        try:
            return str(json.loads(self._failure_path(key).read_text(encoding="utf-8"))["reason"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
