"""Hostile answers (tests/hostile/*.py) against every sandbox backend.

Each answer tries to pass without solving our fixture problem, or to hurt the host. Its header says
what it tries (``# attack:``), how it may end (``# expect:`` categories; ``error`` is a clean
infrastructure ERROR) and which isolation layers its assertions rely on (``# needs:``; without them
it is skipped, because on such a machine the sandbox is documented not to be a boundary). A route
known to stay open says so (``# residual:`` why): it must still get through (a strict xfail). An
answer that starts processes writes ``uid=<n>`` to stderr first and says so (``# prints: uid``); the
test fails when that line is missing, since without it the leftover check below could not look. For
each: the verdict is one of the expected non-passing ones, the host's files are unchanged, no secret
shows up in anything returned, nothing reached the server on 127.0.0.1, no process of the answer is
left, and a right answer graded right after it passes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import sysconfig
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy
import pytest

from conftest import REPO
from pytest_sebench.execution.base import Limits, SandboxUnavailable
from pytest_sebench.execution.backends.local import template_path
from pytest_sebench.grade.verdict import CORRECT, ERROR, NUMPY, judge

HOSTILE = Path(__file__).parent / "hostile"
LIMITS = Limits(timeout_seconds=2, memory_bytes=768 * 1024**2, output_bytes=100_000)
RIGHT = "def running_balance(opening, transactions):\n    return opening + qel.vihalir(transactions)\n"
SECRET_VARIABLES = ("OPENAI_API_KEY", "HF_TOKEN", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN")


@dataclass(frozen=True)
class Hostile:
    name: str
    code: str
    attack: str
    expect: frozenset[str]
    needs: tuple[str, ...]
    residual: str  # a known way through, documented: the answer is expected to get past (strict xfail)
    prints_uid: bool  # writes uid=<n> to stderr: the test then looks for its processes left behind


def _header(code: str, key: str) -> str:
    found = re.search(rf"^# {key}: (.*)$", code, flags=re.MULTILINE)
    return found.group(1).strip() if found else ""


def load_hostile() -> list[Hostile]:
    answers = []
    for path in sorted(HOSTILE.glob("*.py")):
        code = path.read_text(encoding="utf-8")
        answers.append(Hostile(path.stem, code, _header(code, "attack"),
                               frozenset(_header(code, "expect").split()), tuple(_header(code, "needs").split()),
                               _header(code, "residual"), _header(code, "prints") == "uid"))
    return answers


ANSWERS = load_hostile()
STARTS_PROCESSES = re.compile(r"\bos\.fork\b|\bsubprocess\b|\bmultiprocessing\b|\bos\.(?:system|spawn|exec)")


class _Server:
    """A TCP server on 127.0.0.1 that counts who connects (nobody should)."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.connections += 1
            connection.sendall(b"[120 70 100]")
            connection.close()

    def close(self) -> None:
        self.socket.close()


@dataclass
class Host:
    """What the answers go after: secrets, label files, a server; and what must stay unchanged."""

    secrets: list[str]
    tokens: dict[str, str]
    watched: list[Path]
    server: _Server

    def snapshot(self) -> dict[str, str]:
        return {str(path): hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "absent"
                for path in self.watched}

    def prepare(self, code: str) -> str:
        for token, value in self.tokens.items():
            code = code.replace(token, value)
        return code


@pytest.fixture(scope="module")
def host(tmp_path_factory, fixture_data) -> Host:
    secrets = {name: f"secret-{name.lower()}-{uuid.uuid4().hex}" for name in SECRET_VARIABLES}
    saved = {name: os.environ.get(name) for name in secrets}
    os.environ.update(secrets)
    home_secret = Path.home() / f".sebench-hostile-{uuid.uuid4().hex[:12]}"
    home_secret.write_text(f"home-secret-{uuid.uuid4().hex}")
    folder = tmp_path_factory.mktemp("hostile")
    row = json.loads((fixture_data / "single_test.jsonl").read_text().splitlines()[0])
    rollouts = folder / "rollouts.jsonl"
    rollouts.write_text(json.dumps(row) + "\n")
    cache = folder / "hf-cache"
    cache.mkdir()
    (cache / "single_test.arrow").write_text(row["right_exe_result"])
    server = _Server()
    sandbox_dir = template_path().parent
    tokens = {"__REPO__": str(REPO), "__ROLLOUTS__": str(rollouts), "__HF_CACHE__": str(cache),
              "__HOME_SECRET__": str(home_secret), "__HOME_SECRET_NAME__": home_secret.name,
              "__PORT__": str(server.port), "__HOST_PID__": str(os.getpid()),
              "__SANDBOX_DIR__": str(sandbox_dir), "__NUMPY_INIT__": numpy.__file__,
              "__SITE_PACKAGES__": sysconfig.get_paths()["purelib"]}
    watched = [*sorted(sandbox_dir.glob("*.py")), Path(numpy.__file__), home_secret, rollouts,
               cache / "single_test.arrow", *sorted((fixture_data).glob("*.jsonl")),
               Path(sysconfig.get_paths()["purelib"]) / "sitecustomize.py"]
    yield Host([*secrets.values(), home_secret.read_text()], tokens, watched, server)
    server.close()
    home_secret.unlink()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def fenced(code: str) -> str:
    return f"```python\n{code}```\n"


def _grade(problem, code, library, sandbox) -> tuple[str, str, object]:
    try:
        verdict = judge(problem, fenced(code), library, sandbox)
    except SandboxUnavailable as error:
        return ERROR, str(error), None
    return verdict.category, repr(verdict), verdict


def _processes_of(uid: int) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as handle:
                status = dict(line.split(":", 1) for line in handle if ":" in line)
        except OSError:
            continue
        if int(status["Uid"].split()[0]) == uid and not status["State"].strip().startswith("Z"):
            found.append(int(name))
    return found


def test_there_are_at_least_thirty_hostile_answers():
    assert len(ANSWERS) >= 30
    for answer in ANSWERS:
        assert answer.attack and answer.expect, f"{answer.name}: header lines missing"
        assert CORRECT not in answer.expect
        starts_processes = bool(STARTS_PROCESSES.search(answer.code))
        assert answer.prints_uid == starts_processes, (
            f"{answer.name}: an answer that starts processes must print its uid and say '# prints: uid' "
            "(the leftover-process check needs it); one that starts none must not say so")


@pytest.mark.parametrize("answer", ANSWERS, ids=[answer.name for answer in ANSWERS])
def test_hostile_answer(backend, host, balance, library, answer, request):
    backend.require(*answer.needs)
    if answer.residual:
        request.applymarker(pytest.mark.xfail(reason=answer.residual, strict=True))
    sandbox = backend.sandbox(LIMITS)
    before = host.snapshot()
    connections = host.server.connections

    category, text, verdict = _grade(balance, host.prepare(answer.code), library, sandbox)

    assert category in answer.expect, text
    if category == NUMPY:
        assert verdict.reason.startswith("reached NumPy at run time"), verdict  # not the static check
    assert host.snapshot() == before, "a file on the host changed"
    leaked = [secret for secret in host.secrets if secret in text]
    assert not leaked, f"secrets in the verdict: {leaked}"
    assert host.server.connections == connections, "the answer reached the server on 127.0.0.1"
    if answer.prints_uid:
        uid = _printed_uid(answer, verdict, text)
        assert _eventually_empty(lambda: _processes_of(uid)), f"processes of {answer.name} (uid {uid}) are left"

    follow = judge(balance, fenced(RIGHT), library, sandbox)
    assert follow.category == CORRECT, f"the answer after {answer.name} was graded {follow}"


def _printed_uid(answer: Hostile, verdict, text: str) -> int:
    """The uid the answer wrote to stderr; a failure when it wrote none (it never got that far, so
    whether its processes are left cannot be told)."""
    found = re.search(r"^uid=(\d+)$", verdict.stderr if verdict is not None else "", flags=re.MULTILINE)
    if found is None:
        pytest.fail(f"{answer.name} printed no uid=<n> line, so the leftover-process check cannot run "
                    f"(did the answer start at all?): {text}")
    return int(found.group(1))


def _eventually_empty(probe, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while probe():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


PROBE_RAN = "probe-ran"  # the first item of every value the probe returns
PROBE = f"""def running_balance(opening, transactions):
    import os
    left = [os.path.join(folder, 'sebench-poison-marker') for folder in ('/tmp', '/dev/shm', '/var/tmp', '.')]
    return ['{PROBE_RAN}'] + [path for path in left if os.path.exists(path)] + list(qel.vihalir([opening]).T.tolist())
"""


def _probe_values(verdict, what: str, text: str) -> list[str]:
    """What the probe returned in each case; a failure when a case brought no value back (the probe
    raised or never ran, so it saw nothing, which must not pass for 'nothing was there')."""
    if verdict is None or not verdict.cases:
        pytest.fail(f"{what} did not run: {text}")
    missing = [index for index, case in enumerate(verdict.cases) if PROBE_RAN not in (case.got or "")]
    if missing:
        pytest.fail(f"{what} brought no value back in case(s) {missing}: {text}")
    return [case.got for case in verdict.cases]


def test_files_one_answer_leaves_are_not_seen_by_the_next(backend, host, balance, library):
    backend.require("mounts")
    sandbox = backend.sandbox(LIMITS)
    poison = next(answer for answer in ANSWERS if answer.name == "poison_shared_folders")
    category, text, _ = _grade(balance, host.prepare(poison.code), library, sandbox)
    assert category in poison.expect, f"{poison.name} did not run to its end, so it left nothing to find: {text}"
    _, text, verdict = _grade(balance, PROBE, library, sandbox)
    seen = _probe_values(verdict, f"the probe run after {poison.name}", text)
    assert not any("sebench-poison-marker" in got for got in seen), text
