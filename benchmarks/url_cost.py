"""Per-answer cost of the url backend (against the stand-in service on localhost) next to the local one.

    python benchmarks/url_cost.py [--data fixtures/qel] [--split single_test] [--rounds 3]

The stand-in of the reference harness's service (pytest_sebench/testing/sandbox_service.py) runs on
127.0.0.1 in this process; each answer is one request: a fresh interpreter that imports NumPy, builds
the library and runs our runner, as a real service would. Both backends are warmed on one answer
first, then every reference answer of the split is graded on each in turn, interleaved round by round
so that a noisy neighbour hurts both alike. Also timed: a bare ``python -c "import numpy"``, the floor
of any service that starts a fresh interpreter per program. The verdicts must agree.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from reference_answers import (REPO, compare_verdicts, data_arguments, reference_answers, run_header, summary,
                               time_interleaved)
from pytest_sebench.execution.base import Limits, Sandbox
from pytest_sebench.execution.backends.local import LocalSandbox
from pytest_sebench.execution.backends.url import URLSandbox, build_program
from pytest_sebench.grade.verdict import judge
from pytest_sebench.testing.sandbox_service import SandboxService

FIXTURES = REPO / "fixtures" / "qel"


def bare_interpreter(index: int) -> str:
    """The reference harness's cost per answer: a new interpreter that imports NumPy."""
    subprocess.run([sys.executable, "-c", "import numpy"], check=True)
    return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data_arguments(parser)
    parser.set_defaults(data=str(FIXTURES))
    parser.add_argument("--rounds", type=int, default=3, help="times every answer is graded per backend")
    args = parser.parse_args()
    if Path(args.data) == FIXTURES and not (FIXTURES / "single_test.jsonl").is_file():
        subprocess.run([sys.executable, str(REPO / "fixtures" / "build_fixtures.py")], check=True)

    benchmark, work = reference_answers(args)
    limits = Limits()
    with SandboxService(timeout=60) as service:
        sandboxes: dict[str, Sandbox] = {"local": LocalSandbox(limits), "url": URLSandbox(limits, service.url)}

        def grade(name: str, index: int) -> str:
            problem, answer = work[index]
            return judge(problem, answer, benchmark.library, sandboxes[name]).category

        for name in sandboxes:
            grade(name, 0)  # start-up (template, NumPy) is paid once per session, not per answer
        started = time.perf_counter()
        try:
            seconds, verdicts = time_interleaved(len(work), args.rounds, {
                "local": lambda index: grade("local", index), "url": lambda index: grade("url", index),
                "bare": bare_interpreter})
        finally:
            for sandbox in sandboxes.values():
                sandbox.close()

    print(run_header(benchmark, args, len(work), time.perf_counter() - started))
    print(f"program posted per answer: about {len(build_program(None)) / 1024:.0f} KB (runner, library "
          "runtime, guard; plus the answer and its inputs)")
    for name, label in (("local", "local (warm template)"), ("url", "url (stand-in service)"),
                        ("bare", 'bare python -c "import numpy"')):
        print(f"{label:>30}: per answer {summary(seconds[name])}")
    ratio = statistics.median(seconds["url"]) / statistics.median(seconds["local"])
    over_bare = statistics.median(seconds["url"]) - statistics.median(seconds["bare"])
    print(f"url / local per answer: {ratio:.1f}x median; url over a bare interpreter with NumPy: "
          f"{over_bare * 1000:+.0f} ms median")
    return compare_verdicts(verdicts["local"], verdicts["url"], len(work), args.rounds)


if __name__ == "__main__":
    sys.exit(main())
