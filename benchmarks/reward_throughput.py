"""Rewards per second: grade_many on warm sandboxes against a fresh interpreter per answer.

    python benchmarks/reward_throughput.py [--data ../shared/sebench] [--split single_test]
                                           [--variants 8] [--workers N] [--fresh 96]

The answers are what an RL step grades: every problem of the split with ``--variants`` answers (259 x 8
= 2072 on single_test), mixed in a fixed random order: the reference answer, the same inside a
reasoning model's prose, and wrong ones (an off-by-one result, another problem's answer under this
problem's function name, a made-up library name, an undefined name, NumPy imported, no code at all).

- warm: :class:`pytest_sebench.api.Grader` with ``--workers`` sandboxes (default: the cores), the
  answers in ``--rounds`` calls of ``grade_many`` (an RL step's batch each); the grader's start is
  timed apart.
- fresh: the reference harness's way, with as many answers at once as ``--workers``: the same static
  checks, then, for an answer that must run, a program written to a temporary file and run by a new
  ``python`` that imports NumPy, builds the library and calls the answer on every case, printing each
  result (nothing is compared: this way only has to show its cost). Timed on ``--fresh`` answers spread
  evenly over all of them, and extrapolated to answers per second.

The two ways take turns, a round each (a share of the warm answers, then a share of the sample), so
that load from elsewhere on the machine slows both alike.

Prints answers per second both ways and their ratio (goal: at least 10x), with the warm verdicts'
categories.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from reference_answers import data_arguments, reference_answers
from pytest_sebench.api import Grader, Library, Problem
from pytest_sebench.execution.backends.local import template_environment, template_path
from pytest_sebench.grade.extract import extract_code
from pytest_sebench.grade.static import analyse
from pytest_sebench.grade.verdict import rewrite_input, runnable_code


def _first_return(code: str, replacement: str) -> str:
    return re.sub(r"\breturn\b", replacement, code, count=1)


def variants(problem: Problem, answer: str, other: tuple[Problem, str], library: Library) -> list[str]:
    """Eight answers to one problem: two right, six wrong in different ways."""
    code = extract_code(answer)
    renamed = extract_code(other[1]).replace(f"def {other[0].entry_point}(", f"def {problem.entry_point}(", 1)

    def fence(text: str) -> str:
        return f"```python\n{text}\n```\n"
    return [
        answer,
        "<think>The docs name this function differently; use the library.</think>\nHere it is:\n" + answer,
        fence(_first_return(code, "return 1 +")),  # off by one (or a TypeError for a tuple)
        fence(renamed),  # another problem's solution
        fence(re.sub(rf"\b{library.name}\.(?!{library.linalg_name}\b)", f"{library.name}.nosuch_", code, count=1)),
        fence(_first_return(code, "return undefined_helper +")),
        fence("import numpy as np\n" + code),  # NumPy at hand: graded numpy, never run
        "I am not sure which function of the library does this.",
    ]


def _fresh_program(problem: Problem, code: str, entry: str, library: Library) -> str:
    """What the reference harness runs for one answer: its code and a print of every case's result,
    after importing NumPy and building the library in this new interpreter."""
    spec = library.runtime_spec()
    calls = "\n".join(f"try:\n    print({entry}({rewrite_input(case.input, library)}))\n"
                      f"except Exception as error:\n    print('error', type(error).__name__)"
                      for case in problem.cases)
    return (f"import sys\nsys.path.insert(0, {str(template_path().parent)!r})\nimport numpy\n"
            f"from libruntime import build_library, install_library\n"
            f"install_library(build_library({spec['name']!r}, {spec['linalg_name']!r}, {spec['main']!r}, "
            f"{spec['linalg']!r})[0])\n{runnable_code(code, library)}\n{calls}\n")


def fresh_grade(problem: Problem, response: str, library: Library, timeout: float) -> str:
    code = extract_code(response)
    if not code.strip():
        return "static"
    findings = analyse(runnable_code(code, library), library.name, problem.entry_point, library.array_constructor)
    if findings.library_problem is not None or findings.numpy_use is not None or findings.entry_point is None:
        return "static"
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(_fresh_program(problem, code, findings.entry_point, library))
    try:
        subprocess.run([sys.executable, handle.name], capture_output=True, timeout=timeout,
                       env=template_environment(), cwd="/")
    except subprocess.TimeoutExpired:
        return "timeout"
    finally:
        Path(handle.name).unlink()
    return "ran"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data_arguments(parser)
    parser.add_argument("--variants", type=int, default=8, help="answers per problem (at most 8)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--fresh", type=int, default=96, help="answers timed the fresh way (spread evenly)")
    parser.add_argument("--rounds", type=int, default=8, help="turns taken by the two ways")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()

    benchmark, reference = reference_answers(args)
    library = benchmark.library
    pairs = [(problem, text) for index, (problem, answer) in enumerate(reference)
             for text in variants(problem, answer, reference[(index + 1) % len(reference)], library)[:args.variants]]
    random.Random(args.seed).shuffle(pairs)
    print(f"data: {benchmark.data_source} [{args.split}]: {len(reference)} problems x {args.variants} answers = "
          f"{len(pairs)}, mixed; workers {args.workers}; {os.cpu_count()} cores; python {sys.version.split()[0]}")

    step = max(1, len(pairs) // max(1, args.fresh))
    sample = pairs[::step][:args.fresh]
    warm_seconds = fresh_seconds = 0.0
    verdicts, ways = [], []
    started = time.perf_counter()
    with Grader(benchmark, workers=args.workers) as grader, ThreadPoolExecutor(args.workers) as pool:
        start = time.perf_counter() - started
        for round_ in range(args.rounds):  # the two ways in turns: a busy machine slows both alike
            began = time.perf_counter()
            verdicts += grader.grade_many(pairs[round_::args.rounds])
            warm_seconds += time.perf_counter() - began
            began = time.perf_counter()
            ways += pool.map(lambda pair: fresh_grade(pair[0], pair[1], library, grader.limits.timeout_seconds),
                             sample[round_::args.rounds])
            fresh_seconds += time.perf_counter() - began
    warm_rate, fresh_rate = len(pairs) / warm_seconds, len(sample) / fresh_seconds
    categories = Counter(verdict.category for verdict in verdicts)
    print(f"warm  (Grader.grade_many, {args.rounds} calls): {len(pairs)} answers in {warm_seconds:.2f} s = "
          f"{warm_rate:.1f} answers/s (starting the grader: {start:.2f} s, not counted)")
    print(f"      verdicts: {dict(categories.most_common())}")
    print(f"fresh (a new interpreter per answer, {args.workers} at once): {len(sample)} of the {len(pairs)} answers "
          f"(every {step}th) in {fresh_seconds:.2f} s = {fresh_rate:.1f} answers/s, extrapolated to all "
          f"({dict(Counter(ways))}; 'static': settled by the checks, no interpreter)")
    ratio = warm_rate / fresh_rate
    print(f"warm / fresh: {ratio:.1f}x (goal: at least 10x): {'met' if ratio >= 10 else 'NOT met'}")
    return 0 if ratio >= 10 else 1


if __name__ == "__main__":
    sys.exit(main())
