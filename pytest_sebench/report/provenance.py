"""What a report was made from, so a later run can tell whether it is comparable."""

from __future__ import annotations

import datetime
import hashlib
import json
import platform
import subprocess
from typing import Any, Mapping, Sequence

from .. import __version__
from ..data.problems import Problem


def problems_fingerprint(problems: Sequence[Problem]) -> str:
    """Changes when any problem, case input or label changes (not when the folder moves)."""
    digest = hashlib.sha256()
    for problem in problems:
        digest.update(json.dumps([problem.id, problem.query, problem.signature,
                                  [[case.input, case.expected] for case in problem.cases]]).encode())
    return digest.hexdigest()[:16]


def split_fingerprints(problems: Sequence[Problem]) -> dict[str, str]:
    """One fingerprint per split, so runs of different split selections compare on what they share."""
    splits: dict[str, list[Problem]] = {}
    for problem in problems:
        splits.setdefault(problem.split, []).append(problem)
    return {split: problems_fingerprint(members) for split, members in sorted(splits.items())}


def git_commit() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def provenance(*, problems: Sequence[Problem], data_source: str, model: dict[str, Any],
               sandbox: str, runtime: Mapping[str, Any]) -> dict[str, Any]:
    """``model`` is the answer source's description; mode, prompt and K are lifted to the top, where a
    later run checks them (None when no prompt was used: the reference model, a rollout file)."""
    fingerprints = split_fingerprints(problems)
    return {
        "plugin_version": __version__,
        "data": data_source,
        "dataset_fingerprint": problems_fingerprint(problems),
        "split_fingerprints": fingerprints,
        "splits": list(fingerprints),
        "mode": model.get("mode"),
        "prompt_hash": model.get("prompt_hash"),
        "samples": model.get("samples"),
        "model": model,
        "sandbox": sandbox,
        # what the answers ran with (the sandbox's NumPy: another image or interpreter may differ
        # from pytest's own, and the labels were made with one), and what pytest ran on
        "numpy": runtime.get("numpy"),
        "sandbox_python": runtime.get("python"),
        "python": platform.python_version(),
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
    }
