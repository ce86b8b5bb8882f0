"""``sebench export``: a split's prompts in verl's parquet layout and as a datasets dataset for TRL."""

from __future__ import annotations

import subprocess
import sys

import datasets
import pyarrow.parquet as pq
import pytest

from conftest import FIXTURE_DATA
from pytest_sebench.data.benchmark import load_benchmark
from pytest_sebench.prompt.templates import PromptBuilder

BENCH = load_benchmark(data=str(FIXTURE_DATA), docs=None, splits=("single_test", "multiple_test"),
                       splits_explicit=True, rollouts=None, cache_dir=FIXTURE_DATA)


def sebench(*args, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_sebench", *map(str, args)], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


@pytest.mark.parametrize("mode", ["closed", "open"])
def test_verl_parquet_holds_every_problem_with_its_label(tmp_path, mode):
    out = tmp_path / "train.parquet"
    done = sebench("export", "--format", "verl", "--data", FIXTURE_DATA, "--mode", mode, "-o", out)
    assert done.returncode == 0, done.stderr
    assert f"wrote {len(BENCH.problems)} {mode}-book prompts" in done.stdout
    rows = pq.read_table(out).to_pylist()
    prompts = PromptBuilder.create(mode, None)
    assert [row["extra_info"]["sebench_id"] for row in rows] == [problem.id for problem in BENCH.problems]
    for row, problem in zip(rows, BENCH.problems, strict=True):
        label = "#".join(case.expected for case in problem.cases)
        assert row["prompt"] == [{"role": "user", "content": prompts.build(problem, BENCH.library)}]
        assert row["reward_model"] == {"style": "rule", "ground_truth": label}
        assert row["extra_info"]["right_exe_result"] == label and row["ability"] == "code"
        assert row["extra_info"]["test_cases"] == [{"input": c.input, "output": c.expected} for c in problem.cases]
        assert row["data_source"] == f"sebench/{problem.split}"
    if mode == "open":  # the docs of the problem's functions are in its prompt
        assert all("Documentation of the `qel` functions" in row["prompt"][0]["content"] for row in rows)


def test_trl_dataset_loads_with_its_columns(tmp_path):
    out = tmp_path / "trl"
    done = sebench("export", "--format", "trl", "--data", FIXTURE_DATA, "--split", "single_test", "-o", out)
    assert done.returncode == 0, done.stderr
    dataset = datasets.load_from_disk(str(out))
    single = [problem for problem in BENCH.problems if problem.split == "single_test"]
    assert dataset.num_rows == len(single)
    assert {"prompt", "sebench_id", "test_cases", "right_exe_result", "function_name"} <= set(dataset.column_names)
    assert dataset[0]["prompt"][0]["role"] == "user" and dataset[0]["function_name"] == single[0].signature


@pytest.mark.parametrize("args, message", [
    (["--format", "trl", "-o", "exists"], "exists: already exists"),
    (["--format", "verl", "-o", "nofolder/x.parquet"], "folder nofolder does not exist"),
    (["--format", "verl", "--data", "/nonexistent", "-o", "x.parquet"], "/nonexistent"),
    (["--format", "verl", "--split", "nosuch", "-o", "x.parquet"], "argument --split"),
    (["--format", "csv", "-o", "x.csv"], "argument --format: invalid choice"),
])
def test_bad_input_is_one_message_and_exit_2(tmp_path, args, message):
    (tmp_path / "exists").mkdir()
    done = sebench("export", "--data", FIXTURE_DATA, *args, cwd=tmp_path)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "x.parquet").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["exists"]
