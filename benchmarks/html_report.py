"""How heavy the HTML page is at full size: 699 items x 5 samples, one report and four checkpoints.

    python benchmarks/html_report.py [--data ../shared/sebench] [--samples 5] [--checkpoints 4] [--keep DIR]

Builds synthetic reports from the real problems: the 259 single_test rows, and 440 multiple_test items
made from the same rows again (multiple_test is not available offline), so 699 items as in SE-Bench.
Each sample's code is the reference translated into the library (the built-in reference model), with a
sample-specific comment, so the five codes of an item differ as a sampling model's do; the response is
a sentence and the fenced code. Categories are a mix: correct, result_error (a wrong value per case),
exe_error (a made-up library name, every case raising) and without_zwc (prose, no code). Each checkpoint
has its own skill per library function, so functions are learned and forgotten across checkpoints.

Prints, for one report and for the checkpoints: the time to render the page (read the reports, judge,
draw, write), the file's size, and the time to open it in headless chromium (navigation until the page
sets ``data-ready``: the details decoded and the list drawn), the median of 3 loads.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pytest_sebench.cli.main import main as sebench
from pytest_sebench.data.benchmark import Benchmark, load_benchmark
from pytest_sebench.data.problems import Problem
from pytest_sebench.gate.evaluation import GateSettings, evaluate
from pytest_sebench.gate.outcomes import Policy
from pytest_sebench.model.reference import translate
from pytest_sebench.prompt.templates import CLOSED_BOOK, PromptBuilder
from pytest_sebench.records.build import library_functions
from pytest_sebench.records.item import ItemRecord
from pytest_sebench.records.report_file import write_report
from pytest_sebench.report.judge import run_summary
from pytest_sebench.report.runs import RunData

REPO = Path(__file__).resolve().parents[1]
MULTIPLE_TEST_ROWS = 440  # SE-Bench's multiple_test, made up from single_test rows when the data lacks it
CHROMIUM = "/usr/bin/chromium"


def items_of(benchmark: Benchmark) -> list[tuple[str, Problem]]:
    """(item id, problem) for every single_test and multiple_test problem of the data; without a
    multiple_test split (the offline SE-Bench copy), its 440 items are made from the single_test rows."""
    made = [(problem.id, problem) for problem in benchmark.problems]
    if any(problem.split == "multiple_test" for problem in benchmark.problems):
        return made
    rows = [problem for problem in benchmark.problems if problem.split == "single_test"]
    for index in range(MULTIPLE_TEST_ROWS):
        problem = rows[index % len(rows)]
        made.append((f"multiple_test/{index:04d}-{problem.id.split('-', 1)[-1]}", problem))
    return made


def sample(problem: Problem, code: str, number: int, category: str, library: str,
           reasoning: str | None = None) -> dict[str, Any]:
    cases = []
    made_up = re.search(rf"\b{library}\.(\w+)\(", code)  # exe_error: this call's name is made up
    fake = f"{made_up.group(1)}_all" if made_up else "fabricated"
    for case in problem.cases:
        if category == "correct":
            got, passed, error = case.expected, True, None
        elif category == "result_error":
            got, passed, error = "[0.5]", False, None
        elif category == "exe_error":
            got, passed, error = None, False, f"AttributeError: module '{library}' has no attribute '{fake}'"
        else:
            break  # without_zwc: nothing ran
        cases.append({"input": case.input, "expected": case.expected, "got": got, "passed": passed,
                      "error": error, "detail": None if passed or error else "values differ"})
    code = f"{code}# sample {number}\n"
    if category == "exe_error" and made_up:
        code = code[:made_up.start(1)] + fake + code[made_up.end(1):]
    response = (f"Here is a solution with `{library}`.\n\n```python\n{code}```\n" if category != "without_zwc"
                else "I would need the documentation of this library to answer.")
    reasons = {"correct": f"all {len(cases)} cases match", "result_error": "cases returned a wrong value",
               "exe_error": "cases raised", "without_zwc": "the answer has no fenced Python block"}
    taxonomy = {"result_error": "wrong_value", "exe_error": "hallucinated_name", "without_zwc": "no_code"}
    return {"category": category, "reason": reasons[category], "code": code if category != "without_zwc" else "",
            "cases": cases, "seconds": 0.006, "stderr": "", "skipped_names": [], "sample": number,
            "answer": {"response": response, "reasoning": reasoning, "finish_reason": "stop", "truncated": False,
                       "prompt_tokens": 240, "completion_tokens": 180, "reasoning_tokens": None},
            "passed": category == "correct", "taxonomy": taxonomy.get(category)}


def write_checkpoint(path: Path, benchmark: Benchmark, step: int, skill: dict[str, float], samples: int,
                     reasoning_words: int = 0) -> None:
    library, wrong = benchmark.library, ("result_error", "exe_error", "without_zwc")
    chooser = random.Random(step)
    # reasoning as a model writes it, roughly: words drawn from the problems' own text (as compressible)
    vocabulary = sorted({word for problem in benchmark.problems for word in problem.query.split()})

    def thoughts() -> str | None:
        return " ".join(chooser.choices(vocabulary, k=reasoning_words)) if reasoning_words else None
    items = []
    for item_id, problem in items_of(benchmark):
        names = library_functions(problem, library)
        rate = min(skill.get(name, 0.5) for name in names) if names else 0.5
        code = translate(problem.reference_code or "", library)
        categories = ["correct" if chooser.random() < rate else chooser.choice(wrong) for _ in range(samples)]
        items.append({"id": item_id, "split": item_id.split("/")[0], "row": problem.row,
                      "functions": list(problem.functions), "library_functions": list(names), "where": problem.where,
                      "problem": {"query": problem.query, "signature": problem.signature,
                                  "example": {"input": problem.example.input, "output": problem.example.expected}
                                  if problem.example else None},
                      "samples": [sample(problem, code, n, category, library.name, thoughts())
                                  for n, category in enumerate(categories)]})
    records = [ItemRecord.from_json(item, light=True) for item in items]
    provenance = {"plugin_version": "bench", "data": "synthetic", "dataset_fingerprint": "bench",
                  "split_fingerprints": {"single_test": "s", "multiple_test": "m"}, "mode": "closed",
                  "prompt_hash": PromptBuilder.create("closed", None).fingerprint, "samples": samples,
                  "model": {"name": "ckpt", "revision": f"step-{step}", "mode": "closed", "samples": samples,
                            "temperature": 0.6, "max_tokens": 8192, "prompt_template": CLOSED_BOOK},
                  "time": f"2026-12-0{step // 100}T00:00:00+00:00"}
    run = RunData(str(path), {"summary": {"model": "ckpt", "data": "synthetic", "library": library.name},
                              "provenance": provenance}, lambda: iter(items))
    summary = run_summary(run, records)
    evaluation = evaluate(records, summary, None, Policy(has_baseline=False), GateSettings(), seed=0, warnings=[])
    outcomes = evaluation.comparison.outcomes
    with path.open("w", encoding="utf-8") as out:
        write_report(out, {"summary": summary.to_json()},
                     (dict(item, outcome=outcomes[item["id"]].to_json()) for item in items),
                     {**evaluation.to_json(), "provenance": provenance})


def skills(benchmark: Benchmark, count: int) -> list[dict[str, float]]:
    """Per checkpoint, a pass probability per library function: most climb; a quarter is forgotten at
    some checkpoint (and stays forgotten)."""
    names = sorted({name for _, problem in items_of(benchmark)
                    for name in library_functions(problem, benchmark.library)})
    chooser = random.Random(7)
    start = {name: chooser.uniform(0.2, 0.7) for name in names}
    forgotten_at = {name: chooser.randrange(1, count) for name in names if chooser.random() < 0.25}
    return [{name: (start[name] * 0.3 if name in forgotten_at and index >= forgotten_at[name]
                    else min(0.95, start[name] + 0.08 * index)) for name in names} for index in range(count)]


def open_times(page: Path, loads: int = 3) -> list[float]:
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for _ in range(loads):
            context = browser.new_context(offline=True, viewport={"width": 1400, "height": 900})
            tab = context.new_page()
            started = time.perf_counter()
            tab.goto(page.resolve().as_uri())
            tab.wait_for_selector("html[data-ready=true]", timeout=60_000)
            times.append(time.perf_counter() - started)
            context.close()
        browser.close()
    return times


def screenshot(page: Path, out: Path) -> None:
    """The page 1400 px wide with its first item (a regression) opened, from the top down to the end of
    that item's second sample."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(offline=True, viewport={"width": 1400, "height": 900})
        tab = context.new_page()
        tab.goto(page.resolve().as_uri())
        tab.wait_for_selector("html[data-ready=true]")
        first = tab.locator("tr.item").first
        first.locator("td").nth(1).click()
        details = tab.locator("tr.item + tr.details").first
        details.wait_for()
        box = details.locator("section.sample").nth(1).bounding_box()
        assert box is not None
        bottom = tab.evaluate("window.scrollY") + box["y"] + box["height"] + 10
        tab.screenshot(path=str(out), full_page=True, clip={"x": 0, "y": 0, "width": 1400, "height": bottom})
        browser.close()
    from PIL import Image  # matplotlib's dependency: 256 colours make the image a third of the size

    Image.open(out).convert("RGB").quantize(256).save(out, optimize=True)
    print(f"screenshot of {page.name} written to {out}")


def measure(name: str, reports: list[Path], out: Path) -> dict[str, float]:
    started = time.perf_counter()
    status = sebench(["html", *map(str, reports), "-o", str(out)])
    render = time.perf_counter() - started
    if status != 0:
        sys.exit(f"sebench html failed ({status})")
    size = out.stat().st_size / 1e6
    text = out.read_text(encoding="utf-8")
    start = text.index('id="sebench-data">') + len('id="sebench-data">')
    island = (text.index("</script>", start) - start) / 1e6
    opened = statistics.median(open_times(out)) if Path(CHROMIUM).exists() else float("nan")
    print(f"{name:<28} {render:8.2f} {size:8.2f} {island:10.2f} {opened:9.2f}")
    return {"render": render, "size": size, "island": island, "open": opened}


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "sebench"))
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--checkpoints", type=int, default=4)
    parser.add_argument("--reasoning-words", type=int, default=0,
                        help="give every sample a reasoning text of this many words (default none)")
    parser.add_argument("--keep", type=Path, help="write the reports and pages here (default: a temporary folder)")
    parser.add_argument("--screenshot", type=Path, metavar="PNG",
                        help="also write a screenshot of the checkpoints' page, an item opened (docs/html-report.png "
                             "is made with --data fixtures/qel)")
    return parser.parse_args()


def run() -> int:
    args = arguments()
    benchmark = load_benchmark(data=args.data, docs=None, splits=("single_test", "multiple_test"),
                               splits_explicit=False,
                               rollouts=None, cache_dir=Path(tempfile.mkdtemp()))
    folder = args.keep or Path(tempfile.mkdtemp(prefix="sebench-html-"))
    folder.mkdir(parents=True, exist_ok=True)
    reports = []
    for index, skill in enumerate(skills(benchmark, args.checkpoints)):
        path = folder / f"step-{100 * (index + 1)}.json"
        write_checkpoint(path, benchmark, 100 * (index + 1), skill, args.samples, args.reasoning_words)
        reports.append(path)
    items = len(items_of(benchmark))
    print(f"{items} items x {args.samples} samples; reports of {reports[-1].stat().st_size / 1e6:.1f} MB each "
          f"in {folder}")
    print(f"{'page':<28} {'render s':>8} {'MB':>8} {'island MB':>10} {'open s':>9}")
    measure("one report", reports[-1:], folder / "one.html")
    measure(f"{args.checkpoints} checkpoints", reports, folder / "checkpoints.html")
    if args.screenshot is not None:
        screenshot(folder / "checkpoints.html", args.screenshot)
    return 0


if __name__ == "__main__":
    sys.exit(run())
