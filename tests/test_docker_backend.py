"""The docker backend for real: our image, real containers, the fixture library ``qel``.

Without a Docker engine (or without the image) the tests that need one skip, saying how to get it;
with SEBENCH_REQUIRE_DOCKER=1 (CI, after .ci/docker-setup.sh) they fail instead, so a broken engine
can never turn into a green run that tested nothing.
"""

from __future__ import annotations

import fcntl
import gc
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from pathlib import Path

import pytest

from pytest_sebench.data.library import Library, load_library
from pytest_sebench.data.problems import Case, Problem
from pytest_sebench.execution import docker_owners
from pytest_sebench.execution.backends import docker_engine as docker_backend
from pytest_sebench.execution.base import Execution, Job, Limits, SandboxUnavailable
from pytest_sebench.grade.verdict import CORRECT, EXE_ERROR, RESULT_ERROR, judge

from conftest import REPO, read_rows

TIMEOUT = 2.0
SETUP = REPO / ".ci" / "docker-setup.sh"


def docker_or_skip() -> str:
    """The image id, or skip (fail under SEBENCH_REQUIRE_DOCKER=1) with the backend's own reason.

    With an engine at hand but no image of the current sandbox code (someone changed sandbox/), the
    image is built first with .ci/docker-setup.sh: seconds, and one worker at a time.
    """
    try:
        docker_backend.connect().close()
        return docker_image()
    except SandboxUnavailable as error:
        if os.environ.get("SEBENCH_REQUIRE_DOCKER") == "1":
            pytest.fail(f"SEBENCH_REQUIRE_DOCKER=1 but: {error}")
        pytest.skip(f"no Docker sandbox here: {error}")


def docker_image() -> str:
    try:
        return docker_backend.check()
    except SandboxUnavailable:
        if not SETUP.is_file():
            raise
    with open(os.path.join(tempfile.gettempdir(), "sebench-docker-setup.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return docker_backend.check()  # another worker may have built it meanwhile
        except SandboxUnavailable:
            built = subprocess.run(["bash", str(SETUP)], stdin=subprocess.DEVNULL, capture_output=True,
                                   text=True, timeout=900)
            if built.returncode:
                raise SandboxUnavailable(f"{SETUP.name} failed: {built.stderr[-1000:]}") from None
    return docker_backend.check()


@pytest.fixture(scope="module")
def image() -> str:
    return docker_or_skip()


@pytest.fixture(scope="module")
def library(fixture_data) -> Library:
    return load_library(fixture_data / "api_doc.jsonl")


@pytest.fixture(scope="module")
def sandbox(image):
    backend = docker_backend.DockerSandbox(Limits(timeout_seconds=TIMEOUT))
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def engine(image):
    client = docker_backend.connect()
    yield client
    client.close()


def my_containers(engine) -> list[str]:
    """Ids of the containers this test process owns, running or not."""
    label = f"{docker_owners.LABEL_OWNER}={docker_owners.owner()}"
    return [container.id for container in engine.containers.list(all=True, filters={"label": label})]


def wait_gone(engine, container_id: str, seconds: float = 15.0) -> bool:
    import docker

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            engine.api.inspect_container(container_id)
        except docker.errors.NotFound:
            return True
        time.sleep(0.1)
    return False


def execute(sandbox, library: Library, code: str, inputs: tuple[str, ...] = ("",)) -> Execution:
    return sandbox.execute(Job(library.runtime_spec(), f"import qel\n{textwrap.dedent(code)}", "f", inputs))


def value(sandbox, library: Library, code: str):
    run = execute(sandbox, library, code).cases[0]
    assert run is not None and run.ok, run
    return run.value


def problem(cases: list[tuple[str, str]]) -> Problem:
    return Problem(id="docker", split="single_test", row=0, where="test", query="q",
                   cases=tuple(Case(i, e) for i, e in cases), entry_point="solve",
                   signature="def solve(x):", functions=("cumsum",))


CUMSUM_CASES = [("x=[1, 2, 3]", "[1, 3, 6]"), ("x=[5]", "[5]")]


# -- without an engine --------------------------------------------------------------------------------

def test_no_engine_is_one_clear_message(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with warnings.catch_warnings():
        # docker-py leaves the socket of its failed connect open (inside from_env, before we hold a
        # client to close): collected here, not as an unraisable warning in some later test
        warnings.simplefilter("ignore", ResourceWarning)
        with pytest.raises(SandboxUnavailable) as raised:
            docker_backend.check()
        message = str(raised.value)
        del raised  # its traceback holds the socket
        gc.collect()
    assert ("Docker engine" in message and "docker-setup.sh" in message) or "pip install docker" in message
    assert "\n" not in message


def test_choosing_local_never_imports_the_docker_sdk():
    code = ("import sys\nfrom pytest_sebench.execution.registry import create_backend\n"
            "from pytest_sebench.execution.base import Limits\nimport pytest_sebench.plugin\n"
            "create_backend('local', Limits()).close()\nassert 'docker' not in sys.modules, 'imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_owner_label_names_a_live_process_only():
    me = docker_owners.owner()
    host, pid, started = me.split("/")
    assert not docker_owners.owner_gone(me)
    assert docker_owners.owner_gone(f"{host}/{pid}/{started}0")  # same pid, another start: reused
    assert not docker_owners.owner_gone(f"elsewhere/{pid}/{started}")  # another host's: not ours
    child = subprocess.Popen(["true"])
    child.wait()
    assert docker_owners.owner_gone(f"{host}/{child.pid}/1")


def test_demultiplexer_reassembles_frames_split_anywhere():
    def frame(kind: int, data: bytes) -> bytes:
        return bytes([kind, 0, 0, 0]) + len(data).to_bytes(4, "big") + data

    stream = frame(1, b"hello") + frame(2, b"warning\n") + frame(1, b"") + frame(1, b" world")
    for size in (1, 3, 8, 13, len(stream)):
        demux = docker_backend._Demultiplexer()
        out = b""
        for start in range(0, len(stream), size):
            demux.feed(stream[start:start + size])
            out += demux.take_stdout()
        assert out == b"hello world" and bytes(demux.stderr) == b"warning\n"


def test_setup_script_labels_images_with_the_backends_digest():
    # The script's own code_digest function, run on its own: the image label the backend looks for.
    script = f'source <(sed -n "/^code_digest() {{/,/^}}/p" {SETUP}); code_digest {REPO / "sandbox"}'
    shell = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHON": sys.executable}).stdout.strip()
    assert shell == docker_backend.code_digest(REPO / "sandbox")


# -- answers --------------------------------------------------------------------------------------------

def test_correct_answer_passes(sandbox, library):
    answer = "```python\ndef solve(x):\n    return qel.vihalir(x)\n```"
    assert judge(problem(CUMSUM_CASES), answer, library, sandbox).category == CORRECT


def test_wrong_value_fails(sandbox, library):
    answer = "```python\ndef solve(x):\n    return qel.vihalir(x) * 2\n```"
    verdict = judge(problem(CUMSUM_CASES), answer, library, sandbox)
    assert verdict.category == RESULT_ERROR, verdict


def test_exception_is_the_answers(sandbox, library):
    answer = ("```python\ndef solve(x):\n    if len(x) > 1:\n        raise ValueError('nope')\n"
              "    return qel.vihalir(x)\n```")
    verdict = judge(problem(CUMSUM_CASES), answer, library, sandbox)
    assert verdict.category == EXE_ERROR and "nope" in verdict.reason, verdict


def test_timeout_keeps_the_container(sandbox, library, engine):
    value(sandbox, library, "def f():\n    return 0\n")
    before = sandbox.container_id
    execution = execute(sandbox, library, "def f(x):\n    while True:\n        pass\n", ("x=1",))
    assert execution.cases == (None,) and execution.ended is not None
    assert execution.ended.type == "Timeout", execution.ended
    assert value(sandbox, library, "def f():\n    return 'next'\n") == "next"
    assert sandbox.container_id == before and before in my_containers(engine)


@pytest.mark.parametrize("attempt", [
    "import os, signal\n    os.kill(os.getppid(), signal.SIGKILL)",
    "import os, signal\n    os.kill(os.getppid(), signal.SIGINT)",
    # No process to signal (ProcessLookupError) when no spare is left besides the answer's own.
    "import os, signal, contextlib\n    with contextlib.suppress(ProcessLookupError):\n"
    "        os.kill(-1, signal.SIGKILL)",
], ids=["kill-template", "interrupt-template", "kill-all-of-uid"])
def test_answer_cannot_stop_the_template(sandbox, library, engine, attempt):
    # The template is the container's PID 1: signals from inside that it has no handler for (and
    # SIGINT, which it ignores) do not reach it; kill(-1) spares init. Its spare children may die.
    value(sandbox, library, "def f():\n    return 0\n")
    before = sandbox.container_id
    assert value(sandbox, library, f"import os\ndef f():\n    {attempt}\n    return os.getppid()\n") == 1
    assert value(sandbox, library, "def f():\n    return 'next'\n") == "next"
    assert sandbox.container_id == before


def test_template_crash_replaces_the_container(sandbox, library, engine):
    value(sandbox, library, "def f():\n    return 0\n")
    before = sandbox.container_id
    engine.api.kill(before)  # from outside: the template, and with it the container, ends
    with pytest.raises(SandboxUnavailable, match="docker template"):
        execute(sandbox, library, "def f():\n    return 1\n")
    assert sandbox.container_id is None
    assert wait_gone(engine, before)
    assert value(sandbox, library, "def f():\n    return 'next'\n") == "next"
    assert sandbox.container_id not in (None, before)


def test_no_network_inside(sandbox, library):
    # A server on the host's loopback: inside the container 127.0.0.1 is the container's own, and
    # there is no other interface to reach the host by.
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        code = f"""
        import socket
        def f():
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=1).close()
                reached = True
            except OSError as error:
                reached = type(error).__name__
            return [socket.if_nameindex(), reached]
        """
        interfaces, reached = value(sandbox, library, code)
        server.settimeout(0.2)
        with pytest.raises(OSError):  # nothing came in
            server.accept()
    assert interfaces == [(1, "lo")]
    assert reached == "ConnectionRefusedError"


def test_root_filesystem_is_read_only(sandbox, library):
    code = """
    import errno
    def f():
        results = {}
        for path in ["/opt/sebench/libruntime.py", "/etc/passwd", "/usr/new", "/new", "/var/tmp/new"]:
            try:
                open(path, "a").close()
                results[path] = "written"
            except OSError as error:
                results[path] = errno.errorcode[error.errno]
        root = [line.split()[3] for line in open("/proc/mounts") if line.split()[1] == "/"]
        return [results, root[0].split(",")[0]]
    """
    results, root = value(sandbox, library, code)
    assert set(results.values()) <= {"EROFS", "EACCES"}, results
    assert root == "ro"


def test_unprivileged_user_without_capabilities(sandbox, library):
    code = """
    import os
    def f():
        status = dict(line.split(":", 1) for line in open("/proc/self/status"))
        return [os.getuid(), os.geteuid(), os.getgid(), status["CapEff"].strip(),
                status["CapBnd"].strip(), status["NoNewPrivs"].strip()]
    """
    assert value(sandbox, library, code) == [10001, 10001, 10001, "0" * 16, "0" * 16, "1"]


def test_container_settings(sandbox, library, engine):
    value(sandbox, library, "def f():\n    return 0\n")
    attrs = engine.api.inspect_container(sandbox.container_id)
    host = attrs["HostConfig"]
    assert host["NetworkMode"] == "none" and host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"] and host["SecurityOpt"] == ["no-new-privileges"]
    assert host["PidsLimit"] == docker_backend.MAX_PROCESSES and host["NanoCpus"] == 10**9
    assert host["Memory"] == host["MemorySwap"] > Limits().memory_bytes
    assert set(host["Tmpfs"]) == {"/tmp"} and host["AutoRemove"] is True
    assert host["LogConfig"]["Type"] == "none"
    assert attrs["Config"]["User"] == docker_backend.SANDBOX_USER
    assert attrs["Config"]["Entrypoint"][:3] == ["python3", "-I", "/opt/sebench/template.py"]  # PID 1
    assert attrs["Config"]["Labels"][docker_owners.LABEL_KIND] == "container"


def test_host_files_are_not_there(sandbox, library, fixture_data, tmp_path):
    home_file = Path.home() / f".sebench-docker-probe-{os.getpid()}"
    home_file.write_text("host only")
    try:
        places = [str(REPO), str(fixture_data / "single_test.jsonl"), str(home_file), str(tmp_path),
                  str(REPO.parent / "shared"), "/var/run/docker.sock", "/run/docker.sock"]
        code = f"import os\ndef f():\n    return [p for p in {places!r} if os.path.exists(p)]\n"
        assert value(sandbox, library, code) == []
    finally:
        home_file.unlink()


def test_processes_an_answer_leaves_are_killed(sandbox, library):
    # The last one only forks (no exec): like the answer it is not dumpable, so its /proc folder is
    # root's, whatever its uid.
    leave = """
    import os, subprocess, time
    def f():
        subprocess.Popen(["sleep", "3601"])
        subprocess.Popen(["sleep", "3602"], start_new_session=True)
        read, write = os.pipe()
        if os.fork() == 0:
            os.setsid()
            pid = os.fork()
            if pid == 0:
                time.sleep(3603)
            os.write(write, str(pid).encode())
            os._exit(0)
        return int(os.read(read, 20))
    """
    forked = value(sandbox, library, leave)
    survivors = f"""
    import os
    def f():
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                found.append(open(f"/proc/{{pid}}/cmdline", "rb").read().replace(b"\\0", b" ").decode())
            except OSError:
                pass
        try:
            state = open("/proc/{forked}/stat").read().rsplit(")", 1)[1].split()[0]
        except OSError:
            state = "gone"
        return [found, state]
    """
    commands, state = value(sandbox, library, survivors)
    assert not [command for command in commands if "sleep" in command]
    assert state in ("gone", "Z"), state


def test_files_left_in_tmp_do_not_reach_the_next_answer(sandbox, library):
    # Everywhere the first answer can write: /tmp, its working folder, a folder of its own it locks.
    leave = """
    import os
    def f():
        open('/tmp/sebench-poison-marker', 'w').close()
        open('marker-in-workdir', 'w').close()
        os.makedirs('/tmp/locked/inner')
        open('/tmp/locked/inner/marker', 'w').close()
        os.chmod('/tmp/locked/inner', 0)
        os.chmod('/tmp/locked', 0)
        return os.getcwd()
    """
    first = value(sandbox, library, leave)
    look = """
    import os
    def f():
        return [os.getcwd(), sorted(os.listdir('/tmp'))]
    """
    cwd, listed = value(sandbox, library, look)
    assert first.startswith("/tmp/") and cwd.startswith("/tmp/") and cwd != first
    assert listed == [os.path.basename(cwd)], listed  # its own working folder, nothing else


def test_other_processes_of_the_uid_are_not_open_to_the_answer(sandbox, library):
    # Template and spare children share the answer's uid here: neither ptrace nor /proc/<pid>/mem.
    code = """
    import os
    def f():
        me = os.getuid()
        opened, refused = [], 0
        for pid in filter(str.isdigit, os.listdir('/proc')):
            try:
                uid = int(next(line for line in open(f'/proc/{pid}/status') if line.startswith('Uid:')).split()[1])
            except (OSError, StopIteration):
                continue
            if uid != me or int(pid) == os.getpid():
                continue
            try:
                open(f'/proc/{pid}/mem', 'rb').close()
                opened.append(int(pid))
            except PermissionError:
                refused += 1
        return [opened, refused, os.getppid()]
    """
    # Spares are forked in batches: an answer that took the last one has none beside it, the next
    # answer has the new batch. Two answers in a row: one of them sees the template and a spare.
    runs = [value(sandbox, library, code) for _ in range(2)]
    assert all(opened == [] for opened, _, _ in runs), runs
    assert max(refused for _, refused, _ in runs) >= 2, runs  # the template and at least one spare


# -- the containers' lifetime ---------------------------------------------------------------------------

def test_close_removes_the_container(image, library, engine):
    backend = docker_backend.DockerSandbox(Limits())
    assert value(backend, library, "def f():\n    return 1\n") == 1
    container_id = backend.container_id
    assert container_id in my_containers(engine)
    backend.close()
    assert backend.container_id is None
    assert container_id not in my_containers(engine) and not docker_owners.tracked(container_id)


OWNER_SCRIPT = """
import os, signal, sys, time
from pathlib import Path
from pytest_sebench.data.library import load_library
from pytest_sebench.execution.base import Job, Limits
from pytest_sebench.execution.backends.docker_engine import DockerSandbox
library = load_library(Path(sys.argv[1]))
backend = DockerSandbox(Limits())
backend.execute(Job(library.runtime_spec(), "def f():\\n    return 1\\n", "f", ("",)))
print(backend.container_id, flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL, signal.SIGINT], ids=lambda s: s.name)
def test_containers_go_when_their_owner_is_stopped(image, engine, fixture_data, how):
    # SIGTERM: our handler removes them; SIGINT: KeyboardInterrupt, then atexit; SIGKILL: nothing of
    # ours runs, and the engine removes the container once the template sees its stdin end.
    owner = subprocess.Popen([sys.executable, "-c", OWNER_SCRIPT, str(fixture_data / "api_doc.jsonl")],
                             stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        [container_id] = owner.stdout.readline().split()
        owner.send_signal(how)
        owner.wait(timeout=30)
    finally:
        owner.kill()
        owner.stdout.close()
    assert wait_gone(engine, container_id)


def test_leftovers_of_dead_owners_are_swept(image, engine):
    import docker

    dead = subprocess.Popen(["true"])
    dead.wait()
    options = docker_backend.create_options(engine, Limits())
    options["labels"] = {docker_owners.LABEL_KIND: "container",
                         docker_owners.LABEL_OWNER: f"{socket.gethostname()}/{dead.pid}/1"}
    leftover = engine.api.create_container(image, **options)["Id"]
    try:
        engine.api.start(leftover)  # waits for stdin nobody will ever write
    except docker.errors.APIError as error:  # another test process's sandbox swept it first
        assert error.status_code in (404, 409), error
    try:
        docker_backend.DockerSandbox(Limits()).close()
        assert wait_gone(engine, leftover, seconds=5)
    finally:
        docker_owners.remove(engine.api, leftover)


# -- the plugin ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("workers", ["-n0", "-n2"])
def test_fixture_benchmark_through_the_plugin(image, pytester, fixture_data, engine, workers):
    result = pytester.runpytest_subprocess("-p", "no:randomly", "--sebench-model=reference",
                                           f"--sebench-data={fixture_data}", "--sebench-sandbox=docker",
                                           workers)
    problems = len(read_rows(fixture_data / "single_test.jsonl")) + len(
        read_rows(fixture_data / "multiple_test.jsonl"))
    result.assert_outcomes(passed=problems)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*sandbox=docker*"])


# -- for the shared suites (conftest.sandbox_backends) ----------------------------------------------------

def docker_sandbox(limits: Limits) -> docker_backend.DockerSandbox:
    docker_or_skip()
    return docker_backend.DockerSandbox(limits)


def docker_layers(sandbox) -> dict:
    """The container in terms of the layers of sandbox/isolate.py that the hostile answers rely on.

    ``network``: the container has none. ``mounts`` means a filesystem without the host's private
    folders *and* a fresh /tmp per answer: the container has the first (see test_host_files_are_not_there)
    and empties its /tmp, the only place an answer can write, after each answer (see
    test_files_left_in_tmp_do_not_reach_the_next_answer). ``user`` means a uid per answer: in the
    container the template and every answer share one uid (the template would need root and
    CAP_SETUID to give each answer its own); what that uid could reach is covered otherwise: no
    process survives its answer, /tmp is emptied, and no process of the uid can be ptraced or have
    its memory opened (test_other_processes_of_the_uid_are_not_open_to_the_answer).
    """
    return {"network": True, "mounts": True, "user": False,
            "missing": {"user": "the template and the answers share the container's one uid"}}
