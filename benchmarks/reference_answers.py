"""What the sandbox benchmarks share: the command-line data options and the reference answers."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from pytest_sebench.data.benchmark import Benchmark, load_benchmark
from pytest_sebench.data.problems import Problem
from pytest_sebench.model.answers import ReferenceModel

REPO = Path(__file__).resolve().parents[1]


def data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "sebench"))
    parser.add_argument("--split", default="single_test")


def reference_answers(args: argparse.Namespace) -> tuple[Benchmark, list[tuple[Problem, str]]]:
    """The split's problems, each with the reference model's answer text."""
    benchmark = load_benchmark(data=args.data, docs=None, splits=(args.split,), splits_explicit=True,
                               rollouts=None, cache_dir=Path(tempfile.mkdtemp()))
    model = ReferenceModel(benchmark.library)
    return benchmark, [(problem, model.respond(problem)[0]) for problem in benchmark.problems]


def compare_verdicts(local: list[str], other: list[str], rows: int, rounds: int) -> int:
    """Print whether two backends gave the same verdict on every answer; the exit status to return."""
    differ = [i % rows for i, (a, b) in enumerate(zip(local, other, strict=True)) if a != b]
    print(f"verdicts: {'identical' if not differ else f'{len(differ)} differ, rows {sorted(set(differ))}'}; "
          f"correct {other.count('correct') // rounds}/{rows}")
    return 0 if not differ else 1


def time_interleaved(rows: int, rounds: int, graders: dict[str, Callable[[int], str]]
                     ) -> tuple[dict[str, list[float]], dict[str, list[str]]]:
    """Seconds and verdict per answer for each grader, answer by answer in turn (so load on the
    machine hits every grader alike)."""
    seconds: dict[str, list[float]] = {name: [] for name in graders}
    verdicts: dict[str, list[str]] = {name: [] for name in graders}
    for _ in range(rounds):
        for index in range(rows):
            for name, grade in graders.items():
                began = time.perf_counter()
                verdicts[name].append(grade(index))
                seconds[name].append(time.perf_counter() - began)
    return seconds, verdicts


def summary(seconds: list[float]) -> str:
    return (f"mean {statistics.fmean(seconds) * 1000:7.2f} ms  median {statistics.median(seconds) * 1000:7.2f} ms"
            f"  p90 {statistics.quantiles(seconds, n=10)[-1] * 1000:7.2f} ms")


def run_header(benchmark: Benchmark, args: argparse.Namespace, rows: int, elapsed: float) -> str:
    return (f"data: {benchmark.data_source} [{args.split}], {rows} reference answers x {args.rounds} rounds "
            f"per backend, interleaved; python {sys.version.split()[0]}; {elapsed:.1f} s in all")
