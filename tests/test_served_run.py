"""A served model through the whole plugin: real openai SDK, real HTTP, our fake server as the model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import FIXTURE_DATA
from pytest_sebench.data.benchmark import load_benchmark
from pytest_sebench.model.reference import reference_response
from pytest_sebench.testing import FakeServer, ServerConfig, table_responder

WORKERS = ["-n0", "-n2"]
BENCH = load_benchmark(data=str(FIXTURE_DATA), docs=None, splits=("single_test", "multiple_test"),
                       splits_explicit=False, rollouts=None, cache_dir=Path("."))
PROBLEMS = len(BENCH.problems)
WRONG = "```python\nimport qel\ndef f(x):\n    return qel.{}(x)\n```".format(BENCH.library.main["sum"])
SECRET = "sk-do-not-leak-4242"


def correct_answers() -> dict[str, str]:
    """Each problem's signature line (unique in the prompt) -> its translated reference answer."""
    return {problem.signature: reference_response(problem, BENCH.library) for problem in BENCH.problems}


@pytest.fixture
def server():
    with FakeServer(table_responder(correct_answers())) as running:
        yield running


def run(pytester: pytest.Pytester, server: FakeServer, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "--sebench-model=ckpt", f"--sebench-base-url={server.base_url}", f"--sebench-data={FIXTURE_DATA}",
        f"--sebench-api-key={SECRET}", "--sebench-backoff=0.01", *args)


@pytest.mark.parametrize("workers", WORKERS)
def test_every_item_answered_once(pytester, server, workers):
    report = pytester.path / "r.json"
    result = run(pytester, server, workers, f"--sebench-report={report}")
    result.assert_outcomes(passed=PROBLEMS)
    assert server.completion_attempts == PROBLEMS
    assert len({record.prompt for record in server.requests if record.path.endswith("completions")}) == PROBLEMS
    text = report.read_text()
    assert SECRET not in text and SECRET not in result.stdout.str()
    samples = [sample for item in json.loads(text)["items"] for sample in item["samples"]]
    assert all(sample["answer"]["completion_tokens"] > 0 for sample in samples)
    # a first run reuses nothing, whichever worker asked for an answer and whichever graded it
    assert not any(sample["answer"]["reused"] for sample in samples)
    result.stdout.fnmatch_lines([f"requests: {PROBLEMS} sent: {PROBLEMS} answered, 0 failed; 0 retries*"])
    assert "reused" not in result.stdout.str()


@pytest.mark.parametrize("workers", WORKERS)
def test_faults_are_survived(pytester, server, workers):
    for kind, options in [("rate_limit", {"retry_after": 0}), ("server_error", {}), ("disconnect", {}),
                          ("malformed", {}), ("bad_shape", {}), ("timeout", {"seconds": 3})]:
        server.inject(kind, count=2, **options)
    # the faults go to whichever requests arrive next, so one item may meet several in a row: the retry
    # budget covers all twelve (the default five would make the test depend on the arrival order)
    result = run(pytester, server, workers, "--sebench-request-timeout=1", "--sebench-cache=off",
                 "--sebench-retries=12")
    result.assert_outcomes(passed=PROBLEMS)
    assert server.completion_attempts == PROBLEMS + 12
    assert server.completions_served == PROBLEMS


@pytest.mark.parametrize("workers", WORKERS)
def test_dead_server_errors_every_item_and_still_reports(pytester, server, workers):
    server.set_dead(True)
    report = pytester.path / "r.json"
    result = run(pytester, server, workers, f"--sebench-report={report}", "--sebench-cache=off")
    result.assert_outcomes(errors=PROBLEMS)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["sebench: WARNING: cannot reach the model server*every item will be an ERROR*",
                                 "*infrastructure error*cannot reach the model server*",
                                 f"not a baseline to keep: {PROBLEMS} infrastructure errors*",
                                 "requests: none sent: cannot reach the model server*"])
    assert "accept this report" not in result.stdout.str() and "keep this run" not in result.stdout.str()
    summary = json.loads(report.read_text())["summary"]["overall"]
    assert summary["items"] == PROBLEMS and summary["errors"] == PROBLEMS and summary["accuracy"] == 0


def test_empty_completion_is_graded(pytester, server):
    server.inject("empty", count=PROBLEMS)
    result = run(pytester, server, "--sebench-cache=off")
    result.assert_outcomes(failed=PROBLEMS)
    result.stdout.fnmatch_lines(["*without_zwc*no fenced Python block*"])
    assert server.completion_attempts == PROBLEMS


@pytest.mark.parametrize("workers", WORKERS)
def test_selection_asks_only_selected_items(pytester, server, workers):
    result = run(pytester, server, workers, "-k", "0003 or 0007", "--sebench-cache=off")
    result.assert_outcomes(passed=4, deselected=PROBLEMS - 4 if workers == "-n0" else 0)
    assert server.completion_attempts == 4


def test_concurrency_is_shared_across_workers(pytester):
    with FakeServer(table_responder(correct_answers()), ServerConfig(latency=0.4)) as server:
        result = run(pytester, server, "-n2", "--sebench-concurrency=8", "--sebench-cache=off")
        result.assert_outcomes(passed=PROBLEMS)
        assert 4 < server.max_in_flight <= 8


def test_cache_is_reused_and_revisions_do_not_share(pytester, server):
    cache, some = pytester.path / "answers", ("-k", "0001 or 0002")  # 4 items keep it quick

    def ask(revision: str) -> pytest.RunResult:
        return run(pytester, server, *some, f"--sebench-cache={cache}", f"--sebench-model-revision={revision}")

    ask("step-100").stdout.fnmatch_lines(["sebench: model=ckpt@step-100 *", "model ckpt@step-100, data *"])
    assert server.completion_attempts == 4
    again = ask("step-100")
    again.assert_outcomes(passed=4, deselected=PROBLEMS - 4)
    assert server.completion_attempts == 4
    again.stdout.fnmatch_lines(["requests: 0 sent: 0 answered, 0 failed; 0 retries, 0 abandoned after a "
                                "timeout; 4 answers reused from an earlier run's cache"])
    ask("step-200")
    assert server.completion_attempts == 8
    server.configure(model_id="another-checkpoint")  # same name, new weights behind the endpoint
    ask("step-200")
    assert server.completion_attempts == 12
    for path in cache.rglob("*"):
        assert not path.is_file() or SECRET not in path.read_text(errors="ignore")


def test_resume_after_kill_sends_only_the_missing_requests(pytester, tmp_path):
    log, cache = tmp_path / "requests.jsonl", tmp_path / "answers"
    with FakeServer(table_responder(correct_answers()), ServerConfig(latency=0.5), log_path=log) as server:
        command = [sys.executable, "-m", "pytest", "--sebench-model=ckpt", f"--sebench-base-url={server.base_url}",
                   f"--sebench-data={FIXTURE_DATA}", f"--sebench-cache={cache}", "--sebench-concurrency=4",
                   "-p", "no:cacheprovider", "-q"]
        process = subprocess.Popen(command, cwd=tmp_path, start_new_session=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while len(list(cache.glob("answers/*/*.json"))) < 8:
            assert process.poll() is None, "the run ended before it could be killed"
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        saved = len(list(cache.glob("answers/*/*.json")))
        asked_before = server.completion_attempts
        assert saved < PROBLEMS
        server.configure(latency=0.0)
        result = pytester.run(*command[:1], *command[1:])
        assert result.ret == 0
        assert server.completion_attempts - asked_before == PROBLEMS - saved
    assert len(log.read_text().splitlines()) == server.completion_attempts


@pytest.mark.parametrize("workers", WORKERS)
def test_k_samples_metrics(pytester, workers):
    # every problem: right, wrong, right, wrong, ... by how often the server has seen the prompt
    answers = {signature: [answer, WRONG] for signature, answer in correct_answers().items()}
    report = pytester.path / "r.json"
    with FakeServer(table_responder(answers)) as server:
        result = run(pytester, server, workers, "--sebench-samples=4", f"--sebench-report={report}",
                     "--sebench-cache=off")
        assert server.completion_attempts == 4 * PROBLEMS
    result.assert_outcomes(passed=PROBLEMS)  # solved in some sample
    overall = json.loads(report.read_text())["summary"]["overall"]
    assert overall["k"] == 4 and overall["samples"] == 4 * PROBLEMS
    assert overall["mean_at_k"] == pytest.approx(0.5) and overall["pass_at_1"] == pytest.approx(0.5)
    assert overall["pass_at_k"] == 1.0
    result.stdout.fnmatch_lines(["*mean@4*50.0%*", "*pass@4*100.0%*",
                                 f"*samples (4 per item)*{4 * PROBLEMS}*", f"*  correct*{2 * PROBLEMS}*"])


def test_open_book_prompt_carries_the_docs_and_closed_does_not(pytester, server):
    target = BENCH.problems[0]
    own_name = BENCH.library.full_name(target.functions[0])
    run(pytester, server, "-k", "single_test/0000", "--sebench-cache=off")
    run(pytester, server, "-k", "single_test/0000", "--sebench-cache=off", "--sebench-mode=open")
    closed, opened = [record.prompt for record in server.requests if record.path.endswith("completions")]
    assert target.query.strip() in closed and target.signature in closed
    assert own_name not in closed and f"## {own_name}" in opened


def test_prompt_template_file(pytester, server):
    template = pytester.path / "prompt.txt"
    template.write_text("LIB={library} SIG={signature}\n{query}\n{example}{docs}")
    run(pytester, server, "-k", "single_test/0000", "--sebench-cache=off", f"--sebench-prompt={template}")
    prompt = next(r.prompt for r in server.requests if r.path.endswith("completions"))
    assert prompt.startswith(f"LIB=qel SIG={BENCH.problems[0].signature}")


def test_bad_prompt_template_is_a_usage_error(pytester, server):
    template = pytester.path / "prompt.txt"
    template.write_text("{query} {answer}")
    result = run(pytester, server, f"--sebench-prompt={template}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--sebench-prompt*{template}: unknown field(s) {{answer}}*"])
    assert server.completion_attempts == 0


def test_workers_finishing_early_do_not_strand_requests(pytester):
    # xdist ends a worker as soon as it has no items left; requests it had claimed must still be
    # answered (it finishes them before it goes) or released to the workers waiting for them.
    with FakeServer(table_responder(correct_answers()), ServerConfig(latency=0.3)) as server:
        result = pytester.runpytest_subprocess(
            "--sebench-model=ckpt", f"--sebench-base-url={server.base_url}", f"--sebench-data={FIXTURE_DATA}",
            "-n3", "--sebench-samples=2", "--sebench-concurrency=6", "--sebench-cache=off", timeout=240)
        result.assert_outcomes(passed=PROBLEMS)
        assert server.completion_attempts == 2 * PROBLEMS
    result.stdout.fnmatch_lines([f"requests: {2 * PROBLEMS} sent: {2 * PROBLEMS} answered, 0 failed*"])


@pytest.mark.parametrize("reports", [{"model_root": "/ckpts/run-{}/step-1200"},
                                     {"model_info": {"model_path": "/ckpts/run-{}", "weight_version": "1200"}}])
def test_two_training_runs_served_under_one_name_never_share_answers(pytester, server, reports):
    """vLLM's root, or SGLang's model_path: what the endpoint reports keys the cache and the report."""
    cache, some = pytester.path / "answers", ("-k", "0001 or 0002")

    def serve(run: int) -> dict:
        return {name: value.format(run) if isinstance(value, str) else
                {key: text.format(run) for key, text in value.items()} for name, value in reports.items()}

    reports_of = []
    for run_number in (7, 8, 8):
        server.configure(**serve(run_number))
        report = pytester.path / f"r{run_number}.json"
        result = run(pytester, server, *some, f"--sebench-cache={cache}", "--sebench-model-revision=step-1200",
                     f"--sebench-report={report}")
        assert "WARNING" not in result.stdout.str()
        reports_of.append(json.loads(report.read_text())["provenance"]["model"]["weights"])
    assert server.completion_attempts == 8  # run 8 asked again; its second run reused its own answers
    assert reports_of[0] != reports_of[1] == reports_of[2]
    assert "run-8" in json.dumps(reports_of[1])


def test_a_server_that_does_not_tell_checkpoints_apart_is_warned_about(pytester, server):
    server.configure(model_id="ckpt")  # vLLM with --served-model-name ckpt and an older release
    result = run(pytester, server, "-k", "0001", "--sebench-cache=off", "--sebench-model-revision=step-1200")
    result.stdout.fnmatch_lines([
        "sebench: WARNING: the model server at 127.0.0.1:* reports nothing that tells checkpoints apart*",
        "*SE-Bench summary*",
        "WARNING: the model server at 127.0.0.1:* reports nothing*give every checkpoint a unique revision*"])


def test_the_xdist_controller_builds_no_broker(pytester, server):
    """Under xdist the workers ask; the controller only reads what they tell it (it identifies the
    server once at start, for the header's notes)."""
    pytester.makeconftest(
        "def pytest_unconfigure(config):\n"
        "    hooks = config.pluginmanager.get_plugin('sebench-controller')\n"
        "    if hooks is not None and not hasattr(config, 'workerinput'):\n"
        "        print('controller broker:', hooks.session.facts.model._broker)\n")
    result = run(pytester, server, "-n2", "-s")
    result.assert_outcomes(passed=PROBLEMS)
    result.stdout.fnmatch_lines(["controller broker: None"])
    assert server.completion_attempts == PROBLEMS
