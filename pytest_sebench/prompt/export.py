"""The problems of a benchmark as training rows, in the layouts trainers read.

- verl: a parquet file with ``data_source``, ``prompt`` (chat messages), ``ability``, ``reward_model``
  (``style``, ``ground_truth``) and ``extra_info``; verl hands ``data_source``, the response,
  ``reward_model.ground_truth`` and ``extra_info`` to its reward function, which is
  ``pytest_sebench.rewards.compute_score``.
- TRL: a ``datasets`` dataset saved with ``save_to_disk``, a conversational ``prompt`` column and the
  columns ``pytest_sebench.rewards.trl_reward`` reads (TRL passes every column to reward functions).

The ground truth is the label (``right_exe_result``: one printed output per case, joined by ``#``), never
the rows' own ``test_cases[].output`` fields, which disagree with the label in most SE-Bench rows; the
exported ``test_cases`` carry the label's pieces as their outputs so the two can never disagree.
"""

from __future__ import annotations

from typing import Any, Iterator

from ..data.benchmark import Benchmark
from ..data.problems import Problem
from .templates import PromptBuilder

FORMATS = ("verl", "trl")


def label_of(problem: Problem) -> str:
    return "#".join(case.expected for case in problem.cases)


def problem_fields(problem: Problem) -> dict[str, Any]:
    """What a reward function needs to grade an answer to ``problem`` (never shown to the model)."""
    return {"sebench_id": problem.id, "split": problem.split, "index": problem.row,
            "function_name": problem.signature,
            "test_cases": [{"input": case.input, "output": case.expected} for case in problem.cases],
            "right_exe_result": label_of(problem)}


def verl_rows(benchmark: Benchmark, prompts: PromptBuilder) -> Iterator[dict[str, Any]]:
    for problem in benchmark.problems:
        yield {"data_source": f"sebench/{problem.split}",
               "prompt": [{"role": "user", "content": prompts.build(problem, benchmark.library)}],
               "ability": "code",
               "reward_model": {"style": "rule", "ground_truth": label_of(problem)},
               "extra_info": problem_fields(problem)}


def trl_rows(benchmark: Benchmark, prompts: PromptBuilder) -> Iterator[dict[str, Any]]:
    for problem in benchmark.problems:
        yield {"prompt": [{"role": "user", "content": prompts.build(problem, benchmark.library)}],
               **problem_fields(problem)}
