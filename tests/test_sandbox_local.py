"""The local sandbox driven directly: real subprocesses, our fixture library ``qel``, every outcome as data."""

from __future__ import annotations

import dataclasses
import os
import signal
import time
import uuid

import pytest

from pytest_sebench.data.library import Library, load_library
from pytest_sebench.data.problems import Case, Problem
from pytest_sebench.execution.base import Execution, Job, Limits, SandboxUnavailable
from pytest_sebench.execution.backends.local import LocalSandbox
from pytest_sebench.grade.verdict import CORRECT, RESULT_ERROR, judge

MiB = 1024**2


@pytest.fixture(scope="module")
def library(fixture_data) -> Library:
    return load_library(fixture_data / "api_doc.jsonl")


_SANDBOXES: dict[tuple[Limits, str | None], LocalSandbox] = {}


@pytest.fixture(scope="module", autouse=True)
def _close_sandboxes():
    yield
    for sandbox in _SANDBOXES.values():
        sandbox.close()
    _SANDBOXES.clear()


def execute(library: Library, code: str, inputs: tuple[str, ...] = ("",), entry: str = "f",
            limits: Limits = Limits(), python: str | None = None) -> Execution:
    """Run through a warm sandbox per (limits, python), as a session would."""
    job = Job(library.runtime_spec(), f"import {library.name}\n{code}", entry, tuple(inputs))
    if python is not None:
        return LocalSandbox(limits, python=python).execute(job)
    return _sandbox(limits).execute(job)


def test_environment_has_no_secrets(library, monkeypatch):
    secrets = {"OPENAI_API_KEY": "sk-" + uuid.uuid4().hex, "HF_TOKEN": "hf_" + uuid.uuid4().hex,
               "AWS_SECRET_ACCESS_KEY": uuid.uuid4().hex, "PYTHONPATH": "/secret/" + uuid.uuid4().hex}
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    code = """
import os, sys, tempfile
def f():
    return [dict(os.environ), os.path.expanduser("~"), os.getcwd(), tempfile.gettempdir(), sys.path]
"""
    run = execute(library, code).cases[0]
    assert run is not None and run.ok, run
    environment, home, cwd, tmp, _ = run.value
    assert not set(secrets) & set(environment)
    assert not any(value in repr(run.value) for value in secrets.values())
    assert home == cwd == tmp == environment["HOME"] == environment["TMPDIR"]


def test_working_directory_is_fresh_and_removed(library):
    code = """
import os
def f():
    found = sorted(os.listdir("."))
    with open("marker.txt", "w") as handle:
        handle.write("left behind")
    return [os.getcwd(), found]
"""
    first, second = (execute(library, code).cases[0].value for _ in range(2))
    assert first[0] != second[0] and os.getcwd() not in (first[0], second[0])
    assert "marker.txt" not in first[1] and "marker.txt" not in second[1]
    assert not os.path.exists(first[0]) and not os.path.exists(second[0])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a killed child waits as a zombie until init reaps it: it no longer runs
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _gone(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


CHILDREN = {
    "subprocess": "import subprocess\n    pid = subprocess.Popen(['sleep', '60']).pid",
    "fork": "import os, time\n    pid = os.fork()\n    if pid == 0:\n        time.sleep(60)\n        os._exit(0)",
    # Out of the answer's process group: only the uid layer (or a PID namespace) reaches these.
    "subprocess_new_session": ("import subprocess\n"
                               "    pid = subprocess.Popen(['sleep', '60'], start_new_session=True).pid"),
    "fork_setsid": ("import os, time\n    pid = os.fork()\n    if pid == 0:\n        os.setsid()\n"
                    "        time.sleep(60)\n        os._exit(0)"),
    # An orphan: its parent is gone before the answer returns (the answer's process adopts it).
    "double_fork_orphan": ("import os, time\n    r, w = os.pipe()\n    if os.fork() == 0:\n        os.setsid()\n"
                           "        grandchild = os.fork()\n        if grandchild == 0:\n            time.sleep(60)\n"
                           "            os._exit(0)\n        os.write(w, str(grandchild).encode())\n"
                           "        os._exit(0)\n"
                           "    pid = int(os.read(r, 20))\n    time.sleep(0.2)"),
}


@pytest.mark.parametrize("then", ["return", "hang"])
@pytest.mark.parametrize("start", CHILDREN)
def test_child_process_does_not_outlive_the_execution(library, start, then):
    if start in ("subprocess_new_session", "fork_setsid", "double_fork_orphan") and not layer_active(library, "user"):
        pytest.skip("needs the per-answer uid layer (root on Linux)")
    code = (f"def f():\n    {CHILDREN[start]}\n    print('pid', pid, flush=True)\n"
            f"    while {then == 'hang'}:\n        pass\n    return pid\n")
    execution = execute(library, code, limits=Limits(timeout_seconds=2))
    pid = int(execution.stdout.split()[1])
    try:
        assert _gone(pid), f"the answer's child {pid} survived the execution"
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    assert (execution.ended is None) == (then == "return")


def layer_active(library: Library, layer: str) -> bool:
    return bool(_sandbox(Limits()).hello()["layers"].get(layer))


def _sandbox(limits: Limits) -> LocalSandbox:
    sandbox = _SANDBOXES.get((limits, None))
    if sandbox is None:
        sandbox = _SANDBOXES[(limits, None)] = LocalSandbox(limits)
    return sandbox


def test_thread_does_not_keep_the_runner_alive(library):
    code = ("import os, threading, time\ndef f():\n    threading.Thread(target=time.sleep, args=(60,)).start()\n"
            "    return os.getpid()\n")
    execution = execute(library, code)
    runner = execution.cases[0].value
    assert isinstance(runner, int) and execution.ended is None
    assert _gone(runner, seconds=2.0)  # killed as execute returned, whatever its threads do


def test_job_has_no_field_for_expected_outputs():
    # text_cases: case numbers (whose printed text the host compares), never a label's content
    assert {field.name for field in dataclasses.fields(Job)} == {"library", "code", "entry_point", "inputs",
                                                                "text_cases"}
    job = Job({}, "code", "f", ("x=1",), text_cases=(0,))
    assert set(job.message(1, Limits())) == {"id", "library", "code", "entry_point", "inputs", "limits", "text_cases"}


# Searches what the sandbox guard lets an answer walk without being flagged: every module's globals
# (NumPy's excepted) and every frame up the stack with its globals and locals. (The heap through
# gc.get_objects is a route of its own: tests/hostile grades it numpy.)
SNOOP = """
import inspect, re, sys
def solve(**arguments):
    qel.dumim(qel.pihirib([0]))
    pattern = re.compile("LBL-" + "[0-9a-f]{12}")
    places = [vars(module) for name, module in list(sys.modules.items()) if not name.startswith("nu" + "mpy")]
    frame = inspect.currentframe()
    while frame is not None:
        places += [frame.f_globals, frame.f_locals]
        frame = frame.f_back
    for holder in places:
        for item in list(holder.items()):
            for text in item if isinstance(item, tuple) else (item,):
                for piece in text if isinstance(text, (list, tuple)) else (text,):
                    found = pattern.search(piece) if isinstance(piece, str) else None
                    if found:
                        return found.group(0)
    return "nothing found"
"""


@pytest.mark.parametrize("control", [False, True])
def test_answer_cannot_find_the_labels(library, control):
    labels = ["LBL-" + uuid.uuid4().hex[:12] for _ in range(2)]
    # The control puts each label into its case's input: the same search must then find it.
    inputs = [f"x={index}" + (f", hint={label!r}" if control else "") for index, label in enumerate(labels)]
    problem = Problem(id="snoop", split="single_test", row=0, where="test", query="q",
                      cases=tuple(Case(i, e) for i, e in zip(inputs, labels, strict=True)), entry_point="solve",
                      signature="def solve(**arguments):", functions=("sum",))
    verdict = judge(problem, f"```python\n{SNOOP}```", library, _sandbox(Limits()))
    if control:
        assert verdict.category == CORRECT, verdict
    else:
        assert verdict.category == RESULT_ERROR, verdict
        assert [case.got for case in verdict.cases] == ["'nothing found'"] * 2


@pytest.mark.parametrize("python", ["/bin/false", "/bin/true", "/nonexistent/bin/python3"])
def test_sandbox_that_cannot_start_is_unavailable(library, python):
    with pytest.raises(SandboxUnavailable):
        execute(library, "def f():\n    return 1\n", python=python)


def test_every_answer_runs_at_normal_priority(library):
    """Spares wait at idle priority but the next in line (template.SPARES, supervise.line_up): the one
    that takes a job must have been raised back, or answers would starve on a busy machine and time
    out. Enough jobs to use several batches of spares."""
    code = "import os\ndef f():\n    return [os.sched_getscheduler(0), os.getpriority(os.PRIO_PROCESS, 0)]\n"
    sandbox = LocalSandbox(Limits())
    try:
        policies = [sandbox.execute(Job(library.runtime_spec(), f"import qel\n{code}", "f", ("",))).cases[0]
                    for _ in range(11)]
    finally:
        sandbox.close()
    assert [run.value if run is not None else None for run in policies] == [[os.SCHED_OTHER, 0]] * 11


def test_submit_returns_while_the_answer_runs(library):
    """The caller works meanwhile (the host reads the labels): submitting does not wait for the answer."""
    sandbox = _sandbox(Limits())
    sandbox.execute(Job(library.runtime_spec(), "import qel\ndef f():\n    return 0\n", "f", ("",)))  # warm
    started = time.monotonic()
    collect = sandbox.submit(Job(library.runtime_spec(), "import qel, time\ndef f():\n    time.sleep(1.5)\n"
                                                         "    return 7\n", "f", ("",)))
    submitted = time.monotonic() - started
    execution = collect()
    assert submitted < 1.0 <= time.monotonic() - started, submitted  # the answer alone sleeps 1.5 s
    assert execution.cases[0] is not None and execution.cases[0].value == 7
