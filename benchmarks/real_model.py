"""A run against a real serial model server, as a CI log sees it: wall time against the server's own
busy time, abandoned requests, the longest silence in the log, the time to the first verdict.

    python benchmarks/real_model.py [--problems 31] [--request-timeout 45] [--max-tokens N]
                                    [--n-ctx 1024] [--workers 0] [--plugin-src DIR] [--limit-minutes M]

Starts llama.cpp's OpenAI-compatible server with Gemma 3 270M (the ``e2e`` extra; one request at a
time, in arrival order), then runs the plugin on the first N problems of our fixture benchmark's
single_test split as a CI job would: a subprocess with ``CI=true``, stdout a pipe, ``-v`` so that
each verdict is a line. Every line is timestamped as it arrives. Without ``--max-tokens`` the plugin's
default applies (8192: the server cuts each answer where its context is full, about 20 s here).

``--plugin-src DIR`` runs another version of the plugin (a checkout, e.g. ``git worktree add
/tmp/before <commit>``: its ``pytest_sebench`` goes first on PYTHONPATH) against the same server, for
before/after figures. ``--limit-minutes`` stops a run that takes longer (the version before the
adaptive window could take an hour) and reports what it had done by then.

Prints: wall time; the server's busy time (the sum of its own per-request timings) and the ratio
(goal at most 1.2); generations the server made beyond one per answer (work thrown away); the
plugin's own count of abandoned requests; items reported and infrastructure errors; the time to the
first verdict (goal: about two answer times) and the longest silence in the log (goal: under 60 s).
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from pytest_sebench.testing.llama_server import LlamaServer, missing

REPO = Path(__file__).resolve().parents[1]
VERDICT = re.compile(r"\b(PASSED|FAILED|ERROR|XFAIL|XPASS)\b")
# this version's line, or the one before ("requests: N answered, N retried, N failed; ...")
REQUESTS = re.compile(r"requests: (?:\d+ sent: (?P<answered>\d+) answered, (?P<failed>\d+) failed; (?P<retried>\d+) "
                      r"retries, (?P<abandoned>\d+) abandoned|(?P<old_answered>\d+) answered, (?P<old_retried>\d+) "
                      r"retried, (?P<old_failed>\d+) failed)")
ERRORS = re.compile(r"(\d+) errors?\b")


@dataclass
class Log:
    """The run's output lines with the seconds (since the start) at which each arrived."""

    started: float = field(default_factory=time.monotonic)
    lines: list[tuple[float, str]] = field(default_factory=list)

    def follow(self, stream) -> None:
        for line in stream:
            self.lines.append((time.monotonic() - self.started, line.rstrip("\n")))

    def first(self, pattern: re.Pattern[str]) -> float | None:
        return next((at for at, line in self.lines if pattern.search(line)), None)

    def longest_silence(self, end: float) -> float:
        times = [0.0, *(at for at, _ in self.lines), end]
        return max(later - earlier for earlier, later in itertools.pairwise(times))

    def last(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        matches = [match for _, line in self.lines if (match := pattern.search(line))]
        return matches[-1] if matches else None


def plugin_command(server: LlamaServer, args: argparse.Namespace, cache: Path) -> list[str]:
    selection = " or ".join(f"single_test/{index:04d}" for index in range(args.problems))
    command = [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "-p", "no:randomly",
               "--sebench-model=gemma-3-270m", f"--sebench-base-url={server.base_url}",
               f"--sebench-data={args.data}", "--sebench-split=single_test", "-k", selection,
               f"--sebench-cache={cache}", f"--sebench-request-timeout={args.request_timeout:g}",
               f"-n{args.workers}"]
    if args.max_tokens:
        command.append(f"--sebench-max-tokens={args.max_tokens}")
    return command


def run(server: LlamaServer, args: argparse.Namespace) -> None:
    environment = {**os.environ, "CI": "true"}
    if args.plugin_src:
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [args.plugin_src,
                                                                   environment.get("PYTHONPATH")]))
    busy, generated = server.busy_seconds(), server.requests_finished()
    with tempfile.TemporaryDirectory() as scratch:
        log = Log()
        process = subprocess.Popen(plugin_command(server, args, Path(scratch) / "answers"), cwd=scratch,
                                   env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, start_new_session=True)
        reader = threading.Thread(target=log.follow, args=(process.stdout,), daemon=True)
        reader.start()
        try:
            process.wait(timeout=args.limit_minutes * 60 if args.limit_minutes else None)
            stopped = False
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
            stopped = True
        wall = time.monotonic() - log.started
        reader.join(timeout=10)
    time.sleep(1)  # the server prints its last timing block just after it answers
    report(log, wall, stopped, server.busy_seconds() - busy, server.requests_finished() - generated, args)


def report(log: Log, wall: float, stopped: bool, busy: float, generated: int, args: argparse.Namespace) -> None:
    verdicts = sum(1 for _, line in log.lines if VERDICT.search(line) and "sebench::" in line and "%]" in line)
    requests = log.last(REQUESTS)
    abandoned = "n/a" if requests is None else (requests["abandoned"] or
                                                  f"(not counted; {requests['old_retried']} retried)")
    final = log.lines[-1][1] if log.lines else ""
    errors = ERRORS.search(final) if "==" in final else None
    first = log.first(re.compile(r"sebench::\S+ (PASSED|FAILED|ERROR|XFAIL)|^\[gw\d\] .*(PASSED|FAILED|ERROR)"))
    answer_time = busy / generated if generated else float("nan")
    print(f"plugin: {args.plugin_src or 'this checkout'}; {args.problems} problems, request timeout "
          f"{args.request_timeout:g} s, max_tokens {args.max_tokens or 'default'}, -n{args.workers}, "
          f"n_ctx {args.n_ctx}")
    print(f"  wall time               {wall:8.1f} s" + (f"  (stopped at the {args.limit_minutes} min limit)"
                                                       if stopped else ""))
    print(f"  server busy time        {busy:8.1f} s   wall / busy = {wall / busy if busy else float('nan'):.2f}")
    print(f"  generations             {generated:8d}     for {args.problems} answers: "
          f"{max(0, generated - args.problems)} beyond one per answer; {answer_time:.1f} s per generation")
    print(f"  abandoned requests      {abandoned:>8}")
    print(f"  items reported          {verdicts:8d}     infrastructure errors: "
          f"{errors.group(1) if errors else 0 if not stopped else 'n/a'}")
    print(f"  first verdict after     {first if first is not None else float('nan'):8.1f} s   "
          f"({(first or float('nan')) / answer_time:.1f} answer times)")
    print(f"  longest silence in log  {log.longest_silence(wall):8.1f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=31, help="first N single_test problems (31: all)")
    parser.add_argument("--request-timeout", type=float, default=45.0)
    parser.add_argument("--max-tokens", type=int, default=None, help="default: the plugin's own")
    parser.add_argument("--n-ctx", type=int, default=1024)
    parser.add_argument("--workers", type=int, default=0, help="xdist -n")
    parser.add_argument("--data", default=str(REPO / "fixtures" / "qel"))
    parser.add_argument("--plugin-src", help="a checkout of another version of the plugin")
    parser.add_argument("--limit-minutes", type=float, default=None)
    args = parser.parse_args()
    if reason := missing():
        sys.exit(reason)
    with LlamaServer(n_ctx=args.n_ctx) as server:
        run(server, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
