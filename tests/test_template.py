"""The warm template and its host-side client: frames, protocol errors, restarts, the pool, the layers."""

from __future__ import annotations

import itertools
import os
import signal
import sys
import threading
import time

import pytest

from pytest_sebench.data.library import load_library
from pytest_sebench.execution.backends import local
from pytest_sebench.execution.base import Job, Limits, SandboxUnavailable
from pytest_sebench.execution.backends.local import LocalSandbox, SandboxNotIsolatedWarning
from pytest_sebench.execution.stream import Stream, TemplateClient
from pytest_sebench.sandbox_files.frames import FrameError, FrameReader, encode_frame


@pytest.fixture(scope="module")
def library(fixture_data):
    return load_library(fixture_data / "api_doc.jsonl")


def job(library, body: str = "    return qel.dumim(qel.pihirib(x))\n", inputs=("x=[1, 2]",)) -> Job:
    return Job(library.runtime_spec(), f"import qel\ndef f(x):\n{body}", "f", tuple(inputs))


# --------------------------------------------------------------------------------------- frames

def test_frames_survive_any_chunking():
    messages = [{"event": "case", "index": index, "value": "é" * index} for index in range(20)]
    data = b"".join(encode_frame(message) for message in messages)
    for size in (1, 3, 7, len(data)):
        reader = FrameReader(limit=1000)
        got = [message for start in range(0, len(data), size) for message in reader.feed(data[start:start + size])]
        assert got == messages and reader.pending == 0


@pytest.mark.parametrize("data", [
    b"\x00\x00\x10\x00" + b"x" * 10,  # longer than the limit: refused before it is buffered
    b"\x00\x00\x00\x03abc",  # not JSON
    b"\x00\x00\x00\x02[]",  # JSON, but not an object
])
def test_bad_frames_are_refused(data):
    with pytest.raises(FrameError):
        list(FrameReader(limit=100).feed(data))


# ------------------------------------------------------------------------------- protocol errors

class ScriptedStream(Stream):
    """A template that says what the test wants."""

    def __init__(self, replies: list[bytes]) -> None:
        self.replies = replies
        self.closed = False

    def write(self, data: bytes) -> None:
        pass

    def read(self, timeout: float) -> bytes:
        if not self.replies:
            raise TimeoutError
        return self.replies.pop(0)

    def close(self) -> None:
        self.closed = True


HELLO = encode_frame({"event": "hello", "numpy": "2.3.5", "python": "3.11", "layers": {}})


@pytest.mark.parametrize("replies, message", [
    ([], "did not start"),
    ([b""], "did not start"),
    ([encode_frame({"event": "hi"})], "did not say hello"),
    ([HELLO, b"\x00\x00\x00\x02{]"], "failed during the job"),
    ([HELLO, encode_frame({"event": "ready", "id": 99})], "an event for job 99"),
    ([HELLO, encode_frame({"event": "case", "id": 1, "index": 5, "value": 1})], "outside the job"),
    ([HELLO, encode_frame({"event": "surprise", "id": 1})], "unknown event"),
    ([HELLO, encode_frame({"event": "ready", "id": 1, "skipped": []})], "no answer in time"),
    ([HELLO, b""], "the stream ended"),
])
def test_protocol_errors_are_unavailable_and_restart_the_template(library, replies, message):
    streams = [ScriptedStream(list(replies)), ScriptedStream([HELLO])]
    client = TemplateClient(lambda: streams.pop(0), Limits(timeout_seconds=0.1, startup_seconds=0.1), "scripted")
    with pytest.raises(SandboxUnavailable, match=message):
        client.execute(job(library))
    assert len(streams) == 1 or streams == []  # the broken stream was dropped
    with pytest.raises(SandboxUnavailable, match="no answer in time"):  # a new template was started
        client.execute(job(library))
    assert streams == []


def test_failure_before_ready_is_unavailable(library):
    finished = encode_frame({"event": "finished", "id": 1, "ended": {"type": "Exited", "message": "70"},
                             "stdout": "", "stderr": "sandbox setup failed: OSError", "seconds": 0})
    client = TemplateClient(lambda: ScriptedStream([HELLO, finished]), Limits(), "scripted")
    with pytest.raises(SandboxUnavailable, match=r"(?s)failed before the answer ran.*sandbox setup failed"):
        client.execute(job(library))


# ----------------------------------------------------------------------------- the real template

@pytest.fixture(scope="module")
def sandbox():
    sandbox = LocalSandbox(Limits(timeout_seconds=5))
    yield sandbox
    sandbox.close()


def test_every_layer_is_used_where_the_machine_allows(sandbox):
    layers = sandbox.hello()["layers"]
    if sys.platform.startswith("linux") and os.geteuid() == 0:
        assert layers["network"] and layers["mounts"] and layers["user"] and not layers["missing"], layers
    else:
        assert layers["missing"], "a missing layer must be reported"


def test_template_killed_mid_job_fails_that_job_only(library, sandbox):
    sandbox.execute(job(library))  # warm
    pid = sandbox.hello()["pid"]
    threading.Timer(0.5, os.kill, (pid, signal.SIGKILL)).start()
    with pytest.raises(SandboxUnavailable):
        sandbox.execute(job(library, "    import time\n    time.sleep(3)\n    return qel.dumim(x)\n"))
    execution = sandbox.execute(job(library))
    assert execution.cases[0].value == 3 and sandbox.hello()["pid"] != pid


def test_pool_runs_jobs_side_by_side_and_reuses_templates(library):
    pool = LocalSandbox(Limits(timeout_seconds=5), pool_size=2)
    try:
        results = []
        # each answer reports when it started and ended (wall clock, inside the sandbox)
        threads = [threading.Thread(target=lambda: results.append(pool.execute(job(
            library, "    import time\n    began = time.time()\n    time.sleep(0.5)\n"
                     "    return [qel.dumim(qel.pihirib(x)), began, time.time()]\n"))))
            for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        values = [execution.cases[0].value for execution in results]
        assert [value[0] for value in values] == [3] * 4
        assert len(pool._all) == 2
        # two at a time, not one: some two answers' run intervals overlap
        spans = sorted((value[1], value[2]) for value in values)
        assert any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans))
    finally:
        pool.close()


def _children(pid: int) -> set[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return {int(child) for child in handle.read().split()}
    except OSError:
        return set()


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_close_ends_the_templates_and_their_children(library):
    sandbox = LocalSandbox(Limits())
    sandbox.execute(job(library))
    pid = sandbox.hello()["pid"]
    family = {pid} | _children(pid)  # the spare children waiting for jobs, the sweeper
    assert len(family) > 1
    sandbox.close()
    deadline = time.monotonic() + 5
    while any(_running(member) for member in family) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [member for member in family if _running(member)]


def test_without_isolation_it_warns_once_and_still_grades(library, monkeypatch):
    monkeypatch.setattr(local, "_warned", False)
    sandbox = LocalSandbox(Limits(timeout_seconds=1), isolation=False)
    try:
        with pytest.warns(SandboxNotIsolatedWarning, match="not a security boundary"):
            assert sandbox.execute(job(library)).cases[0].value == 3
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            timed_out = sandbox.execute(job(library, "    while True:\n        pass\n    return 0\n"))
        assert timed_out.ended is not None and timed_out.ended.type == "Timeout"
    finally:
        sandbox.close()
