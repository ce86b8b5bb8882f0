"""``--sebench-save-correct``: the solved answers as training data.

The paper's recipe collects answers with the docs in the prompt (open book, train split) and trains
without them (closed book), so each line holds the problem in the reference rollout format (the same
file can be graded again with ``--sebench-rollouts``), the answer, and the closed-book prompt with the
answer as a chat pair ready for SFT.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..data.benchmark import Benchmark
from ..records.item import ItemRecord
from ..prompt.templates import PromptBuilder
from .files import open_atomically
from .finished import FinishedRun


def correct_rollouts(records: Iterable[ItemRecord], benchmark: Benchmark) -> Iterator[dict[str, Any]]:
    closed_book = PromptBuilder.create("closed", None)
    for record in records:
        problem = benchmark.by_id.get(record.id)
        if problem is None:
            continue
        prompt = closed_book.build(problem, benchmark.library)
        for sample in record.samples:
            response = sample.answer.get("response")
            if not sample.passed or response is None:
                continue
            yield {"id": problem.id, "sample": sample.sample, "query": problem.query,
                   "function_name": problem.signature, "selected_functions": list(problem.functions),
                   "test_cases": [{"input": case.input} for case in problem.cases],
                   "right_exe_result": "#".join(case.expected for case in problem.cases),
                   "response": response, "prompt": prompt,
                   "messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]}


class SaveCorrect:
    setting = "save_correct"

    def write(self, run: FinishedRun, path: Path) -> None:
        records = (ItemRecord.from_json(record) for record in run.full_records())
        with open_atomically(path) as out:
            for row in correct_rollouts(records, run.benchmark):
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
