"""pytest_sebench.api: load_benchmark and Grader give what a pytest run gives.

- the same verdict (category, reason, taxonomy, every case) as the plugin's own run on the 259
  single_test reference answers of the real data;
- every hostile answer (tests/hostile) graded through a Grader fails within its ``# expect:`` set, on
  the local sandbox and on docker where the conftest's helpers find an engine;
- grade_many from several caller threads at once: the same verdicts, never one sandbox in two threads,
  never more sandboxes than workers;
- a sandbox that died is replaced (the answer still graded), one that keeps failing is an ``error``
  verdict rather than an exception, one that cannot start is one error at enter;
- bad arguments are one clear ValueError (or TypeError for a wrong type).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest

import pytest_sebench.api as api
from conftest import TEST_DOUBLES, BackendUnderTest, read_rows, write_rows
from pytest_sebench.api import (CORRECT, ERROR, DataError, Grader, Library, Problem, SandboxUnavailable,
                                load_benchmark)
from pytest_sebench.execution.base import Execution, Job, Sandbox
from pytest_sebench.model.answers import ReferenceModel
from test_hostile import ANSWERS, LIMITS, RIGHT, fenced
from test_hostile import host as _hostile_host  # noqa: F401  (a fixture: pytest finds it under this name)

WRONG = "def running_balance(opening, transactions):\n    return opening - qel.vihalir(transactions)\n"


# --------------------------------------------------------------------------- the plugin's verdicts

def _case_facts(cases: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(case["passed"], case["error"], case["got"], case["detail"]) for case in cases]


def test_same_verdicts_as_the_plugin_on_the_real_reference_answers(pytester, shared_data):
    report = pytester.path / "report.json"
    pytester.runpytest_subprocess("--sebench-model=reference", f"--sebench-data={shared_data}",
                                  "--sebench-split=single_test", f"--sebench-report={report}", "-n0", "-q")
    plugin_report = json.loads(report.read_text(encoding="utf-8"))
    benchmark = load_benchmark(data=shared_data, splits=["single_test"])
    model = ReferenceModel(benchmark.library)
    with Grader(benchmark, workers=2) as grader:
        verdicts = grader.grade_many([(problem.id, model.respond(problem)[0]) for problem in benchmark.problems])
        ours = {problem.id: (verdict, grader.taxonomy(verdict))
                for problem, verdict in zip(benchmark.problems, verdicts, strict=True)}
    theirs = {item["id"]: item["samples"][0] for item in plugin_report["items"]}
    assert len(theirs) == len(ours) == 259
    differ = []
    for problem_id, (verdict, taxonomy) in ours.items():
        sample = theirs[problem_id]
        cases = _case_facts([dataclasses.asdict(case) for case in verdict.cases])
        mine = (verdict.category, verdict.reason, taxonomy, cases)
        plugin = (sample["category"], sample["reason"], sample["taxonomy"], _case_facts(sample["cases"]))
        if mine != plugin:
            differ.append(f"{problem_id}: {mine[:3]} != {plugin[:3]}")
    assert not differ, "\n".join(differ)
    categories = {verdict.category for verdict, _ in ours.values()}
    assert {CORRECT, "exe_error", "result_error"} <= categories  # the failures are compared too


# --------------------------------------------------------------------------- hostile answers

@pytest.fixture(scope="module")
def hostile(request):
    return request.getfixturevalue("_hostile_host")


@pytest.fixture(scope="module", params=["local", "docker"])
def hostile_grader(request, library):
    if request.param == "docker":
        from test_docker_backend import docker_or_skip

        docker_or_skip()
    layers = BackendUnderTest(TEST_DOUBLES[request.param])
    grader = Grader(library, sandbox=request.param, workers=1, timeout=LIMITS.timeout_seconds,
                    memory=LIMITS.memory_bytes, output_limit=LIMITS.output_bytes)
    with grader:
        yield grader, layers
    layers.close()


@pytest.mark.parametrize("answer", ANSWERS, ids=[answer.name for answer in ANSWERS])
def test_hostile_answer_through_the_grader(hostile_grader, hostile, balance, answer, request):
    grader, layers = hostile_grader
    layers.require(*answer.needs)
    if answer.residual:
        request.applymarker(pytest.mark.xfail(reason=answer.residual, strict=True))
    verdict = grader.grade(balance, fenced(hostile.prepare(answer.code)))
    assert verdict.category in answer.expect, verdict
    follow = grader.grade(balance, fenced(RIGHT))
    assert follow.category == CORRECT, f"the answer after {answer.name} was graded {follow}"


# --------------------------------------------------------------------------- threads and sandboxes

class Watched(Sandbox):
    """A real sandbox that records who uses it: two threads at once would be a failure."""

    def __init__(self, inner: Sandbox, log: Watch) -> None:
        self.inner, self.log, self.name = inner, log, inner.name
        self.user: int | None = None

    def submit(self, job: Job) -> Callable[[], Execution]:
        self.log.enter(self)
        try:
            collect = self.inner.submit(job)
        except BaseException:
            self.log.leave(self)
            raise

        def result() -> Execution:
            try:
                return collect()
            finally:
                self.log.leave(self)
        return result

    def execute(self, job: Job) -> Execution:
        return self.submit(job)()

    def hello(self) -> dict[str, Any]:
        return self.inner.hello()

    def close(self) -> None:
        self.log.closed += 1
        self.inner.close()


class Watch:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.built = self.closed = self.busy = self.most_busy = 0
        self.shared: list[str] = []
        self.jobs: list[Job] = []

    def enter(self, sandbox: Watched) -> None:
        with self.lock:
            if sandbox.user is not None:
                self.shared.append(f"threads {sandbox.user} and {threading.get_ident()}")
            sandbox.user = threading.get_ident()
            self.busy += 1
            self.most_busy = max(self.most_busy, self.busy)

    def leave(self, sandbox: Watched) -> None:
        with self.lock:
            sandbox.user = None
            self.busy -= 1


@pytest.fixture
def watch(monkeypatch) -> Watch:
    """Every sandbox a Grader builds is a Watched one."""
    log = Watch()
    real = api.create_backend

    def build(*args: Any, **kwargs: Any) -> Sandbox:
        with log.lock:
            log.built += 1
        return Watched(real(*args, **kwargs), log)
    monkeypatch.setattr(api, "create_backend", build)
    return log


@pytest.fixture(scope="module")
def fixture_pairs(fixture_data) -> tuple[api.Benchmark, list[tuple[Problem, str]]]:
    """The fixture benchmark's problems, each with its reference answer and with the next problem's
    answer renamed to its function (it runs, and fails: other arguments, other values)."""
    benchmark = load_benchmark(data=fixture_data)
    model = ReferenceModel(benchmark.library)
    answers = [model.respond(problem)[0] for problem in benchmark.problems]
    pairs = []
    for index, problem in enumerate(benchmark.problems):
        other = answers[(index + 1) % len(answers)]
        wrong = re.sub(r"\bdef \w+\(", f"def {problem.entry_point}(", other, count=1)
        pairs += [(problem, answers[index]), (problem, wrong)]
    return benchmark, pairs


def _facts(verdicts: list[api.Verdict]) -> list[tuple[str, str]]:
    return [(verdict.category, verdict.reason) for verdict in verdicts]


def test_grade_many_from_several_threads(fixture_pairs, watch):
    benchmark, pairs = fixture_pairs
    with Grader(benchmark, workers=2) as grader:
        alone = _facts([grader.grade(problem, text) for problem, text in pairs])
        assert {CORRECT, "exe_error"} <= {category for category, _ in alone}
        results: dict[str, list[tuple[str, str]]] = {}
        errors: list[BaseException] = []

        def many(name: str, chunk: list[tuple[Problem, str]]) -> None:
            try:
                results[name] = _facts(grader.grade_many(chunk))
            except BaseException as error:  # reported below, not lost in the thread
                errors.append(error)

        def one_by_one(name: str, chunk: list[tuple[Problem, str]]) -> None:
            try:
                results[name] = _facts([grader.grade(problem.id, text) for problem, text in chunk])
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=many, args=(f"many{i}", pairs)) for i in range(3)]
        threads += [threading.Thread(target=one_by_one, args=(f"one{i}", pairs[i::2])) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
    assert not errors, errors
    assert [results[f"many{i}"] for i in range(3)] == [alone] * 3
    assert results["one0"] == alone[0::2] and results["one1"] == alone[1::2]
    assert not watch.shared, f"a sandbox served two threads at once: {watch.shared[:3]}"
    assert watch.built <= 2 and watch.most_busy <= 2
    assert watch.most_busy == 2, "grade_many never used both sandboxes at once"
    assert watch.closed == watch.built  # closed at exit


def _children() -> set[int]:
    """This process's live child processes (the local sandbox's templates; zombies left out)."""
    found = set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                state, parent = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[:2]
            except (OSError, ValueError):
                continue
            if int(parent) == os.getpid() and state != "Z":
                found.add(int(name))
    return found


def test_a_sandbox_that_died_is_replaced(library, balance, watch):
    before = _children()
    with Grader(library, workers=1) as grader:
        assert grader.grade(balance, fenced(RIGHT)).category == CORRECT
        started = _children() - before
        assert started, "no template process was started"
        for pid in started:
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _children() & started and time.monotonic() < deadline:
            time.sleep(0.05)
        verdict = grader.grade(balance, fenced(RIGHT))
        assert verdict.category == CORRECT, verdict  # graded on the new sandbox
        assert watch.built == 2 and watch.closed == 1
        assert grader.grade(balance, fenced(WRONG)).category == "result_error"
    assert not (_children() - before), "the sandboxes' processes outlived the Grader"
    with pytest.raises(RuntimeError, match="closed"):
        grader.grade(balance, fenced(RIGHT))


class Failing(Sandbox):
    """Starts, then fails every job as a dead sandbox does."""

    name = "failing"

    def execute(self, job: Job) -> Execution:
        raise SandboxUnavailable("the template died (simulated)")


def test_a_sandbox_that_keeps_failing_is_an_error_verdict(library, balance, monkeypatch, caplog):
    monkeypatch.setattr(api, "create_backend", lambda *args, **kwargs: Failing())
    with Grader(library, workers=2) as grader:
        verdicts = grader.grade_many([(balance, fenced(RIGHT))] * 3)
        single = grader.grade(balance, fenced(RIGHT))
    assert [verdict.category for verdict in [*verdicts, single]] == [ERROR] * 4
    assert single.reason == "sandbox unavailable: the template died (simulated)"
    assert grader.taxonomy(single) is None
    assert "infrastructure error" in caplog.text


def test_a_sandbox_that_cannot_start_is_one_error_at_enter(library):
    grader = Grader(library, python="/nonexistent/python3")
    with pytest.raises(SandboxUnavailable, match=r"sandbox='local' cannot start: .*nonexistent"), grader:
        pass


def test_expected_outputs_never_reach_the_sandbox(fixture_pairs, watch, monkeypatch):
    """Every label is made unmistakable (a number found nowhere else); no job carries one."""
    benchmark, pairs = fixture_pairs
    marked = {problem.id: dataclasses.replace(problem, cases=tuple(
        dataclasses.replace(case, expected=f"{index}.{number}0731337") for number, case in enumerate(problem.cases)))
        for index, problem in enumerate(benchmark.problems)}
    jobs: list[str] = []
    real_submit = Watched.submit

    def submit(self: Watched, job: Job) -> Callable[[], Execution]:
        jobs.append(json.dumps(job.message(1, api.Limits())))
        return real_submit(self, job)
    monkeypatch.setattr(Watched, "submit", submit)
    with Grader(benchmark.library, workers=2) as grader:
        verdicts = grader.grade_many([(marked[problem.id], text) for problem, text in pairs])
    assert len(jobs) >= len(pairs) and {verdict.category for verdict in verdicts} >= {"result_error"}
    assert not [job for job in jobs if "0731337" in job]
    assert all("0731337" in case.expected for verdict in verdicts for case in verdict.cases)  # compared here


# --------------------------------------------------------------------------- arguments and loading

@pytest.mark.parametrize(("arguments", "message"), [
    ({"sandbox": "podman"}, r"sandbox='podman': expected .*local.* URL"),
    ({"workers": 0}, r"workers=0: expected a whole number of at least 1"),
    ({"workers": -3}, r"workers=-3"),
    ({"workers": True}, r"workers=True"),
    ({"workers": 2.0}, r"workers=2.0"),
    ({"timeout": 0}, r"timeout=0: expected a positive"),
    ({"timeout": float("inf")}, r"timeout=inf"),
    ({"memory": 1024}, r"memory=1024: expected a whole number of bytes of at least"),
])
def test_bad_arguments_are_one_clear_value_error(library, arguments, message):
    with pytest.raises(ValueError, match=message):
        Grader(library, **arguments)


def test_bad_problems_and_responses(library, balance, fixture_pairs):
    with pytest.raises(TypeError, match="a Benchmark or a Library"):
        Grader("qel")  # type: ignore[arg-type]
    grader = Grader(library, workers=1)  # nothing starts until a grading call
    with pytest.raises(ValueError, match="made from a Library"):
        grader.grade("single_test/0000-cumsum", fenced(RIGHT))
    with pytest.raises(TypeError, match="the model's text"):
        grader.grade(balance, None)  # type: ignore[arg-type]
    benchmark, _ = fixture_pairs
    with Grader(benchmark, workers=1) as from_benchmark, pytest.raises(ValueError, match="no problem 'nope'"):
        from_benchmark.grade_many([(benchmark.problems[0].id, fenced(RIGHT)), ("nope", fenced(RIGHT))])
    grader.close()


def test_load_benchmark_errors_name_the_file_and_line(tmp_path, fixture_data):
    rows = read_rows(fixture_data / "single_test.jsonl")
    del rows[1]["test_cases"]
    write_rows(tmp_path / "single_test.jsonl", rows)
    (tmp_path / "api_doc.jsonl").write_bytes((fixture_data / "api_doc.jsonl").read_bytes())
    with pytest.raises(DataError, match=r"single_test\.jsonl:2: missing required field 'test_cases'"):
        load_benchmark(data=tmp_path)
    assert api.DataError is __import__("pytest_sebench.data.jsonl", fromlist=["DataError"]).DataError
    with pytest.raises(DataError, match=r"splits asks for train, which .* does not have"):
        load_benchmark(data=fixture_data, splits="single_test,train")
    with pytest.raises(ValueError, match="unknown split tests"):
        load_benchmark(data=fixture_data, splits=["tests"])
    (tmp_path / "api_doc.jsonl").unlink()
    with pytest.raises(DataError, match=r"has no api_doc\.jsonl .* pass docs=PATH"):
        load_benchmark(data=tmp_path)


def test_load_benchmark_as_the_plugin_does(fixture_data, monkeypatch, tmp_path):
    benchmark = load_benchmark(data=str(fixture_data), splits=["multiple_test"])
    assert {problem.split for problem in benchmark.problems} == {"multiple_test"}
    assert isinstance(benchmark.library, Library) and benchmark.library.name == "qel"
    both = load_benchmark(data=fixture_data, docs=fixture_data / "api_doc.jsonl")
    assert {problem.split for problem in both.problems} == {"single_test", "multiple_test"}
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert api.default_cache_dir() == tmp_path / "pytest-sebench"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert api.default_cache_dir() == Path.home() / ".cache" / "pytest-sebench"
