"""How well the plugin keeps a model server busy: wall time against the floor ceil(N*K / C) * L.

    python benchmarks/model_throughput.py [--latency 0.5] [--concurrency 8] [--samples 2] [--workers 0 4]

A fake OpenAI-compatible server with a fixed latency L answers every request of our fixture benchmark
(N problems, K samples) correctly. The plugin runs as a real pytest subprocess; grading time is
measured separately (the same run against a warm answer cache, so no request is made) and the goal is
wall time within 1.3x of the floor plus grading time.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_sebench.data.benchmark import load_benchmark
from pytest_sebench.model.reference import reference_response
from pytest_sebench.testing import FakeServer, ServerConfig, table_responder

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "fixtures" / "qel"


def run_plugin(server: FakeServer, cache: Path, args: argparse.Namespace, workers: int) -> float:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--sebench-model=bench",
               f"--sebench-base-url={server.base_url}", f"--sebench-data={DATA}",
               f"--sebench-cache={cache}", f"--sebench-concurrency={args.concurrency}",
               f"--sebench-samples={args.samples}", f"-n{workers}"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=tempfile.gettempdir(), capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"the plugin run failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.5, help="seconds per request (L)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (C)")
    parser.add_argument("--samples", type=int, default=2, help="answers per problem (K)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 4], help="xdist -n values")
    args = parser.parse_args()

    benchmark = load_benchmark(data=str(DATA), docs=None, splits=("single_test", "multiple_test"),
                               splits_explicit=False, rollouts=None, cache_dir=Path(tempfile.mkdtemp()))
    answers = {p.signature: reference_response(p, benchmark.library) for p in benchmark.problems}
    n, k, c, latency = len(benchmark.problems), args.samples, args.concurrency, args.latency
    floor = math.ceil(n * k / c) * latency
    print(f"N={n} problems, K={k} samples, C={c} in flight, L={latency:g} s per request: "
          f"floor ceil(N*K/C)*L = {floor:.2f} s")
    print(f"{'workers':>8} {'requests':>9} {'peak':>5} {'wall s':>8} {'grading s':>10} "
          f"{'floor+grading':>14} {'ratio':>6}")
    with FakeServer(table_responder(answers), ServerConfig(latency=latency)) as server:
        for workers in args.workers:
            with tempfile.TemporaryDirectory() as scratch:
                cache = Path(scratch)
                server.reset_accounting()
                wall = run_plugin(server, cache, args, workers)
                requests, peak = server.completion_attempts, server.max_in_flight
                grading = run_plugin(server, cache, args, workers)  # every answer cached now
            target = floor + grading
            print(f"{workers:>8} {requests:>9} {peak:>5} {wall:>8.2f} {grading:>10.2f} {target:>14.2f} "
                  f"{wall / target:>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
