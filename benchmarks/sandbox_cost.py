"""Per-answer cost of the warm local sandbox against a new interpreter per answer, side by side.

    python benchmarks/sandbox_cost.py [--data ../shared/sebench] [--split single_test] [--cold N]

Grades the reference model's answers (259 on single_test) three ways, interleaved answer by answer
so that a busy machine slows all of them alike:

- warm: the local backend as a session uses it (one template started once, a forked child per answer),
  with the part of it spent waiting for the sandbox (submit to result) shown apart;
- cold: the same sandbox started afresh for each answer (a new interpreter that imports NumPy and builds
  the library, then runs the one answer), that is the reference harness's way of paying per answer;
- bare: only ``python -I -c "import numpy"`` per answer, the floor of the reference harness's cost
  (it starts an interpreter and imports NumPy for every answer, then runs it).

Prints the mean (total time over answers: what a run of them costs) and the median per answer of
each, the ratios (goal: bare/warm at least 20), and the CPU time a warm answer costs all processes
together (the host's grading, the template, the children), then checks that warm and cold agree on
every verdict. ``--cold N`` times the cold and bare ways on the first N answers only (default: all).
Each problem's labels are read anew for every warm answer, as for a problem's first sample.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections import Counter

from reference_answers import data_arguments, reference_answers
from pytest_sebench.execution.base import Limits
from pytest_sebench.execution.local import LocalSandbox, template_environment
from pytest_sebench.grade.labels import forget
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
    """The warm sandbox, with the time from each job's submission to its result."""

    def __init__(self, sandbox: LocalSandbox) -> None:
        self.sandbox = sandbox
        self.last = 0.0

    def submit(self, job):
        started = time.perf_counter()
        collect = self.sandbox.submit(job)

        def result():
            try:
                return collect()
            finally:
                self.last = time.perf_counter() - started
        return result

    def execute(self, job):
        return self.submit(job)()


def _template_cpu(pid: int) -> float:
    """CPU seconds of the template and of its children it has reaped (every answer's child)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _bare_interpreter() -> None:
    subprocess.run([sys.executable, "-I", "-c", "import numpy"], check=True, env=template_environment())


def _line(name: str, values: list[float]) -> str:
    return (f"{name:5s} per answer: mean {statistics.fmean(values) * 1000:7.1f} ms   "
            f"median {statistics.median(values) * 1000:7.1f} ms")


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
    template_pid = warm_sandbox.sandbox.hello()["pid"]
    warm, round_trips, cold, bare, disagree, categories = [], [], [], [], [], Counter()
    host_cpu, template_cpu = 0.0, -_template_cpu(template_pid)
    try:
        for index, (problem, response) in enumerate(answers):
            warm_sandbox.last = 0.0  # an answer the static checks settle never reaches the sandbox
            forget()  # as for a problem's first sample
            cpu = time.process_time()
            seconds, verdict = _timed(lambda: judge(problem, response, library, warm_sandbox))
            host_cpu += time.process_time() - cpu
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
        template_cpu += _template_cpu(template_pid)
    finally:
        warm_sandbox.sandbox.close()

    layers = LocalSandbox(limits).hello()["layers"]
    print(f"data: {benchmark.data_source} [{args.split}], {len(answers)} reference answers "
          f"(cold and bare: {cold_count}), python {sys.version.split()[0]}, {os.cpu_count()} CPUs, layers: "
          + ", ".join(name for name in ("network", "mounts", "user") if layers.get(name)))
    print(f"verdicts (warm): {dict(categories)}; warm and cold disagree on: {disagree or 'none'}")
    print(_line("warm", warm) + "   (the whole grading: extraction, static checks, labels, sandbox, comparison)")
    print(_line("", round_trips).replace("per answer:", "  sandbox: ") + "   (submit to result)")
    print(_line("cold", cold))
    print(_line("bare", bare))
    print(f"      CPU per warm answer, all processes: {(host_cpu + template_cpu) / len(answers) * 1000:.1f} ms "
          f"(host {host_cpu / len(answers) * 1000:.1f}, template and children "
          f"{template_cpu / len(answers) * 1000:.1f}); a bare import uses about as much CPU as its time")
    compared = warm[:cold_count]  # the ratios compare the same answers
    for statistic in (statistics.fmean, statistics.median):
        ratio = {name: statistic(values) / statistic(compared) for name, values in (("cold", cold), ("bare", bare))}
        print(f"{statistic.__name__.replace('fmean', 'mean'):6s}  cold / warm: {ratio['cold']:5.1f}x   "
              f"bare / warm: {ratio['bare']:5.1f}x   (goal: at least 20x)")
    return 0 if not disagree else 1


if __name__ == "__main__":
    sys.exit(main())
