"""The reference model on the real data, as the README and BENCHMARKS.md report it: one run, the rows
printed ready to paste (so no figure is copied by hand).

    python benchmarks/reference_model.py [--data ../shared/sebench] [--split single_test] [--workers 2]

Runs ``pytest --sebench-model=reference`` on the split as a subprocess with a JSON report and prints
the category counts as a Markdown table row, the accuracy, and the README's "Measured" row.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CATEGORIES = ("correct", "result_error", "exe_error", "without_zwc", "numpy", "error")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "sebench"))
    parser.add_argument("--split", default="single_test")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "reference.json"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--sebench-model=reference",
                   f"--sebench-data={args.data}", f"--sebench-split={args.split}", f"--sebench-report={report}",
                   f"-n{args.workers}"]
        done = subprocess.run(command, cwd=scratch, capture_output=True, text=True)
        if not report.exists():
            sys.exit(f"no report: pytest exited {done.returncode}\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
        stats = json.loads(report.read_text())["summary"]["splits"][args.split]
    counts = stats["categories"]
    print(f"reference model, {args.split}: {stats['items']} problems, accuracy {100 * stats['accuracy']:.1f} %")
    print("| " + " | ".join(CATEGORIES) + " |")
    print("| " + " | ".join("---" for _ in CATEGORIES) + " |")
    print("| " + " | ".join(str(counts.get(name, 0)) for name in CATEGORIES) + " |")
    print(f"README: | reference model on `{args.split}` ({stats['items']}) | {counts['correct']} correct "
          f"({100 * stats['accuracy']:.1f} %), {counts['result_error']} result_error, {counts['exe_error']} "
          f"exe_error, {counts['without_zwc']} without_zwc | `python benchmarks/reference_model.py` |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
