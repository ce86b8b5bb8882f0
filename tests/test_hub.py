"""The hub code path (datasets.load_dataset), run on local dataset repositories with empty caches, and
what the user is told when the hub or the reference repository's api_doc cannot be reached."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import threading
from pathlib import Path

import pytest

from pytest_sebench.data import sources
from pytest_sebench.data.jsonl import DataError
from pytest_sebench.settings import DEFAULT_HUB_DATASET, OPTIONS

USAGE_ERROR = pytest.ExitCode.USAGE_ERROR
SPLITS = ("single_test", "multiple_test")


def hub_readme(*configs: str) -> str:
    """A dataset card whose YAML maps each config to its JSONL file (the hub's manual configuration)."""
    entries = "".join(f"- config_name: {name}\n  data_files:\n  - split: train\n    path: {name}.jsonl\n"
                      for name in configs)
    return f"---\nconfigs:\n{entries}---\n# qel fixture problems as a hub dataset repository\n"


def make_hub_repo(root: Path, fixture_data: Path, configs: tuple[str, ...] = SPLITS) -> Path:
    """A dataset repository on disk: README.md with `configs:` and one JSONL per config, no api_doc."""
    root.mkdir()
    for name in configs:
        shutil.copy(fixture_data / f"{name}.jsonl", root / f"{name}.jsonl")
    (root / "README.md").write_text(hub_readme(*configs), encoding="utf-8")
    return root


@pytest.fixture(autouse=True)
def empty_hub_caches(monkeypatch, tmp_path):
    """Every run starts with empty Hugging Face caches and offline, unless a test says otherwise."""
    for option in OPTIONS:
        monkeypatch.delenv(option.env_var, raising=False)
    home = tmp_path / "hf-home"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(home / "datasets"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for name in ("HF_DATASETS_OFFLINE", "HF_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:randomly", *args)


def only_error_line(result: pytest.RunResult) -> str:
    """Exit code 4 and a stderr that is one ERROR line: no traceback, no log noise, nothing graded."""
    assert result.ret == USAGE_ERROR, result.stdout.str() + result.stderr.str()
    lines = [line for line in result.stderr.lines if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("ERROR: "), result.stderr.str()
    assert "Traceback" not in result.stdout.str()
    assert "SE-Bench summary" not in result.stdout.str()
    return lines[0]


def one_error_line(result: pytest.RunResult) -> str:
    """Exit code 4, one ERROR line, no traceback (datasets may print its progress bars first)."""
    assert result.ret == USAGE_ERROR, result.stdout.str() + result.stderr.str()
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert len(errors) == 1, result.stderr.str()
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    return errors[0]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- hub data from a dataset repository on disk ----------------------------------------------------


def test_hub_repository_grades_like_the_local_folder(pytester, fixture_data, tmp_path):
    repo = make_hub_repo(tmp_path / "repo", fixture_data)
    docs = fixture_data / "api_doc.jsonl"
    local = run(pytester, "--sebench-model=reference", f"--sebench-data={fixture_data}", "--co", "-q")
    local_ids = [line.removeprefix("sebench::") for line in local.stdout.lines if line.startswith("sebench::")]
    assert len(local_ids) == 49
    report = tmp_path / "hub.json"
    result = run(pytester, "--sebench-model=reference", f"--sebench-data=hf:{repo}", f"--sebench-docs={docs}",
                 f"--sebench-report={report}", "-n2")
    result.assert_outcomes(passed=49)
    hub = json.loads(report.read_text(encoding="utf-8"))
    assert [item["id"] for item in hub["items"]] == local_ids
    assert hub["summary"]["overall"]["categories"]["correct"] == 49


def test_hub_repository_one_split(pytester, fixture_data, tmp_path):
    repo = make_hub_repo(tmp_path / "repo", fixture_data)
    result = run(pytester, "--sebench-model=reference", f"--sebench-data=hf:{repo}",
                 f"--sebench-docs={fixture_data / 'api_doc.jsonl'}", "--sebench-split=multiple_test",
                 "-k", "0000 or 0017")
    result.assert_outcomes(passed=2, deselected=16)
    result.stdout.fnmatch_lines([f"sebench: model=reference data={repo} library=qel problems=18 *"])


def test_hub_repository_lacking_a_config_says_so(pytester, fixture_data, tmp_path):
    # offline mode is on, but the folder is there: the message must be about the missing config,
    # not "the hub is not reachable"
    repo = make_hub_repo(tmp_path / "repo", fixture_data, configs=("single_test",))
    result = run(pytester, "--sebench-model=reference", f"--sebench-data=hf:{repo}",
                 f"--sebench-docs={fixture_data / 'api_doc.jsonl'}")
    error = one_error_line(result)
    assert "'multiple_test'" in error and str(repo) in error
    assert "not reachable" not in error


def test_hub_repository_without_docs_offline_names_the_docs_option(pytester, fixture_data, tmp_path):
    repo = make_hub_repo(tmp_path / "repo", fixture_data)
    error = one_error_line(run(pytester, "--sebench-model=reference", f"--sebench-data=hf:{repo}"))
    assert "api_doc" in error and "offline" in error
    assert "--sebench-docs=PATH/api_doc.jsonl" in error


def test_hub_docs_come_from_the_cache(pytester, fixture_data, tmp_path):
    # what fetch_hub_docs stored on an earlier run is used without any network
    repo = make_hub_repo(tmp_path / "repo", fixture_data)
    cache = pytester.path / ".pytest_cache" / "d" / "sebench"
    cache.mkdir(parents=True)
    shutil.copy(fixture_data / "api_doc.jsonl", cache / "api_doc.jsonl")
    result = run(pytester, "--sebench-model=reference", f"--sebench-data=hf:{repo}", "--co")
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(["sebench: *library=qel problems=49 *"])


# -- the default source, where the hub cannot be reached -------------------------------------------


def test_default_source_offline_says_which_option_to_pass(pytester):
    error = only_error_line(run(pytester, "--sebench-model=reference"))
    assert repr(DEFAULT_HUB_DATASET) in error
    assert "--sebench-data=PATH" in error


def test_default_source_with_unreachable_endpoint(pytester, monkeypatch):
    # no HF_HUB_OFFLINE: the plugin's probe must find the hub unreachable and give the same message
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    error = only_error_line(run(pytester, "--sebench-model=reference"))
    assert "not reachable" in error and "--sebench-data=PATH" in error


def test_default_source_without_network(pytester, monkeypatch):
    # the real endpoint, as a user without network would meet it
    monkeypatch.delenv("HF_HUB_OFFLINE")
    if sources._hub_reachable():
        pytest.skip("huggingface.co is reachable from here; this checks the machine without network")
    error = only_error_line(run(pytester, "--sebench-model=reference"))
    assert repr(DEFAULT_HUB_DATASET) in error and "--sebench-data=PATH" in error


# -- the probe and the source rules, called directly -----------------------------------------------


def test_probe_sees_a_listening_endpoint(monkeypatch):
    with socket.create_server(("127.0.0.1", 0)) as server:
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        assert sources._hub_reachable() is True


def test_probe_sees_a_closed_endpoint(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    assert sources._hub_reachable() is False


def test_probe_has_one_deadline(monkeypatch):
    # a name lookup or connect that takes longer than the probe's time counts as unreachable, even if
    # it would succeed later (the socket timeout alone does not bound the lookup)
    release = threading.Event()

    def slow_connect(address, timeout=None):
        release.wait(10)
        return socket.socket()

    monkeypatch.setattr(sources, "_PROBE_SECONDS", 0.2)
    monkeypatch.setattr(sources.socket, "create_connection", slow_connect)
    try:
        assert sources._hub_reachable() is False
    finally:
        release.set()


@pytest.mark.parametrize("value, offline", [("1", True), ("true", True), ("YES", True), ("0", False),
                                            ("", False)])
def test_offline_flag_spellings(monkeypatch, value, offline):
    monkeypatch.setenv("HF_HUB_OFFLINE", value)
    assert sources._offline() is offline


@pytest.mark.parametrize("source, local", [
    ("jintailin/SE-Bench", False), ("hf:jintailin/SE-Bench", False), ("SE-Bench", False),
    ("./data", True), ("/abs/data", True), ("~/data", True), ("rollouts.jsonl", True),
    ("no/such/folder", True)])
def test_is_local(source, local):
    assert sources.is_local(source) is local


def test_hf_prefix_forces_the_hub_for_an_existing_folder(fixture_data):
    assert sources.is_local(str(fixture_data))
    assert not sources.is_local(f"hf:{fixture_data}")


# -- fetch_hub_docs with an injected fetch ---------------------------------------------------------


@pytest.fixture
def online(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")


def refuse(url: str) -> bytes:
    raise AssertionError(f"fetched {url} although it should not have")


def test_fetch_hub_docs_uses_the_cache(tmp_path, fixture_data):
    shutil.copy(fixture_data / "api_doc.jsonl", tmp_path / "api_doc.jsonl")
    assert sources.fetch_hub_docs(tmp_path, fetch=refuse) == tmp_path / "api_doc.jsonl"


def test_fetch_hub_docs_downloads_once(tmp_path, fixture_data, online):
    asked: list[str] = []

    def fetch(url: str) -> bytes:
        asked.append(url)
        return (fixture_data / "api_doc.jsonl").read_bytes()

    cache = tmp_path / "cache"  # created on demand
    path = sources.fetch_hub_docs(cache, fetch=fetch)
    assert path == cache / "api_doc.jsonl"
    assert path.read_bytes() == (fixture_data / "api_doc.jsonl").read_bytes()
    assert asked == [sources.DOCS_URL]
    assert sources.fetch_hub_docs(cache, fetch=refuse) == path
    assert sorted(p.name for p in cache.iterdir()) == ["api_doc.jsonl"]  # no partial file left


@pytest.mark.parametrize("error", [OSError("Network is unreachable"), TimeoutError("timed out"),
                                   http.client.IncompleteRead(b"{")], ids=["oserror", "timeout",
                                                                           "cut"])
def test_fetch_hub_docs_failure_names_the_docs_option(tmp_path, online, error):
    def fetch(url: str) -> bytes:
        raise error

    with pytest.raises(DataError) as caught:
        sources.fetch_hub_docs(tmp_path / "cache", fetch=fetch)
    assert "--sebench-docs=PATH/api_doc.jsonl" in str(caught.value)
    assert "could not be downloaded" in str(caught.value)
    assert not (tmp_path / "cache" / "api_doc.jsonl").exists()


def test_fetch_hub_docs_does_not_cache_a_wrong_file(tmp_path, online):
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match=r"not an api_doc file.*--sebench-docs="):
        sources.fetch_hub_docs(cache, fetch=lambda url: b"<html>captive portal</html>\n")
    assert list(cache.iterdir()) == []


def test_fetch_hub_docs_offline_does_not_try(tmp_path):
    with pytest.raises(DataError, match=r"offline.*--sebench-docs=PATH/api_doc\.jsonl"):
        sources.fetch_hub_docs(tmp_path, fetch=refuse)
