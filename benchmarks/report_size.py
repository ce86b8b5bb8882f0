"""How large a JSON report grows with raw responses kept: 259 problems x 5 samples, each
``--sebench-report-responses`` choice.

    python benchmarks/report_size.py [--data ../shared/sebench] [--split single_test] [--samples 5]
                                     [--reasoning-words 600]

A fake OpenAI-compatible server answers every sample like a reasoning model would: a ``<think>``
block of ``--reasoning-words`` words (sent in vLLM's ``reasoning_content`` field), a sentence of prose
and the reference answer's code block; every other sample is a wrong answer instead, so that
``failed`` keeps about half. The first run fills an answer cache, the others grade the same answers
from it; each run writes its report, whose size and writing run time are printed.
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
from pytest_sebench.testing import FakeServer, ServerConfig, table_responder

WRONG = "```python\ndef f(*args):\n    return None\n```"


def responses(answer: str, words: int) -> list[str]:
    thinking = "<think>" + " ".join(f"step{index}" for index in range(words)) + "</think>\n"
    right = thinking + "Here is the solution.\n" + answer
    return [right, thinking + "I am not sure.\n" + WRONG]  # alternate: sample 0 right, 1 wrong, ...


def run(server: FakeServer, args: argparse.Namespace, cache: Path, report: Path, keep: str) -> float:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--sebench-model=bench",
               f"--sebench-base-url={server.base_url}", f"--sebench-data={args.data}",
               f"--sebench-split={args.split}", f"--sebench-samples={args.samples}", f"--sebench-cache={cache}",
               f"--sebench-report={report}", f"--sebench-report-responses={keep}", "-n2"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=tempfile.gettempdir(), capture_output=True, text=True)
    if done.returncode not in (0, 1):  # 1: wrong answers fail their items, as they should
        sys.exit(f"the plugin run failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data_arguments(parser)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--reasoning-words", type=int, default=600)
    args = parser.parse_args()
    _, answers = reference_answers(args)
    table = {problem.signature: responses(answer, args.reasoning_words) for problem, answer in answers}
    print(f"{len(answers)} problems x {args.samples} samples; each response: {args.reasoning_words} words of "
          "reasoning (in reasoning_content), a sentence, a code block")
    print(f"{'--sebench-report-responses':>28} {'report MB':>10} {'KB per sample':>14} {'run s':>7}")
    with tempfile.TemporaryDirectory() as scratch, \
            FakeServer(table_responder(table), ServerConfig(reasoning_field="reasoning_content")) as server:
        cache = Path(scratch) / "answers"
        for keep in ("all", "failed", "none"):
            report = Path(scratch) / f"{keep}.json"
            seconds = run(server, args, cache, report, keep)
            size = report.stat().st_size
            samples = sum(len(item["samples"]) for item in json.loads(report.read_text())["items"])
            print(f"{keep:>28} {size / 1e6:>10.2f} {size / 1e3 / samples:>14.1f} {seconds:>7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
