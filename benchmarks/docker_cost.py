"""Per-answer cost of the docker backend against the local one, on the same reference answers.

    python benchmarks/docker_cost.py [--data ../shared/sebench] [--split single_test] [--rounds 3]

Both backends are started and warmed on one answer first (start-up is reported on its own line: it is
paid once per session and worker, not per answer), then every reference answer of the split is graded
on each backend in turn, interleaved round by round so that a noisy neighbour hurts both alike. The
verdicts must agree. Goal (issue 4): docker at most 2x local per answer. Needs a Docker engine and the
image (.ci/docker-setup.sh).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from reference_answers import compare_verdicts, data_arguments, reference_answers, run_header, summary, time_interleaved
from pytest_sebench.execution.registry import create_backend
from pytest_sebench.execution.base import Limits, Sandbox
from pytest_sebench.grade.verdict import judge

BACKENDS = ("local", "docker")


def start(name: str, warm_up) -> tuple[Sandbox, float]:
    started = time.perf_counter()
    sandbox = create_backend(name, Limits())
    warm_up(sandbox)
    return sandbox, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data_arguments(parser)
    parser.add_argument("--rounds", type=int, default=3, help="times every answer is graded per backend")
    args = parser.parse_args()

    benchmark, work = reference_answers(args)

    def grade(sandbox: Sandbox, index: int) -> str:
        problem, answer = work[index]
        return judge(problem, answer, benchmark.library, sandbox).category

    sandboxes: dict[str, Sandbox] = {}
    startup: dict[str, float] = {}
    for name in BACKENDS:
        sandboxes[name], startup[name] = start(name, lambda sandbox: grade(sandbox, 0))
    started = time.perf_counter()
    try:
        seconds, verdicts = time_interleaved(len(work), args.rounds, {
            name: (lambda index, sandbox=sandboxes[name]: grade(sandbox, index)) for name in BACKENDS})
    finally:
        for sandbox in sandboxes.values():
            sandbox.close()

    print(run_header(benchmark, args, len(work), time.perf_counter() - started))
    for name in BACKENDS:
        print(f"{name:>6}: start-up {startup[name]:5.2f} s   per answer: {summary(seconds[name])}")
    ratio = statistics.fmean(seconds["docker"]) / statistics.fmean(seconds["local"])
    median_ratio = statistics.median(seconds["docker"]) / statistics.median(seconds["local"])
    print(f"docker / local per answer: {ratio:.2f}x mean, {median_ratio:.2f}x median (goal: at most 2x)")
    return compare_verdicts(verdicts["local"], verdicts["docker"], len(work), args.rounds)


if __name__ == "__main__":
    sys.exit(main())
