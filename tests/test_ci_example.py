"""The GitHub Actions example (docs/examples/sebench-gate.yml and its scripts), run for real.

The scripts in docs/examples/sebench-gate/ run as bash subprocesses, configured by environment
variables as the workflow's steps configure them. No GitHub, GPU or Docker is needed:
- our fake OpenAI-compatible server stands in for vLLM, either started directly or through a small
  `vllm` shim, so that serve-vllm.sh, wait-ready.sh and stop-vllm.sh run too;
- a temporary bare git repository is origin and holds the baseline branch;
- GATE_SANDBOX=local replaces the workflow's docker sandbox.
The fixture benchmark has 49 items, and every gate runs with -n 0 and one sample.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import FIXTURE_DATA, REPO
from pytest_sebench.settings import OPTION_BY_KEY

SCRIPTS = REPO / "docs" / "examples" / "sebench-gate"
WORKFLOW = REPO / "docs" / "examples" / "sebench-gate.yml"
PROBLEMS = 49
SHA = "0123456789abcdef0123456789abcdef01234567"
# run-gate.sh writes the HTML page (--sebench-html) unless GATE_HTML is empty; the real runs below ask
# for it once this plugin has the option.
HTML_PAGE = "sebench-report.html" if "html" in OPTION_BY_KEY else ""

pytestmark = [
    pytest.mark.skipif(shutil.which("bash") is None, reason="the example's scripts need bash"),
    pytest.mark.skipif(shutil.which("git") is None, reason="the baseline branch needs git"),
]
needs_server_tools = pytest.mark.skipif(
    shutil.which("curl") is None or shutil.which("setsid") is None,
    reason="serve-vllm.sh and wait-ready.sh need curl and setsid")


# -- helpers ------------------------------------------------------------------------------------------

class Runner:
    """Runs the example's scripts in a workspace, as the workflow's steps do (one GITHUB_OUTPUT each)."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.work = tmp_path / "work"
        self.work.mkdir()
        (tmp_path / "runner-temp").mkdir()
        (tmp_path / "gitconfig").write_text("")
        inherited = {name: value for name, value in os.environ.items()
                     if not name.startswith(("PYTEST_", "SEBENCH_", "OPENAI_", "GITHUB_", "GIT_", "GH_",
                                             "RUNNER_", "GATE_", "VLLM_", "CKPT", "REVISION"))}
        self.env = {
            **inherited,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "RUNNER_TEMP": str(tmp_path / "runner-temp"),
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
            "GIT_CONFIG_GLOBAL": str(tmp_path / "gitconfig"),  # none of this machine's git settings
            "GIT_CONFIG_NOSYSTEM": "1",
            "SEBENCH_DATA": str(FIXTURE_DATA),  # in a configuration repository: the ini key sebench_data
            "GATE_SANDBOX": "local",  # the workflow's docker sandbox needs an engine and our image
            "GATE_WORKERS": "0",
            "GATE_SAMPLES": "1",
            "GATE_HTML": HTML_PAGE,
            "COLUMNS": "120",
        }
        self.calls = 0

    def __call__(self, script: str, *args: str, **env: str) -> tuple[subprocess.CompletedProcess, dict]:
        """Run one script; return the process and the outputs it wrote to $GITHUB_OUTPUT."""
        self.calls += 1
        output = self.tmp / f"output-{self.calls}"
        output.write_text("")
        process = subprocess.run(["bash", str(SCRIPTS / script), *args], cwd=self.work,
                                 env={**self.env, "GITHUB_OUTPUT": str(output), **env},
                                 capture_output=True, text=True, timeout=180)
        pairs = (line.partition("=") for line in output.read_text().splitlines())
        return process, {key: value for key, _, value in pairs}


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=cwd,
                          check=True, capture_output=True, text=True,
                          env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}).stdout


@pytest.fixture
def run(tmp_path) -> Runner:
    """A checkout of a configuration repository whose origin is a bare repository in tmp_path."""
    runner = Runner(tmp_path)
    git("init", "-q", "--bare", str(tmp_path / "origin.git"), cwd=tmp_path)
    git("init", "-q", "-b", "main", cwd=runner.work)
    (runner.work / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    git("add", "pyproject.toml", cwd=runner.work)
    git("commit", "-q", "-m", "configuration", cwd=runner.work)
    git("remote", "add", "origin", str(tmp_path / "origin.git"), cwd=runner.work)
    git("push", "-q", "origin", "main", cwd=runner.work)
    return runner


def baseline_branch(run: Runner) -> str | None:
    """The commit of origin's sebench-baseline branch, or None."""
    heads = git("ls-remote", "--heads", str(run.tmp / "origin.git"), "sebench-baseline", cwd=run.tmp)
    return heads.split()[0] if heads else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def fake_server(tmp_path):
    """Start our fake server as the model server ("ckpt"); returns its base URL. Stopped afterwards."""
    started: list[subprocess.Popen] = []

    def start(*options: str) -> str:
        ready = tmp_path / f"ready-{len(started)}"
        process = subprocess.Popen(
            [sys.executable, "-m", "pytest_sebench.testing.fake_server", "--port", "0", "--data",
             str(FIXTURE_DATA), "--ready-file", str(ready), "--model-id", "ckpt", *options],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(process)
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert process.poll() is None and time.monotonic() < deadline, "the fake server did not start"
            time.sleep(0.05)
        return ready.read_text()

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def fake_vllm(tmp_path):
    """A `vllm` executable that serves with our fake server: VLLM_BIN for serve-vllm.sh, plus the file
    where the server logs each completion request."""
    log = tmp_path / "requests.jsonl"
    shim = tmp_path / "vllm"
    shim.write_text(f"""#!/usr/bin/env bash
# `vllm serve CKPT --served-model-name N --host H --port P [--max-model-len L] ...` as our fake server
set -euo pipefail
[ "$1" = serve ] || exit 2
shift 2
args=()
while [ $# -gt 0 ]; do
    case $1 in
        --served-model-name) args+=(--model-id "$2"); shift 2 ;;
        --host|--port) args+=("$1" "$2"); shift 2 ;;
        --max-model-len) args+=(--context-length "$2"); shift 2 ;;
        *) shift ;;
    esac
done
exec "{sys.executable}" -m pytest_sebench.testing.fake_server --responder reference \\
    --data "{FIXTURE_DATA}" --log "{log}" "${{args[@]}}"
""")
    shim.chmod(0o755)
    return shim, log


def completions(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def checkpoint(tmp_path: Path, run_name: str, step: str) -> Path:
    folder = tmp_path / "ckpts" / run_name / step
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text("{}")
    return folder


# -- resolve-checkpoint.sh ----------------------------------------------------------------------------

def test_revision_tells_training_runs_apart(run, tmp_path):
    """The same step of two training runs gets two revisions (run-7.step-1200, run-8.step-1200), and a
    `latest` symlink is resolved to the folder it points at."""
    revisions = {}
    for run_name in ("run-7", "run-8"):
        folder = checkpoint(tmp_path, run_name, "step-1200")
        process, outputs = run("resolve-checkpoint.sh", CKPT_INPUT=str(folder))
        assert process.returncode == 0, process.stdout
        assert outputs["path"] == str(folder.resolve())
        revisions[run_name] = outputs["revision"]
    assert revisions == {"run-7": "run-7.step-1200", "run-8": "run-8.step-1200"}

    (tmp_path / "ckpts" / "run-8" / "latest").symlink_to("step-1200")
    process, outputs = run("resolve-checkpoint.sh", CKPT_SCHEDULED=str(tmp_path / "ckpts/run-8/latest"))
    assert process.returncode == 0, process.stdout
    assert outputs == {"path": str((tmp_path / "ckpts/run-8/step-1200").resolve()), "revision": "run-8.step-1200"}


def test_revision_input_overrides_and_is_validated(run, tmp_path):
    """The `revision` input wins over the derived one; one with unsafe characters, a folder that does
    not exist, or no checkpoint at all fails with a message saying what to do."""
    folder = checkpoint(tmp_path, "run-7", "step-1200")
    process, outputs = run("resolve-checkpoint.sh", CKPT_INPUT=str(folder), REVISION_INPUT="run-7b.step-1200")
    assert process.returncode == 0 and outputs["revision"] == "run-7b.step-1200"

    for bad in ("a b", "x;rm -rf ~", "-n", "a/b", "r" * 101):
        process, outputs = run("resolve-checkpoint.sh", CKPT_INPUT=str(folder), REVISION_INPUT=bad)
        assert process.returncode == 1 and "::error::revision" in process.stdout and outputs == {}, bad

    process, _ = run("resolve-checkpoint.sh", CKPT_INPUT=str(tmp_path / "ckpts/run-7/step-9999"))
    assert process.returncode == 1 and "does not exist" in process.stdout
    process, _ = run("resolve-checkpoint.sh")
    assert process.returncode == 1 and "SEBENCH_LATEST_CHECKPOINT" in process.stdout


# -- install.sh ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("commit", ["", "main", "v0.1.0", SHA[:12], SHA + "0", "g" * 40])
def test_install_refuses_an_unpinned_commit(run, commit):
    """Without SEBENCH_COMMIT as a full 40-character sha the install fails before pip runs, naming the
    repository variable."""
    process, _ = run("install.sh", SEBENCH_REPO="someone/pytest-sebench", SEBENCH_COMMIT=commit,
                     PYTHON="false-python-never-run")
    assert process.returncode == 1
    assert "::error::set the repository variable SEBENCH_COMMIT" in process.stdout


def test_install_pins_the_repository_and_commit(run, tmp_path):
    """pip is asked for pytest-sebench with the test and docker extras from git, at exactly that commit
    (a stand-in `python` records the commands; VLLM_BIN set skips the vLLM install)."""
    calls = tmp_path / "pip-calls"
    shim = tmp_path / "python-shim"
    shim.write_text(f'#!/usr/bin/env bash\nprintf "%s|" "$@" >> "{calls}"\necho >> "{calls}"\n')
    shim.chmod(0o755)
    process, _ = run("install.sh", SEBENCH_REPO="someone/pytest-sebench", SEBENCH_COMMIT=SHA.upper(),
                     PYTHON=str(shim), VLLM_BIN="/opt/vllm/bin/vllm")
    assert process.returncode == 0, process.stdout + process.stderr
    assert calls.read_text().splitlines()[-1] == (
        f"-m|pip|install|pytest-sebench[test,docker] @ git+https://github.com/someone/pytest-sebench@{SHA}|")
    process, _ = run("install.sh", SEBENCH_REPO="", SEBENCH_COMMIT=SHA, PYTHON=str(shim))
    assert process.returncode == 1 and "SEBENCH_REPO" in process.stdout


# -- serve-vllm.sh, wait-ready.sh, stop-vllm.sh -------------------------------------------------------

@needs_server_tools
def test_serve_wait_and_stop(run, tmp_path, fake_vllm):
    """serve-vllm.sh starts the server in its own process group, wait-ready.sh waits until it lists the
    served name, a second start on the same port is refused, and stop-vllm.sh ends it."""
    shim, _ = fake_vllm
    env = {"CKPT": str(checkpoint(tmp_path, "run-7", "step-1200")), "VLLM_BIN": str(shim),
           "VLLM_PORT": str(free_port()), "VLLM_READY_INTERVAL": "0.2", "VLLM_READY_ATTEMPTS": "150",
           "VLLM_EXTRA_ARGS": "--generation-config vllm"}
    try:
        process, _ = run("serve-vllm.sh", **env)
        assert process.returncode == 0, process.stdout
        process, _ = run("wait-ready.sh", **env)
        assert process.returncode == 0, process.stdout
        assert "serving 'ckpt'" in process.stdout and "vLLM ready" in process.stdout

        pidfile = tmp_path / "runner-temp" / f"vllm-{env['VLLM_PORT']}.pid"
        pid = int(pidfile.read_text())
        process, _ = run("serve-vllm.sh", **env)
        assert process.returncode == 1 and "already answers on port" in process.stdout
        assert pidfile.read_text() == f"{pid}\n"  # the refused start wrote nothing
    finally:
        process, _ = run("stop-vllm.sh", **env)
    assert process.returncode == 0 and "vLLM stopped" in process.stdout
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@needs_server_tools
def test_wait_ready_fails_with_the_log_when_the_server_dies(run, tmp_path):
    """A server that exits while loading fails the wait at once, printing the end of its log."""
    broken = tmp_path / "broken-vllm"
    broken.write_text("#!/usr/bin/env bash\necho 'CUDA out of memory'\nexit 1\n")
    broken.chmod(0o755)
    env = {"CKPT": str(tmp_path), "VLLM_BIN": str(broken), "VLLM_PORT": str(free_port()),
           "VLLM_READY_INTERVAL": "0.2"}
    assert run("serve-vllm.sh", **env)[0].returncode == 0
    process, _ = run("wait-ready.sh", **env)
    assert process.returncode == 1
    assert "vLLM exited before it answered" in process.stdout and "CUDA out of memory" in process.stdout


def test_serve_refuses_max_tokens_beyond_the_context(run, tmp_path):
    """GATE_MAX_TOKENS at or above VLLM_MAX_MODEL_LEN would make vLLM refuse every request: the serve
    step fails before any weights load."""
    process, _ = run("serve-vllm.sh", CKPT=str(tmp_path), VLLM_BIN="/nonexistent/vllm",
                     VLLM_MAX_MODEL_LEN="4096", GATE_MAX_TOKENS="8192", VLLM_PORT=str(free_port()))
    assert process.returncode == 1
    assert "GATE_MAX_TOKENS=8192 leaves no room for the prompt in VLLM_MAX_MODEL_LEN=4096" in process.stdout
    assert not list((tmp_path / "runner-temp").glob("vllm-*.pid"))


def test_gate_arguments(run, tmp_path):
    """run-gate.sh's pytest command line (a stand-in `pytest` records it): the docker sandbox unless
    GATE_SANDBOX says otherwise, the revision, the max tokens and the gates; a baseline adds the
    comparison and max-drop, a -k rerun (SELECT) drops both aggregate gates."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pytest").write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@" > "$ARGS_FILE"\n')
    (bin_dir / "pytest").chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}{run.env['PATH']}", "ARGS_FILE": str(tmp_path / "args"),
           "REVISION": "run-7.step-1200"}

    def arguments(**more: str) -> list[str]:
        process, outputs = run("run-gate.sh", **{**env, **more})
        assert process.returncode == 0 and outputs == {"exit-code": "0"}, process.stdout
        return (tmp_path / "args").read_text().splitlines()

    for name in ("GATE_SANDBOX", "GATE_SAMPLES", "GATE_WORKERS", "GATE_HTML"):  # the workflow's defaults
        del run.env[name]
    first = arguments()
    assert first == ["--sebench-model=ckpt", "--sebench-base-url=http://127.0.0.1:8000/v1",
                     "--sebench-model-revision=run-7.step-1200", "--sebench-samples=5",
                     "--sebench-max-tokens=8192", "--sebench-sandbox=docker", "--sebench-cache=.sebench-cache",
                     "--sebench-report=report.json", "--junitxml=junit.xml", "--sebench-save-correct=correct.jsonl",
                     "-n", "16", "--sebench-html=sebench-report.html", "--sebench-fail-under=single_test:0.3"]
    assert "--sebench-html=page.html" in arguments(GATE_HTML="page.html")
    assert not [argument for argument in arguments(GATE_HTML="") if argument.startswith("--sebench-html")]
    compared = arguments(HAS_BASELINE="true", GATE_SANDBOX="local", GATE_MAX_TOKENS="4096")
    assert "--sebench-sandbox=local" in compared and "--sebench-max-tokens=4096" in compared
    assert compared[-3:] == ["--sebench-fail-under=single_test:0.3", "--sebench-baseline=baseline/last.json",
                             "--sebench-max-drop=5"]
    rerun = arguments(HAS_BASELINE="true", SELECT="amin or cumsum")
    assert rerun[-3:] == ["-k", "amin or cumsum", "--sebench-baseline=baseline/last.json"]
    no_gates = arguments(GATE_FAIL_UNDER="", GATE_MAX_DROP="", HAS_BASELINE="true")  # empty: that gate is off
    assert no_gates[-1] == "--sebench-baseline=baseline/last.json"
    assert not [argument for argument in no_gates if argument.startswith(("--sebench-fail", "--sebench-max-d"))]


def test_gate_stops_on_refusals_naming_max_tokens(run, fake_server):
    """When the prompt + max_tokens still exceeds the context, the plugin stops the run (pytest's
    "interrupted", 2) after three identical refusals, with one message naming --sebench-max-tokens."""
    url = fake_server("--responder", "reference", "--context-length", "4096")
    process, outputs = run("run-gate.sh", BASE_URL=url, REVISION="run-7.step-1200", GATE_MAX_TOKENS="4090")
    assert process.returncode == 2 and outputs["exit-code"] == "2"
    assert "::error::the run stopped early" in process.stdout
    assert "Interrupted: the model server refused 3 requests in a row" in process.stdout
    assert "Lower --sebench-max-tokens (now 4090)" in (run.work / "pytest.log").read_text()


# -- fetch-baseline.sh, run-gate.sh, promote.sh: the whole gate ----------------------------------------

@needs_server_tools
def test_gate_promotes_then_compares(run, tmp_path, fake_vllm):
    """The workflow's steps in order, twice. First run: no baseline branch, the gate passes (exit 0,
    report.json), promote.sh creates the branch with last.json. Second run, the same step of another
    training run: the baseline is fetched and compared (max-drop gate), the server is asked again
    (the revision differs, so no answer is reused), and the promotion is a fast-forward. Each gate run
    appends its Markdown page to the job summary, after what the steps before it wrote there."""
    shim, log = fake_vllm
    env = {"VLLM_BIN": str(shim), "VLLM_PORT": str(free_port()), "VLLM_READY_INTERVAL": "0.2",
           "VLLM_READY_ATTEMPTS": "150", "GITHUB_REF": "refs/heads/main", "PROMOTE_REF": "refs/heads/main",
           "SEBENCH_REPO": "someone/pytest-sebench", "SEBENCH_COMMIT": SHA}
    promoted = []
    for run_name in ("run-7", "run-8"):
        folder = checkpoint(tmp_path, run_name, "step-1200")
        process, ckpt = run("resolve-checkpoint.sh", CKPT_INPUT=str(folder))
        assert process.returncode == 0, process.stdout
        assert run("serve-vllm.sh", CKPT=ckpt["path"], **env)[0].returncode == 0
        try:
            process, _ = run("wait-ready.sh", **env)
            assert process.returncode == 0, process.stdout
            process, baseline = run("fetch-baseline.sh")
            assert process.returncode == 0, process.stdout + process.stderr
            assert baseline["found"] == ("true" if promoted else "false")
            assert baseline["commit"] == (promoted[-1] if promoted else "")
            asked_before = completions(log)
            process, gate = run("run-gate.sh", REVISION=ckpt["revision"], HAS_BASELINE=baseline["found"], **env)
        finally:
            run("stop-vllm.sh", **env)
        assert process.returncode == 0 and gate["exit-code"] == "0", process.stdout[-3000:]
        assert completions(log) - asked_before == PROBLEMS  # nothing reused from the other training run
        pytest_log = (run.work / "pytest.log").read_text()
        assert f"{PROBLEMS} passed" in pytest_log
        report = json.loads((run.work / "report.json").read_text())
        assert report["provenance"]["model"]["revision"] == ckpt["revision"]
        gates = [gate["gate"] for gate in report["gates"] if gate["passed"]]
        if promoted:
            assert "sebench: baseline ckpt@run-7.step-1200" in pytest_log
            assert report["comparison"]["baseline"]["label"] == "ckpt@run-7.step-1200"
            assert report["comparison"]["regressions"] == []
            assert gates == ["fail-under single_test", "max-drop"]
        else:
            assert "baseline" not in report["comparison"]
            assert gates == ["fail-under single_test"]

        if HTML_PAGE:
            assert (run.work / HTML_PAGE).is_file()
        summary = (tmp_path / "summary.md").read_text()
        pages = summary.split("## SE-Bench: ")[1:]
        assert len(pages) == len(promoted) + 1  # one page per gate run, none replaced
        page = pages[-1]
        assert page.startswith(f"ckpt@{ckpt['revision']}\n\n✅ **Passed**: no item failed, every gate passed")
        assert "| single\\_test | 31 | 100.0% |" in page
        assert "| fail-under single\\_test | ✅ PASS |" in page
        assert ("| max-drop | ✅ PASS |" in page) == bool(promoted)
        assert ("**Against ckpt@run-7.step-1200** (baseline/last.json, " in page) == bool(promoted)
        # the fake server, unlike vLLM, reports no weights' path: the plugin's warning reaches the summary
        assert "**Warnings**\n\n- the model server at" in page

        process, _ = run("promote.sh", GATE_EXIT_CODE=gate["exit-code"], PARENT=baseline["commit"],
                         REVISION=ckpt["revision"], CKPT=ckpt["path"], RUN_URL="https://example.invalid/1", **env)
        assert process.returncode == 0, process.stdout + process.stderr
        head = baseline_branch(run)
        promoted.append(head)
        # a paragraph of its own under the page (not a row of its last table)
        assert (tmp_path / "summary.md").read_text().endswith(f"\n\n\nbaseline is now {ckpt['revision']} ({head})\n")
        origin = run.tmp / "origin.git"
        assert git("show", f"{head}:last.json", cwd=origin) == (run.work / "report.json").read_text()
        message = git("log", "-1", "--format=%B", head, cwd=origin)
        assert message.startswith(f"sebench baseline: {ckpt['revision']}\n") and "mean@1 100.0%" in message
        assert f"pytest-sebench: someone/pytest-sebench@{SHA}" in message
    assert git("rev-list", "--parents", "-n", "1", promoted[1], cwd=run.tmp / "origin.git").split() == promoted[::-1]
    # the scratch index left the checkout alone: nothing staged or changed, still on main
    assert git("status", "--porcelain", "--untracked-files=no", cwd=run.work) == ""
    assert git("rev-parse", "--abbrev-ref", "HEAD", cwd=run.work) == "main\n"


def test_failing_gate_is_not_promoted(run, fake_server):
    """A checkpoint that solves nothing misses the fail-under bar: run-gate.sh exits 1, and promote.sh
    (were it called) refuses, leaving origin without a baseline branch. A -k rerun and a run of
    another ref are refused too."""
    url = fake_server("--responder", "echo")
    process, baseline = run("fetch-baseline.sh")
    assert baseline["found"] == "false"
    # Two items (-k 0000, passed on to pytest) are enough to miss the bar: each unsolved item is an
    # XFAIL without a baseline, and pytest takes about 0.25 s to format one.
    process, gate = run("run-gate.sh", "-k", "0000", BASE_URL=url, REVISION="run-7.step-1300", HAS_BASELINE="false")
    assert process.returncode == 1 and gate["exit-code"] == "1"
    assert "gate fail-under single_test: FAIL mean@1 0.0%" in (run.work / "pytest.log").read_text()

    for refused, env in [("the gate exited 1", {"GATE_EXIT_CODE": "1"}),
                         ("the gate exited (not at all)", {}),
                         ("a rerun of selected items", {"GATE_EXIT_CODE": "0", "SELECT": "amin"}),
                         ("only runs of refs/heads/main", {"GATE_EXIT_CODE": "0", "PROMOTE_REF": "refs/heads/main",
                                                           "GITHUB_REF": "refs/heads/feature"})]:
        process, _ = run("promote.sh", **env)
        assert process.returncode == 1 and f"::error::not promoting: {refused}" in process.stdout
    assert baseline_branch(run) is None


def test_promotion_never_forces(run):
    """promote.sh builds on the baseline commit its run compared against: when the branch has moved
    since, the push is refused and the branch stays where it was."""
    (run.work / "report.json").write_text('{"summary": {"splits": {}}}\n')
    assert run("promote.sh", GATE_EXIT_CODE="0", REVISION="a")[0].returncode == 0
    first = baseline_branch(run)
    process, _ = run("promote.sh", GATE_EXIT_CODE="0", REVISION="b")  # no parent: unrelated history
    assert process.returncode == 1 and "push to sebench-baseline refused" in process.stdout
    assert baseline_branch(run) == first

    _, baseline = run("fetch-baseline.sh")
    assert baseline == {"commit": first, "found": "true"}
    assert run("promote.sh", GATE_EXIT_CODE="0", REVISION="c", PARENT=first)[0].returncode == 0
    second = baseline_branch(run)
    process, _ = run("promote.sh", GATE_EXIT_CODE="0", REVISION="d", PARENT=first)  # stale parent
    assert process.returncode == 1 and baseline_branch(run) == second


def test_gate_refuses_credentials_where_answers_run(run):
    """The gate does not start while a token is in its environment or git's configuration keeps one
    (actions/checkout without persist-credentials: false)."""
    process, _ = run("run-gate.sh", REVISION="r", GITHUB_TOKEN="ghs_secret")
    assert process.returncode == 1 and "GITHUB_TOKEN is set" in process.stdout
    git("config", "http.https://github.com/.extraheader", "AUTHORIZATION: basic eC1hY2Nlc3M=", cwd=run.work)
    process, _ = run("run-gate.sh", REVISION="r")
    assert process.returncode == 1 and "persist-credentials: false" in process.stdout
    assert not (run.work / "pytest.log").exists()


# -- the files themselves -----------------------------------------------------------------------------

def test_scripts_are_strict_documented_and_used():
    """Every script starts with a header comment and `set -euo pipefail`, the workflow calls each one,
    and shellcheck (when installed) finds nothing."""
    scripts = sorted(SCRIPTS.glob("*.sh"))
    workflow = WORKFLOW.read_text()
    for script in scripts:
        text = script.read_text()
        assert re.match(r"#!/usr/bin/env bash\n# \S", text), script.name
        assert "\nset -euo pipefail\n" in text, script.name
        assert f'bash "$SCRIPTS/{script.name}"' in workflow, script.name
    assert set(re.findall(r'\$SCRIPTS/([\w-]+\.sh)', workflow)) == {script.name for script in scripts}
    assert "persist-credentials: false" in workflow and "GATE_SANDBOX: docker" in workflow
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (.ci/run installs it)")
    process = subprocess.run(["shellcheck", *map(str, scripts)], capture_output=True, text=True)
    assert process.returncode == 0, process.stdout
