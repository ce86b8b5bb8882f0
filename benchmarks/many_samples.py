"""Memory of the pytest controller with many samples per item: 259 problems x 64 samples, ``-n2``.

    python benchmarks/many_samples.py [--data ../shared/sebench] [--split single_test] [--samples 64]
                                      [--workers 2]

A fake OpenAI-compatible server answers every sample with the problem's reference answer; pytest
grades them with ``--sebench-samples`` (64 is the paper's pass@64) on ``--workers`` xdist workers and
writes a JSON report (raw responses kept, the default). While it runs, this script polls
``/proc/<pid>/status`` of the pytest process it started (the xdist controller) and of that process's
children (the workers) every 50 ms; VmHWM only grows, so the last value read before a process exits
is its peak resident set. Printed: the answers graded (the report's samples), wall seconds, those
peaks in MB, the report's size in MB, and the peak resident set of a fresh process that reads the
report back as a baseline would be read.

The answer cache is off (``--sebench-cache=off``): every run asks the server for every sample, so no
run depends on what an earlier one left behind, and no cache files are read or written to blur the
figure. Memory is the point; on a shared machine the wall time is only a rough guide.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reference_answers import data_arguments, reference_answers
from pytest_sebench.testing import FakeServer, table_responder

POLL_SECONDS = 0.05


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM of a live process in MB, or None once it has gone (a zombie has no memory lines)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # the kernel gives kB
    except (FileNotFoundError, ProcessLookupError):
        pass
    return None


def children(pid: int) -> list[int]:
    """The direct children of a process, found by the parent id in each ``/proc/<pid>/stat``."""
    found: list[int] = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # the name before ")" may hold spaces
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def watch(process: subprocess.Popen[bytes]) -> tuple[float, dict[int, float]]:
    """Poll until the process exits: its last peak RSS read, and each child's."""
    controller = 0.0
    workers: dict[int, float] = {}
    while process.poll() is None:
        controller = peak_rss_mb(process.pid) or controller
        for child in children(process.pid):
            peak = peak_rss_mb(child)
            if peak is not None:
                workers[child] = peak
        time.sleep(POLL_SECONDS)
    return controller, workers


def run(server: FakeServer, args: argparse.Namespace, report: Path, log: Path
        ) -> tuple[float, float, dict[int, float]]:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--sebench-model=bench",
               f"--sebench-base-url={server.base_url}", f"--sebench-data={args.data}",
               f"--sebench-split={args.split}", f"--sebench-samples={args.samples}", "--sebench-cache=off",
               f"--sebench-report={report}", f"-n{args.workers}"]
    started = time.perf_counter()
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=tempfile.gettempdir(), stdout=out, stderr=subprocess.STDOUT)
        controller, workers = watch(process)
    seconds = time.perf_counter() - started
    if process.returncode not in (0, 1):  # 1: the reference fails some items, as it should
        sys.exit(f"the plugin run failed (exit {process.returncode}):\n{log.read_text()[-3000:]}")
    return seconds, controller, workers


READ_BACK = """
import sys, pathlib
from pytest_sebench.gate.baseline import load_run_report
before = {l.split(':')[0]: l for l in pathlib.Path('/proc/self/status').read_text().splitlines()}['VmRSS']
items = len(load_run_report(pathlib.Path(sys.argv[1])).items)
peak = [l for l in pathlib.Path('/proc/self/status').read_text().splitlines() if l.startswith('VmHWM')][0]
print(items, int(before.split()[1]) // 1024, int(peak.split()[1]) // 1024)
"""


def read_back(report: Path) -> tuple[int, int, int]:
    """Read the report as a baseline in a fresh process: (items, RSS before reading, peak RSS) in MB."""
    done = subprocess.run([sys.executable, "-c", READ_BACK, str(report)], capture_output=True, text=True, check=True)
    items, before, peak = map(int, done.stdout.split())
    return items, before, peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data_arguments(parser)
    parser.add_argument("--samples", type=int, default=64, help="answers per problem (K)")
    parser.add_argument("--workers", type=int, default=2, help="xdist workers (-n)")
    args = parser.parse_args()
    _, answers = reference_answers(args)
    table = {problem.signature: answer for problem, answer in answers}
    with tempfile.TemporaryDirectory() as scratch, FakeServer(table_responder(table)) as server:
        report = Path(scratch) / "report.json"
        seconds, controller, workers = run(server, args, report, Path(scratch) / "pytest.log")
        size = report.stat().st_size
        graded = sum(len(item["samples"]) for item in json.loads(report.read_text())["items"])
        items, rss_before, rss_peak = read_back(report)
    print(f"{len(answers)} problems x {args.samples} samples, -n{args.workers}, cache off; "
          f"python {sys.version.split()[0]}")
    print(f"answers graded:           {graded}")
    print(f"wall seconds:             {seconds:.1f}")
    print(f"controller peak RSS:      {controller:.0f} MB")
    print(f"workers' peak RSS:        {', '.join(f'{peak:.0f}' for peak in workers.values()) or '-'} MB")
    print(f"report size:              {size / 1e6:.1f} MB")
    print(f"read back as a baseline:  {items} items, peak RSS {rss_peak} MB ({rss_before} MB before reading)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
