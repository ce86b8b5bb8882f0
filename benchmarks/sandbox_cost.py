"""Per-answer cost of the warm local sandbox against a new interpreter per answer, side by side.

    python benchmarks/sandbox_cost.py [--data ../shared/sebench] [--split single_test] [--cold N]

Grades the reference model's answers (259 on single_test) three ways, interleaved answer by answer
so that a busy machine slows all of them alike:

- warm: the local backend as a session uses it (one template started once, a forked child per answer),
  with the part of it spent in the sandbox round trip (``execute``) shown apart from the host's grading;
- cold: the same sandbox started afresh for each answer (a new interpreter that imports NumPy and builds
  the library, then runs the one answer), that is the reference harness's way of paying per answer;
- bare: only ``python -I -c "import numpy"`` per answer, the floor of the reference harness's cost
  (it starts an interpreter and imports NumPy for every answer, then runs it).

Prints the median cost per answer of each and the ratios (goal: cold/warm and bare/warm at least 20),
and checks that warm and cold agree on every verdict. ``--cold N`` times the cold and bare ways on the
first N answers only (default: all).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections import Counter

from reference_answers import data_arguments, reference_answers
from pytest_sebench.execution.base import Limits
from pytest_sebench.execution.local import LocalSandbox, template_environment
from pytest_sebench.grade.verdict import judge



def _timed(action):
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def _cold_judge(problem, response, library, limits):
    sandbox = LocalSandbox(limits, pool_size=1)
    try:
        return judge(problem, response, library, sandbox)
    finally:
        sandbox.close()


class _TimedSandbox:
    """The warm sandbox, with the time each execute (the round trip to the template) took."""

    def __init__(self, sandbox: LocalSandbox) -> None:
        self.sandbox = sandbox
        self.last = 0.0

    def execute(self, job):
        started = time.perf_counter()
        try:
            return self.sandbox.execute(job)
        finally:
            self.last = time.perf_counter() - started


def _bare_interpreter() -> None:
    subprocess.run([sys.executable, "-I", "-c", "import numpy"], check=True, env=template_environment())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data_arguments(parser)
    parser.add_argument("--cold", type=int, default=None, help="answers timed the cold and bare ways")
    args = parser.parse_args()

    benchmark, answers = reference_answers(args)
    library, limits = benchmark.library, Limits()
    cold_count = len(answers) if args.cold is None else min(args.cold, len(answers))
    warm_sandbox = _TimedSandbox(LocalSandbox(limits, pool_size=1))
    judge(*answers[0], library, warm_sandbox)  # start the template: a session pays this once
    warm, round_trips, cold, bare, disagree, categories = [], [], [], [], [], Counter()
    try:
        for index, (problem, response) in enumerate(answers):
            warm_sandbox.last = 0.0  # an answer the static checks settle never reaches the sandbox
            seconds, verdict = _timed(lambda: judge(problem, response, library, warm_sandbox))
            warm.append(seconds)
            if warm_sandbox.last:
                round_trips.append(warm_sandbox.last)
            categories[verdict.category] += 1
            if index < cold_count:
                seconds, cold_verdict = _timed(lambda: _cold_judge(problem, response, library, limits))
                cold.append(seconds)
                bare.append(_timed(_bare_interpreter)[0])
                if cold_verdict.category != verdict.category:
                    disagree.append(problem.id)
    finally:
        warm_sandbox.sandbox.close()

    layers = LocalSandbox(limits).hello()["layers"]
    print(f"data: {benchmark.data_source} [{args.split}], {len(answers)} reference answers "
          f"(cold and bare: {cold_count}), python {sys.version.split()[0]}, layers: "
          + ", ".join(name for name in ("network", "mounts", "user") if layers.get(name)))
    print(f"verdicts (warm): {dict(categories)}; warm and cold disagree on: {disagree or 'none'}")
    medians = {name: statistics.median(values) for name, values in
               (("warm", warm), ("cold", cold), ("bare", bare))}
    for name, median in medians.items():
        print(f"{name:5s} median per answer: {median * 1000:7.1f} ms")
    print(f"      of warm: the sandbox round trip (execute) {statistics.median(round_trips) * 1000:.1f} ms, "
          "the rest is the host's grading (extraction, static checks, labels, comparison)")
    print(f"cold / warm: {medians['cold'] / medians['warm']:.1f}x   "
          f"bare / warm: {medians['bare'] / medians['warm']:.1f}x   (goal: at least 20x)")
    return 0 if not disagree else 1


if __name__ == "__main__":
    sys.exit(main())
