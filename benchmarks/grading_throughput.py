"""Time grading the reference model's answers with the local sandbox; prints items per second.

    python benchmarks/grading_throughput.py [--data ../shared/sebench] [--split single_test] [--workers 1]

Each answer runs in the warm local sandbox (a forked child of a template that imported NumPy and built
the library once); ``benchmarks/sandbox_cost.py`` sets it against a new interpreter per answer.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from reference_answers import data_arguments, reference_answers
from pytest_sebench.execution.base import Limits
from pytest_sebench.execution.backends.local import LocalSandbox
from pytest_sebench.grade.verdict import judge



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data_arguments(parser)
    parser.add_argument("--workers", type=int, default=1, help="answers graded at once")
    args = parser.parse_args()

    benchmark, answers = reference_answers(args)
    sandbox = LocalSandbox(Limits())
    seconds: list[float] = []

    def grade_one(work):
        problem, answer = work
        started = time.perf_counter()
        verdict = judge(problem, answer, benchmark.library, sandbox)
        seconds.append(time.perf_counter() - started)
        return verdict.category

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        categories = Counter(pool.map(grade_one, answers))
    wall = time.perf_counter() - started
    count = len(benchmark.problems)
    print(f"data: {benchmark.data_source} [{args.split}], {count} reference answers, "
          f"{args.workers} worker(s), python {sys.version.split()[0]}")
    print(f"categories: {dict(categories)}")
    print(f"wall time: {wall:.2f} s  ->  {count / wall:.2f} items/s")
    print(f"per answer: median {statistics.median(seconds) * 1000:.0f} ms, "
          f"p90 {statistics.quantiles(seconds, n=10)[-1] * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
