"""``--sebench-save-correct``: the solved answers as training data.

The paper's recipe collects answers with the docs in the prompt (open book, train split) and trains
without them (closed book), so each line holds the problem in the reference rollout format (the same
file can be graded again with ``--sebench-rollouts``), the answer, and the closed-book prompt with the
answer as a chat pair ready for SFT.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from ..data.benchmark import Benchmark
from ..grade.verdict import CORRECT
from ..prompt.templates import PromptBuilder
from .files import write_atomically
from .finished import FinishedRun


def correct_rollouts(records: Iterable[dict[str, Any]], benchmark: Benchmark) -> list[dict[str, Any]]:
    closed_book = PromptBuilder.create("closed", None)
    rows = []
    for record in records:
        problem = benchmark.by_id.get(record["id"])
        if problem is None:
            continue
        prompt = closed_book.build(problem, benchmark.library)
        for sample in record.get("samples", ()):
            response = (sample.get("answer") or {}).get("response")
            if sample.get("category") != CORRECT or response is None:
                continue
            rows.append({
                "id": problem.id, "sample": sample.get("sample", 0), "query": problem.query,
                "function_name": problem.signature, "selected_functions": list(problem.functions),
                "test_cases": [{"input": case.input} for case in problem.cases],
                "right_exe_result": "#".join(case.expected for case in problem.cases),
                "response": response, "prompt": prompt,
                "messages": [{"role": "user", "content": prompt},
                             {"role": "assistant", "content": response}]})
    return rows


class SaveCorrect:
    setting = "save_correct"

    def write(self, run: FinishedRun, path: Path) -> None:
        rows = correct_rollouts(run.records, run.benchmark)
        write_atomically(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
