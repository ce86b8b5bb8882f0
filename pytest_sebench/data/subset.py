"""``--sebench-limit=N``: a stable random subset of N problems per split, for a quick look.

Stable: a problem is in the subset by the rank of a hash of the seed and its id within its split, so
the same seed picks the same problems on every machine and in every run (and a problem added to the
data does not reshuffle the others). Two runs with one seed and one limit compare item by item.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Iterable

from .problems import Problem


def subset_ids(problems: Iterable[Problem], limit: int, seed: int) -> set[str]:
    by_split: dict[str, list[Problem]] = defaultdict(list)
    for problem in problems:
        by_split[problem.split].append(problem)

    def rank(problem: Problem) -> str:
        return hashlib.sha256(f"{seed}:{problem.id}".encode()).hexdigest()

    return {problem.id for members in by_split.values() for problem in sorted(members, key=rank)[:limit]}
