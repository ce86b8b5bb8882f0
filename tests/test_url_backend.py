"""The url backend (``--sebench-sandbox=http://...``) against the test double of the reference service.

The shared suites (test_conformance.py, test_hostile.py) run against it through ``conftest``'s
``sandbox_backends`` (``url_sandbox``/``url_layers`` below). Here: whole plugin runs (same verdicts as
the local sandbox, one usage error when the service is down, item ERRORs when it fails), forged
results, the runner's own protections, the service's faults, and the result parser.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import json
import os
import re
import socket
import struct
import subprocess
import sys
import time
import zlib

import numpy
import pytest

from conftest import read_rows
from pytest_sebench.execution.registry import create_backend
from pytest_sebench.execution.base import Job, Limits, Sandbox, SandboxUnavailable
from pytest_sebench.execution.backends.url import (
    ChannelTampered, URLSandbox, execution_from_frames, read_result)
from pytest_sebench.grade.printed import parse_printed
from pytest_sebench.grade.verdict import CORRECT, EXE_ERROR, RESULT_ERROR, judge, verdict_from_execution
from pytest_sebench.testing.sandbox_service import SandboxService

# ------------------------------------------------------------------ the backend for the shared suites

_SHARED: SandboxService | None = None
NOT_OURS = "the remote service's own isolation (the url backend adds none of its own to promise)"


def shared_service() -> SandboxService:
    """One service per test process; its timeout is above every limit the suites use."""
    global _SHARED
    if _SHARED is None:
        _SHARED = SandboxService(timeout=120).start()
        atexit.register(_SHARED.stop)
    return _SHARED


def url_sandbox(limits: Limits) -> Sandbox:
    return URLSandbox(limits, shared_service().url)


def url_layers(sandbox: Sandbox) -> dict:
    """Network, host files, secrets in /proc and process counts are the remote service's business."""
    return {"network": False, "mounts": False, "user": False,
            "missing": {layer: NOT_OURS for layer in ("network", "mounts", "user")}}


# ------------------------------------------------------------------------------------------ fixtures

@pytest.fixture
def service():
    with SandboxService(timeout=60) as started:
        yield started


def fenced(code: str) -> str:
    return f"```python\n{code}```\n"


RIGHT = "def running_balance(opening, transactions):\n    return opening + qel.vihalir(transactions)\n"


def simple_job(library, code: str = "def f(x):\n    return x * 2\n", inputs=("x=1",)) -> Job:
    return Job(library.runtime_spec(), f"import {library.name}\n{code}", "f", tuple(inputs))


# --------------------------------------------------------------------------------- whole plugin runs

def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:randomly", *args)


def categories(path) -> dict[str, list[str]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {item["id"]: [sample["category"] for sample in item["samples"]] for item in data["items"]}


def test_plugin_run_gives_the_local_sandbox_verdicts(pytester, fixture_data):
    problems = len(read_rows(fixture_data / "single_test.jsonl")) + len(
        read_rows(fixture_data / "multiple_test.jsonl"))
    local, remote = pytester.path / "local.json", pytester.path / "url.json"
    run(pytester, "--sebench-model=reference", f"--sebench-data={fixture_data}", "-n0",
        f"--sebench-report={local}").assert_outcomes(passed=problems)
    result = run(pytester, "--sebench-model=reference", f"--sebench-data={fixture_data}", "-n2",
                 f"--sebench-sandbox={shared_service().url}", f"--sebench-report={remote}")
    result.assert_outcomes(passed=problems)
    result.stdout.fnmatch_lines(["*accuracy*100.0%*"])
    assert categories(remote) == categories(local)


def test_service_down_is_one_usage_error_naming_the_option(pytester, fixture_data):
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # free once closed: nothing listens there
    url = f"http://127.0.0.1:{port}/"
    result = run(pytester, "--sebench-model=reference", f"--sebench-data={fixture_data}",
                 f"--sebench-sandbox={url}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--sebench-sandbox={url}*unreachable*"])
    assert "passed" not in result.stdout.str() and "failed" not in result.stdout.str()


@pytest.mark.parametrize("fault", ["server_error", "garbage"])
def test_service_failing_after_the_check_makes_item_errors_not_failures(pytester, fixture_data, service, fault):
    service.inject(fault, count=None, skip=1)  # the session's check gets through; no answer does
    result = run(pytester, "--sebench-model=reference", f"--sebench-data={fixture_data}", "-n0",
                 f"--sebench-sandbox={service.url}", "-k", "single_test and (0000 or 0001)")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*infrastructure error*the remote sandbox at*"])


# ------------------------------------------------------------------------------------- forged results

def forged_stdout(problem, library) -> str:
    """What the service's stdout would hold if the runner reported every case right: a well-formed
    frame with the labels' values. The host would accept it if it were ALL the channel held."""
    events = [{"event": "hello", "numpy": numpy.__version__, "python": "3", "pid": 1, "layers": {}},
              {"event": "ready", "id": 1, "skipped": []}, {"event": "loaded", "id": 1}]
    events += [{"event": "case", "id": 1, "index": index, "value": parse_printed(case.expected),
                "printed": case.expected} for index, case in enumerate(problem.cases)]
    events += [{"event": "finished", "id": 1, "ended": None, "stdout": "", "stderr": "", "seconds": 0.01,
                "skipped": []}, {"event": "remote", "error": None, "protections": {}}]
    raw = b"".join(struct.pack(">I", len(body)) + body for body in (json.dumps(e).encode() for e in events))
    body = base64.b64encode(zlib.compress(raw))
    return f"sebench-result 1 {len(body)} {hashlib.sha256(body).hexdigest()}\n{body.decode()}\n"


WRONG = "    return qel.vihalir(transactions)\n"  # forgets the opening balance
# The runner and the service that started it: the processes whose descriptors carry the result.
REACH = """\
    import os, signal, time
    def ancestors(count=2):
        pid = os.getppid()
        for _ in range(count):
            yield pid
            try:
                with open(f'/proc/{pid}/status') as status:
                    pid = int(next(line for line in status if line.startswith('PPid:')).split()[1])
            except (OSError, StopIteration, ValueError):
                return
"""
FORGERS = {
    "prints_it": "    print(FORGED, end='')\n" + WRONG,
    "writes_it_to_its_descriptors": """\
    import os
    for fd in range(64):
        try:
            os.write(fd, FORGED.encode())
        except OSError:
            pass
""" + WRONG,
    # Past the runner: into every pipe of the runner and of the service (their result channel).
    "writes_it_to_the_channel": REACH + """\
    done = set()  # once per pipe (two frames would give the forgery away), never its own event pipe
    for fd in range(64):
        try:
            done.add(os.readlink(f'/proc/self/fd/{fd}'))
        except OSError:
            pass
    for pid in ancestors():
        for fd in range(64):
            try:
                pipe = os.readlink(f'/proc/{pid}/fd/{fd}')
                if pipe.startswith('pipe:') and pipe not in done:
                    handle = os.open(f'/proc/{pid}/fd/{fd}', os.O_WRONLY | os.O_NONBLOCK)
                    os.write(handle, FORGED.encode())
                    os.close(handle)
                    done.add(pipe)
            except OSError:
                pass
""" + WRONG,
}
# ... then silences the runner, so that the forged frame would be all the service returns.
FORGERS["and_kills_the_runner"] = FORGERS["writes_it_to_the_channel"].replace(WRONG, """\
    for pid in ancestors(1):
        for kill in (os.kill, os.killpg):
            try:
                kill(pid, signal.SIGKILL)
            except OSError:
                pass
    time.sleep(30)
""" + WRONG)


@pytest.fixture(scope="module")
def separate_service():
    """The service in a process of its own, as in real use: forgers go after its descriptors."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "pytest_sebench.testing.sandbox_service",
                                "--port", str(port), "--timeout", "60"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, "the service did not start"
            time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/", process
    process.kill()
    process.wait()


def test_the_forged_frame_would_pass_if_it_were_alone(balance, library):
    frames = read_result(forged_stdout(balance, library), "", 10**8)
    execution = execution_from_frames(frames, len(balance.cases), "")
    assert verdict_from_execution(balance, RIGHT, execution).category == CORRECT


@pytest.mark.parametrize("isolation", [True, False], ids=["layers", "no-layers"])
@pytest.mark.parametrize("forger", FORGERS)
def test_a_forged_frame_does_not_pass(balance, library, separate_service, forger, isolation):
    url, process = separate_service
    code = f"FORGED = {forged_stdout(balance, library)!r}\ndef running_balance(opening, transactions):\n"
    sandbox = URLSandbox(Limits(timeout_seconds=2), url, isolation=isolation)
    hello = sandbox.hello()
    if forger == "and_kills_the_runner" and hello["protections"]["seccomp"] is not True \
            and not hello["layers"]["user"]:
        pytest.skip(f"the documented residual: nothing stops the answer killing the runner here "
                    f"({hello['protections']['seccomp']})")
    verdict = None
    try:
        verdict = judge(balance, fenced(code + FORGERS[forger]), library, sandbox)
    except SandboxUnavailable as error:
        pytest.fail(f"the forger made the service fail: {error}")
    assert verdict.category in (RESULT_ERROR, EXE_ERROR), verdict
    assert process.poll() is None, "the forger killed the service"
    if forger in ("writes_it_to_the_channel", "and_kills_the_runner") and not isolation and os.geteuid() == 0:
        # As root without the remote's layers the child may open the channel's pipe: the forged frame
        # reaches it, the runner (which it cannot kill) adds its own, and the host refuses both.
        assert verdict.category == EXE_ERROR and "wrote into the result channel" in verdict.reason, verdict
    assert judge(balance, fenced(RIGHT), library, sandbox).category == CORRECT


def test_the_answer_cannot_signal_the_runner_or_leave_its_group(library):
    """Without the remote's own layers (an unprivileged service): the seccomp filter of sandbox/url_remote.py."""
    code = """
import os, signal
def f(x):
    outcomes = []
    for attempt in (lambda: os.kill(os.getppid(), 0), lambda: os.kill(-1, 0), lambda: os.setsid(),
                    lambda: os.killpg(os.getpgid(os.getppid()), 0), lambda: os.kill(os.getpid(), 0),
                    lambda: os.kill(0, 0)):
        try:
            attempt()
            outcomes.append("allowed")
        except OSError as error:
            outcomes.append(type(error).__name__)
    return outcomes
"""
    sandbox = URLSandbox(Limits(timeout_seconds=5), shared_service().url, isolation=False)
    protections = sandbox.hello()["protections"]
    if protections["seccomp"] is not True:
        pytest.skip(f"no seccomp filter here: {protections['seccomp']}")
    assert protections["not_dumpable"] is True
    execution = sandbox.execute(simple_job(library, code))
    assert execution.cases[0].value == ["PermissionError"] * 4 + ["allowed"] * 2, execution


def test_hello_names_the_remote_runtime(library):
    hello = URLSandbox(Limits(), shared_service().url).hello()
    assert hello["numpy"] == numpy.__version__ and hello["protections"]["not_dumpable"] is True
    assert set(hello["layers"]) >= {"network", "mounts", "user"}


def test_the_program_holds_the_job_and_never_the_labels(balance, library):
    sandbox = URLSandbox(Limits(), "http://127.0.0.1:9/")
    seen = []
    sandbox._post = lambda program: seen.append(program) or ("", "")  # type: ignore[method-assign]
    with pytest.raises(SandboxUnavailable):
        judge(balance, fenced(RIGHT), library, sandbox)
    job_blob = seen[0].split('b85decode("')[2].split('"')[0]
    job = json.loads(zlib.decompress(base64.b85decode(job_blob)))
    assert set(job) == {"id", "library", "code", "entry_point", "inputs", "limits", "text_cases"}
    assert job["text_cases"] == []  # the labels all parse: no printed text is asked for
    assert job["inputs"] == [case.input for case in balance.cases]
    assert not [case.expected for case in balance.cases if case.expected in seen[0]]


# ----------------------------------------------------------------------------------- service faults

def quick(service: SandboxService, limits: Limits = Limits(timeout_seconds=5)) -> URLSandbox:
    return URLSandbox(limits, service.url, backoff=0.01)


@pytest.mark.parametrize("fault", ["server_error", "disconnect"])
def test_connection_errors_and_5xx_are_retried(service, library, fault):
    service.inject(fault, count=2)
    execution = quick(service).execute(simple_job(library))
    assert execution.cases[0].value == 2 and service.requests == 3


@pytest.mark.parametrize("fault, message", [
    ("server_error", "3 attempts): HTTP 500"),
    ("garbage", 'did not answer {"stdout": ..., "stderr": ...} JSON'),
    ("truncate", "cut short"),
])
def test_a_failing_service_is_sandbox_unavailable(service, library, fault, message):
    service.inject(fault, count=None)
    sandbox = URLSandbox(Limits(timeout_seconds=5), service.url, retries=2, backoff=0.01)
    with pytest.raises(SandboxUnavailable, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("{", r"\{").replace("}", r"\}").replace(".", r"\.")):
        sandbox.execute(simple_job(library))


def test_the_services_own_time_limit_is_sandbox_unavailable_not_a_verdict(library):
    with SandboxService(timeout=1.5) as short:
        code = "import time\ndef f(x):\n    time.sleep(30)\n"
        with pytest.raises(SandboxUnavailable, match="own time limit"):
            quick(short, Limits(timeout_seconds=10)).execute(simple_job(library, code))


def test_unreachable_service_is_sandbox_unavailable():
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    sandbox = create_backend(f"http://127.0.0.1:{port}/run", Limits())
    assert isinstance(sandbox, URLSandbox) and sandbox.url.endswith("/run")
    sandbox.backoff = 0.01
    with pytest.raises(SandboxUnavailable, match="unreachable"):
        sandbox.hello()


# ------------------------------------------------------------------------------------ result parser

def frame_text(events: list[dict]) -> str:
    raw = b"".join(struct.pack(">I", len(body)) + body for body in (json.dumps(e).encode() for e in events))
    body = base64.b64encode(zlib.compress(raw))
    return f"sebench-result 1 {len(body)} {hashlib.sha256(body).hexdigest()}\n{body.decode()}\n"


GOOD = frame_text([{"event": "hello"}, {"event": "remote", "error": None}])


@pytest.mark.parametrize("stdout", [
    GOOD + GOOD,  # a second frame
    "x" + GOOD,  # text before the frame
    GOOD + "x",  # text after it
    re.sub(r"1 (\d+) ", lambda m: f"1 {int(m.group(1)) - 1} ", GOOD, count=1),  # a wrong length
    GOOD[:-3] + ("A" if GOOD[-3] != "A" else "B") + GOOD[-2:],  # a wrong checksum
], ids=["two_frames", "before", "after", "length", "checksum"])
def test_anything_but_one_well_formed_frame_is_tampering(stdout):
    with pytest.raises(ChannelTampered):
        read_result(stdout, "", 10**6)


@pytest.mark.parametrize("stdout, message", [
    ("", "no result came back"),
    ("hello from elsewhere\n", "no result came back"),
    (GOOD[:-10], "cut short"),
])
def test_no_whole_frame_is_sandbox_unavailable(stdout, message):
    with pytest.raises(SandboxUnavailable, match=message):
        read_result(stdout, "Traceback: boom", 10**6)


def test_a_runner_failure_is_sandbox_unavailable_with_its_reason():
    frames = read_result(frame_text([{"event": "remote", "error": "ModuleNotFoundError: numpy"}]), "", 10**6)
    with pytest.raises(SandboxUnavailable, match="ModuleNotFoundError: numpy"):
        execution_from_frames(frames, 1, "")
