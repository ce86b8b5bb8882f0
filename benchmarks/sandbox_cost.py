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
from dataclasses import dataclass, field
from functools import partial

from reference_answers import data_arguments, reference_answers
from pytest_sebench.execution.base import Limits
from pytest_sebench.execution.backends.local import LocalSandbox, template_environment
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
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _bare_interpreter() -> None:
    subprocess.run([sys.executable, "-I", "-c", "import numpy"], check=True, env=template_environment())


def _line(name: str, values: list[float]) -> str:
    return (f"{name:5s} per answer: mean {statistics.fmean(values) * 1000:7.1f} ms   "
            f"median {statistics.median(values) * 1000:7.1f} ms")


@dataclass
class _Interleaved:
    warm: list[float] = field(default_factory=list)
    round_trips: list[float] = field(default_factory=list)  # of warm answers that reached the sandbox
    cold: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)
    disagree: list[str] = field(default_factory=list)
    categories: Counter = field(default_factory=Counter)
    cpu: float = 0.0  # seconds of CPU the warm answers took, all processes together


def _interleaved(answers, library, limits, warm_sandbox: _TimedSandbox, cold_count: int) -> _Interleaved:
    """Answer by answer: warm, then cold and bare (for the first ``cold_count``)."""
    result = _Interleaved()
    template_pid = warm_sandbox.sandbox.hello()["pid"]
    result.cpu = -_template_cpu(template_pid)
    for index, (problem, response) in enumerate(answers):
        warm_sandbox.last = 0.0  # an answer the static checks settle never reaches the sandbox
        forget()  # as for a problem's first sample
        cpu = time.process_time()
        seconds, verdict = _timed(partial(judge, problem, response, library, warm_sandbox))
        result.cpu += time.process_time() - cpu
        result.warm.append(seconds)
        if warm_sandbox.last:
            result.round_trips.append(warm_sandbox.last)
        result.categories[verdict.category] += 1
        if index < cold_count:
            seconds, cold_verdict = _timed(partial(_cold_judge, problem, response, library, limits))
            result.cold.append(seconds)
            result.bare.append(_timed(_bare_interpreter)[0])
            if cold_verdict.category != verdict.category:
                result.disagree.append(problem.id)
    result.cpu += _template_cpu(template_pid)
    return result


def _back_to_back(answers, library, sandbox: _TimedSandbox) -> list[float]:
    """Every warm answer in a row, as a session grades them: then the template's own work after each
    answer (forking spares, tearing the last child down) is not done in another way's time."""
    seconds = []
    for problem, response in answers:
        forget()
        seconds.append(_timed(partial(judge, problem, response, library, sandbox))[0])
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data_arguments(parser)
    parser.add_argument("--cold", type=int, default=None, help="answers timed the cold and bare ways")
    args = parser.parse_args()

    benchmark, answers = reference_answers(args)
    library, limits = benchmark.library, Limits()
    cold_count = len(answers) if args.cold is None else min(args.cold, len(answers))
    warm_sandbox = _TimedSandbox(LocalSandbox(limits, pool_size=1))
    try:
        judge(*answers[0], library, warm_sandbox)  # start the template: a session pays this once
        run = _interleaved(answers, library, limits, warm_sandbox, cold_count)
        in_a_row = _back_to_back(answers, library, warm_sandbox)
    finally:
        warm_sandbox.sandbox.close()

    layers = LocalSandbox(limits).hello()["layers"]
    print(f"data: {benchmark.data_source} [{args.split}], {len(answers)} reference answers "
          f"(cold and bare: {cold_count}), python {sys.version.split()[0]}, {os.cpu_count()} CPUs, layers: "
          + ", ".join(name for name in ("network", "mounts", "user") if layers.get(name)))
    print(f"verdicts (warm): {dict(run.categories)}; warm and cold disagree on: {run.disagree or 'none'}")
    print(_line("warm", run.warm) + "   (the whole grading: extraction, static checks, labels, sandbox, comparison)")
    print(_line("", run.round_trips).replace("per answer:", "  sandbox: ") + "   (submit to result)")
    print(_line("", in_a_row).replace("per answer:", "in a row:") + "   (the warm way again, answers back to back)")
    print(_line("cold", run.cold))
    print(_line("bare", run.bare))
    print(f"      CPU per warm answer, all processes: {run.cpu / len(answers) * 1000:.1f} ms; "
          "a bare import uses about as much CPU as its time")
    compared = {"warm": run.warm[:cold_count], "in a row": in_a_row[:cold_count]}  # the same answers
    for statistic in (statistics.fmean, statistics.median):
        ratios = "   ".join(f"bare / {name}: {statistic(run.bare) / statistic(values):5.1f}x"
                           for name, values in compared.items())
        print(f"{statistic.__name__.replace('fmean', 'mean'):6s}  cold / warm: "
              f"{statistic(run.cold) / statistic(compared['warm']):5.1f}x   {ratios}   (goal: at least 20x)")
    return 0 if not run.disagree else 1


if __name__ == "__main__":
    sys.exit(main())
