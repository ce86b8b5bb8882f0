"""pytest_sebench.rewards: verl's compute_score and TRL's trl_reward.

- the real single_test reference answers earn 1.0 exactly where the plugin's verdict is ``correct``
  (at least 200 of 259), wrong ones 0.0, through all three entry points;
- chat-format completions, parquet's array columns, the ``sebench_id`` column, the rows that
  ``sebench export`` writes (graded from their own fields, no data needed), the details dict;
- one malformed row among good ones costs that row only (0.0, a warning); a setup that cannot work
  (no library, a bad variable, ids without data) is one clear error at the first call;
- no hostile answer (tests/hostile) earns anything, through compute_score and through trl_reward;
- expected outputs never reach the sandbox.
"""

from __future__ import annotations

import json
import os
import logging
import subprocess
import sys
from typing import Any, Callable

import pytest

import pytest_sebench.api as api
from conftest import FIXTURE_DATA, TEST_DOUBLES, BackendUnderTest, read_rows
from pytest_sebench import rewards
from pytest_sebench.api import CORRECT, DataError, Grader, load_benchmark
from pytest_sebench.execution.base import Execution, Job, Sandbox
from pytest_sebench.model.answers import ReferenceModel
from pytest_sebench.prompt.export import trl_rows, verl_rows
from pytest_sebench.prompt.templates import PromptBuilder
from test_hostile import ANSWERS, RIGHT, fenced
from test_hostile import host as _hostile_host  # noqa: F401  (a fixture: pytest finds it under this name)

ALL_VARIABLES = (rewards.ENV_SANDBOX, rewards.ENV_WORKERS, rewards.ENV_TIMEOUT, rewards.ENV_MEMORY,
                 rewards.ENV_DOCS, rewards.ENV_DATA, rewards.ENV_DETAILS)
QEL = {rewards.ENV_DOCS: str(FIXTURE_DATA / "api_doc.jsonl"), rewards.ENV_WORKERS: "2",
       rewards.ENV_TIMEOUT: "2", rewards.ENV_MEMORY: "768MiB"}
_active: dict[str, str] | None = None  # the variables the process grader was started with


@pytest.fixture(scope="module", autouse=True)
def fresh_grader():
    global _active
    rewards.close()
    _active = None
    yield
    rewards.close()
    _active = None


@pytest.fixture
def reward_env(monkeypatch) -> Callable[..., None]:
    """Set the SEBENCH_REWARD_* variables; the process grader is restarted only when they change."""
    def configure(env: dict[str, str]) -> None:
        global _active
        for name in ALL_VARIABLES:
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        if env != _active:
            rewards.close()
            _active = dict(env)
    return configure


def restart() -> None:
    global _active
    rewards.close()
    _active = None


def verl_info(row: dict[str, Any], index: int, **extra: Any) -> dict[str, Any]:
    """extra_info as SE-Bench's verl scripts write it: the cases' input and output as strings."""
    cases = [{"input": str(case["input"]), "output": str(case["output"])} for case in _cases(row)]
    return {"split": "test", "index": index, "test_cases": cases, "right_exe_result": row["right_exe_result"],
            **extra}


def _cases(row: dict[str, Any]) -> list[dict[str, Any]]:
    cases = row["test_cases"]
    return cases if isinstance(cases, list) else __import__("ast").literal_eval(cases)


# --------------------------------------------------------------------------- the real data

@pytest.fixture(scope="module")
def real(shared_data) -> dict[str, Any]:
    """The real rows, the reference answers, wrong answers (the next row's, renamed to run) and the
    Grader's verdict on each reference answer."""
    benchmark = load_benchmark(data=shared_data, splits=["single_test"])
    model = ReferenceModel(benchmark.library)
    answers = [model.respond(problem)[0] for problem in benchmark.problems]
    wrong = [answers[(index + 1) % len(answers)].replace(
        f"def {benchmark.problems[(index + 1) % len(answers)].entry_point}(", f"def {problem.entry_point}(", 1)
        for index, problem in enumerate(benchmark.problems)]
    with Grader(benchmark, workers=2) as grader:
        verdicts = grader.grade_many(list(zip(benchmark.problems, answers, strict=True)))
    return {"rows": read_rows(shared_data / "single_test.jsonl"), "answers": answers, "wrong": wrong,
            "expected": [1.0 if verdict.category == CORRECT else 0.0 for verdict in verdicts],
            "benchmark": benchmark, "docs": str(shared_data / "api_doc.jsonl"), "data": str(shared_data)}


def test_reference_answers_earn_one_wrong_ones_nothing(real, reward_env):
    reward_env({rewards.ENV_DOCS: real["docs"], rewards.ENV_WORKERS: "2"})
    rows, expected = real["rows"], real["expected"]
    assert sum(expected) >= 200
    infos = [verl_info(row, index) for index, row in enumerate(rows)]
    one_by_one = [rewards.compute_score(data_source="query_doc", solution_str=answer,
                                        ground_truth=row["right_exe_result"], extra_info=info)
                  for row, answer, info in zip(rows, real["answers"], infos, strict=True)]
    assert one_by_one == expected
    batch = rewards.compute_score_batch(data_sources=["query_doc"] * len(rows), solution_strs=real["wrong"],
                                        ground_truths=[row["right_exe_result"] for row in rows], extra_infos=infos)
    assert batch == [0.0] * len(rows)
    trl = rewards.trl_reward(completions=real["answers"] + real["wrong"], prompts=["p"] * 2 * len(rows),
                             completion_ids=[[1]] * 2 * len(rows), trainer_state=object(),
                             test_cases=[info["test_cases"] for info in infos] * 2,
                             right_exe_result=[row["right_exe_result"] for row in rows] * 2)
    assert trl == expected + [0.0] * len(rows)


def test_problems_named_by_sebench_id(real, reward_env):
    reward_env({rewards.ENV_DATA: real["data"], rewards.ENV_WORKERS: "2"})
    ids = [problem.id for problem in real["benchmark"].problems[:40]]
    scores = rewards.trl_reward([[{"role": "assistant", "content": answer}] for answer in real["answers"][:40]],
                                sebench_id=ids)
    assert scores == real["expected"][:40]
    verl = rewards.compute_score("query_doc", real["answers"][0], None, {"sebench_id": ids[0]})
    assert verl == real["expected"][0]
    assert rewards.trl_reward([real["answers"][0]], sebench_id=["single_test/9999-nothing"]) == [0.0]
    row = real["rows"][0]  # an id and cases: the cases decide (no lookup, so an unknown id is no fault)
    both = verl_info(row, 0, sebench_id="elsewhere/0001")
    assert rewards.compute_score("x", real["answers"][0], row["right_exe_result"], both) == real["expected"][0]


def test_rows_that_sebench_export_writes(qel_answers, reward_env):
    """verl's parquet rows and TRL's dataset rows as ``sebench export`` makes them (every field of
    the problem, its id too), read back as pandas does (nested lists become NumPy arrays): graded from
    their own fields, with no data set."""
    pyarrow = pytest.importorskip("pyarrow")
    reward_env(QEL)
    benchmark = load_benchmark(data=FIXTURE_DATA)
    prompts = PromptBuilder.create("closed", None)
    frame = pyarrow.Table.from_pylist(list(verl_rows(benchmark, prompts))).to_pandas()
    model = ReferenceModel(benchmark.library)
    answers = [model.respond(problem)[0] for problem in benchmark.problems]
    scores = [rewards.compute_score(row.data_source, answer, row.reward_model["ground_truth"], row.extra_info)
              for row, answer in zip(frame.itertuples(), answers, strict=True)]
    assert scores == [1.0] * len(benchmark.problems) and len({row.split for row in benchmark.problems}) == 2
    columns = pyarrow.Table.from_pylist(list(trl_rows(benchmark, prompts))).to_pydict()
    del columns["prompt"]  # TRL keeps it to itself
    completions = [[{"role": "assistant", "content": answer}] for answer in answers]
    assert rewards.trl_reward(completions, **columns) == [1.0] * len(answers)


# --------------------------------------------------------------------------- formats and bad rows

@pytest.fixture(scope="module")
def qel_rows() -> list[dict[str, Any]]:
    return read_rows(FIXTURE_DATA / "single_test.jsonl")


@pytest.fixture(scope="module")
def qel_answers(qel_rows) -> list[str]:
    benchmark = load_benchmark(data=FIXTURE_DATA, splits=["single_test"])
    model = ReferenceModel(benchmark.library)
    return [model.respond(problem)[0] for problem in benchmark.problems]


def test_chat_completions_and_parquet_columns(qel_rows, qel_answers, reward_env):
    reward_env(QEL)
    numpy = pytest.importorskip("numpy")
    right = fenced(RIGHT)
    completions = [right, [{"role": "assistant", "content": right}],
                   [{"role": "user", "content": "solve it"}, {"role": "assistant", "content": "```python\n0\n```"},
                    {"role": "user", "content": "again"}, {"role": "assistant", "content": right}],
                   [{"role": "assistant", "content": [{"type": "text", "text": right[:20]},
                                                      {"type": "text", "text": right[20:]}]}],
                   [{"role": "assistant", "content": "<think>maybe ```python\nx\n```</think>\n" + right}]]
    cases = numpy.array(_cases(qel_rows[0]), dtype=object)  # how parquet hands nested lists over
    scores = rewards.trl_reward(completions, test_cases=[cases] * len(completions),
                                right_exe_result=numpy.array([qel_rows[0]["right_exe_result"]] * len(completions)))
    assert scores == [1.0] * len(completions)


def test_details_on_request(qel_rows, reward_env):
    reward_env(QEL)
    info = verl_info(qel_rows[0], 0, sebench_details=True, num_turns=None)  # verl adds num_turns
    ground = qel_rows[0]["right_exe_result"]
    assert rewards.compute_score("x", fenced(RIGHT), ground, info) == {"score": 1.0, "category": CORRECT,
                                                                        "taxonomy": ""}
    wrong = "def running_balance(opening, transactions):\n    return opening - qel.vihalir(transactions)\n"
    assert rewards.compute_score("x", fenced(wrong), ground, info) == {"score": 0.0, "category": "result_error",
                                                                        "taxonomy": "wrong_value"}
    made_up = "def running_balance(opening, transactions):\n    return qel.zzz(transactions)\n"
    assert rewards.compute_score("x", fenced(made_up), ground, info)["taxonomy"] == "hallucinated_name"
    assert rewards.compute_score("x", fenced(RIGHT), ground, verl_info(qel_rows[0], 0)) == 1.0  # the default


def test_one_malformed_row_costs_that_row_only(qel_rows, reward_env, caplog):
    reward_env(QEL)
    caplog.set_level(logging.WARNING, logger="pytest_sebench.rewards")
    row = qel_rows[0]
    count = 6
    test_cases = [_cases(row)] * count
    labels = [row["right_exe_result"]] * count
    completions: list[Any] = [fenced(RIGHT)] * count
    labels[1] = "#".join(labels[1].split("#")[:-1])  # a label short of one case
    test_cases[3] = None  # a row without cases
    completions[4] = 42  # not a completion
    scores = rewards.trl_reward(completions, test_cases=test_cases, right_exe_result=labels)
    assert scores == [1.0, 0.0, 1.0, 0.0, 0.0, 1.0]
    warned = [record.getMessage() for record in caplog.records]
    assert len(warned) == 3 and "'right_exe_result' has 6 '#'-separated outputs" in warned[0]
    info = verl_info(row, 7)
    for bad in (None, "a string", {**info, "test_cases": "[]"}, {**info, "right_exe_result": 7}):
        assert rewards.compute_score("x", fenced(RIGHT), None, bad) == 0.0
    assert rewards.compute_score("x", fenced(RIGHT), "something else", info) == 0.0  # which label?
    assert rewards.compute_score("x", fenced(RIGHT), row["right_exe_result"], info) == 1.0
    assert "verl row:7" in caplog.text


def test_setup_errors_are_one_clear_error_at_the_first_call(reward_env, tmp_path, monkeypatch, qel_rows):
    info = verl_info(qel_rows[0], 0)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    reward_env({})
    with pytest.raises(DataError, match=r"cannot read the library .* SEBENCH_REWARD_DOCS=PATH/api_doc\.jsonl"):
        rewards.compute_score("x", fenced(RIGHT), None, info)
    reward_env({rewards.ENV_DOCS: str(tmp_path / "nothing.jsonl")})
    with pytest.raises(DataError, match=r"SEBENCH_REWARD_DOCS=.*nothing\.jsonl: no such file"):
        rewards.trl_reward([fenced(RIGHT)], test_cases=[info["test_cases"]], right_exe_result=[""])
    reward_env({**QEL, rewards.ENV_WORKERS: "0"})
    with pytest.raises(ValueError, match=r"SEBENCH_REWARD_WORKERS='0': expected a whole number of at least 1"):
        rewards.compute_score("x", fenced(RIGHT), None, info)
    reward_env({**QEL, rewards.ENV_SANDBOX: "podman"})
    with pytest.raises(ValueError, match=r"SEBENCH_REWARD_SANDBOX='podman': expected"):
        rewards.compute_score("x", fenced(RIGHT), None, info)
    reward_env(QEL)  # rows named by id alone: the hub dataset by default, which is out of reach here
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf" / "datasets"))
    with pytest.raises(DataError, match=r"sebench_id alone, and jintailin/SE-Bench cannot be loaded .* "
                                        r"set SEBENCH_REWARD_DATA"):
        rewards.trl_reward([fenced(RIGHT)], sebench_id=["single_test/0000-cumsum"])
    with pytest.raises(ValueError, match="needs the dataset columns test_cases and right_exe_result"):
        rewards.trl_reward([fenced(RIGHT)], prompts=["p"], solution=["s"])
    with pytest.raises(ValueError, match="one value per completion"):
        rewards.trl_reward([fenced(RIGHT)] * 2, test_cases=[info["test_cases"]], right_exe_result=["x", "y"])


def test_expected_outputs_never_reach_the_sandbox(qel_rows, qel_answers, reward_env, monkeypatch):
    """Every label made unmistakable (a number found nowhere else): no job sent carries one."""
    reward_env(QEL)
    restart()
    jobs: list[str] = []
    real_backend = api.create_backend

    class Recording(Sandbox):
        def __init__(self, inner: Sandbox) -> None:
            self.inner, self.name = inner, inner.name

        def execute(self, job: Job) -> Execution:
            jobs.append(json.dumps(job.message(1, api.Limits())))
            return self.inner.execute(job)

        def hello(self) -> dict[str, Any]:
            return self.inner.hello()

        def close(self) -> None:
            self.inner.close()
    monkeypatch.setattr(api, "create_backend", lambda *args: Recording(real_backend(*args)))
    labels = ["#".join(f"{index}.{case}0731337" for case in range(len(_cases(row))))
              for index, row in enumerate(qel_rows)]
    try:
        scores = rewards.trl_reward(qel_answers, test_cases=[_cases(row) for row in qel_rows], right_exe_result=labels)
    finally:
        restart()  # the next test's grader is built without the recording
    assert scores == [0.0] * len(qel_rows) and len(jobs) == len(qel_rows)
    assert not [job for job in jobs if "0731337" in job]


# --------------------------------------------------------------------------- hostile answers

@pytest.fixture(scope="module")
def hostile(request):
    return request.getfixturevalue("_hostile_host")


@pytest.fixture(scope="module")
def local_layers():
    layers = BackendUnderTest(TEST_DOUBLES["local"])
    yield layers
    layers.close()


@pytest.mark.parametrize("answer", ANSWERS, ids=[answer.name for answer in ANSWERS])
def test_hostile_answer_earns_nothing_from_compute_score(answer, hostile, local_layers, qel_rows, reward_env,
                                                         request):
    reward_env(QEL)
    local_layers.require(*answer.needs)
    if answer.residual:
        request.applymarker(pytest.mark.xfail(reason=answer.residual, strict=True))
    row = qel_rows[0]
    info = verl_info(row, 0, function_name=row["function_name"], sebench_details=True)
    result = rewards.compute_score("query_doc", fenced(hostile.prepare(answer.code)), row["right_exe_result"], info)
    assert result["score"] == 0.0 and result["category"] in answer.expect, result
    assert rewards.compute_score("query_doc", fenced(RIGHT), row["right_exe_result"], info)["score"] == 1.0


def test_hostile_answers_earn_nothing_from_trl_reward(hostile, local_layers, qel_rows, reward_env):
    """All of them in one call (graded at once, on two sandboxes), each with a right answer beside it;
    SE-Bench's own columns only (no function_name: the answer's first function is called). The answer
    known to get through (``# residual:``) and those that need a layer this machine lacks are left out."""
    reward_env(QEL)
    active = local_layers.backend.layers(local_layers.sandbox(api.Limits()))
    chosen = [answer for answer in ANSWERS if not answer.residual
              and all(active.get(layer) for layer in answer.needs)]
    completions = [text for answer in chosen for text in (fenced(hostile.prepare(answer.code)), fenced(RIGHT))]
    row = qel_rows[0]
    scores = rewards.trl_reward(completions, test_cases=[_cases(row)] * len(completions),
                                right_exe_result=[row["right_exe_result"]] * len(completions))
    earned = [answer.name for answer, score in zip(chosen, scores[0::2], strict=True) if score]
    assert not earned, f"hostile answers that earned a reward: {earned}"
    assert scores[1::2] == [1.0] * len(chosen)
    assert len(chosen) >= 50


def test_a_forked_child_gets_its_own_grader(qel_rows, reward_env):
    """A process forked after the first reward (a data loader's worker) must not use its parent's
    sandboxes: it starts its own."""
    reward_env(QEL)
    info = verl_info(qel_rows[0], 0)
    assert rewards.compute_score("x", fenced(RIGHT), None, info) == 1.0
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: grade, report, leave without running the parent's exit hooks
        try:
            os.write(writer, str(rewards.compute_score("x", fenced(RIGHT), None, info)).encode())
            rewards.close()
        finally:
            os._exit(0)
    os.close(writer)
    os.waitpid(pid, 0)
    assert os.read(reader, 100) == b"1.0"
    assert rewards.compute_score("x", fenced(RIGHT), None, info) == 1.0  # the parent's still works


def test_problem_ids_and_where(qel_rows):
    """A row's problem is named by where it came from (warnings and logs say it)."""
    problem = rewards._problem(verl_info(qel_rows[0], 3), "verl row", 3)
    assert problem.id == "verl row:3" and problem.entry_point is None and len(problem.cases) == 7


def test_verl_loads_the_reward_file_by_its_path(tmp_path):
    """verl executes ``custom_reward_function.path`` as a module named ``custom_module`` (no package
    around it): the file must work that way, in a fresh process as a verl reward worker is."""
    bench = load_benchmark(data=str(FIXTURE_DATA), splits=["single_test"])
    problem = bench.problems[0]
    row = next(iter(verl_rows(bench, PromptBuilder.create("closed", None))))
    right = ReferenceModel(bench.library).respond(problem, 0)[0]
    script = tmp_path / "verl_like.py"
    script.write_text(
        "import importlib.util, json, sys\n"
        "spec = importlib.util.spec_from_file_location('custom_module', sys.argv[1])\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "sys.modules['custom_module'] = module\n"
        "spec.loader.exec_module(module)\n"
        "score = getattr(module, 'compute_score')\n"
        "row = json.loads(sys.argv[2])\n"
        "args = dict(data_source=row['data_source'], ground_truth=row['reward_model']['ground_truth'],\n"
        "            extra_info=row['extra_info'])\n"
        "print(json.dumps([score(solution_str=sys.argv[3], **args), score(solution_str='no code', **args)]))\n",
        encoding="utf-8")
    env = {**os.environ, rewards.ENV_DOCS: str(FIXTURE_DATA / "api_doc.jsonl"), rewards.ENV_WORKERS: "1"}
    done = subprocess.run(
        [sys.executable, str(script), rewards.__file__, json.dumps(row), right],
        capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [1.0, 0.0]
