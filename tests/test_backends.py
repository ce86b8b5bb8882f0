"""The sandbox backend registry: the built-in backends, one added by another package through the
``pytest_sebench.sandboxes`` entry-point group, and what the option and the preflight make of them."""

from __future__ import annotations

import textwrap

import pytest

from pytest_sebench.execution.base import Limits
from pytest_sebench.execution.registry import backend_for, backends, create_backend, expected_choices

EXTRA_MODULE = '''
from pytest_sebench.execution.backends.local import LocalSandbox
from pytest_sebench.execution.base import SandboxBackend, SandboxUnavailable


class Borrowed(LocalSandbox):
    name = "borrowed"

    def hello(self):  # a sandbox whose NumPy is not pytest's
        return {**super().hello(), "numpy": "9.9.9-borrowed"}


def preflight(choice):
    if choice.endswith("-down"):
        raise SandboxUnavailable("the borrowed service is down; start it with `borrow up`")


BACKEND = SandboxBackend(name="borrowed", choices="borrowed[-down]",
                         accepts=lambda choice: choice in ("borrowed", "borrowed-down"),
                         build=lambda choice, limits, options: Borrowed(limits), preflight=preflight)
'''


def test_built_in_backends_are_found():
    assert [backend.name for backend in backends()][:3] == ["docker", "local", "url"]
    assert backend_for("local").name == "local"
    assert backend_for("https://sandbox.example/run").name == "url"
    assert backend_for("podman") is None
    assert "local" in expected_choices() and "http(s):// URL" in expected_choices()


def test_create_backend_builds_the_chosen_one():
    sandbox = create_backend("local", Limits())
    try:
        assert sandbox.name == "local"
    finally:
        sandbox.close()
    with pytest.raises(LookupError, match="no sandbox backend takes 'podman'"):
        create_backend("podman", Limits())


@pytest.fixture
def extra_package(pytester, monkeypatch):
    """An installed package (a module and its dist-info on the path) that adds a backend."""
    pytester.makepyfile(sebench_borrowed=textwrap.dedent(EXTRA_MODULE))
    info = pytester.mkdir("sebench_borrowed-1.0.dist-info")
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sebench-borrowed\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[pytest_sebench.sandboxes]\nborrowed = sebench_borrowed:BACKEND\n")
    monkeypatch.setenv("PYTHONPATH", str(pytester.path))


def run(pytester: pytest.Pytester, fixture_data, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:randomly", "--sebench-model=reference",
                                         f"--sebench-data={fixture_data}", "--sebench-split=multiple_test", *args)


@pytest.mark.parametrize("workers", ["-n0", "-n2"])
def test_a_package_adds_a_backend(pytester, fixture_data, extra_package, workers):
    result = run(pytester, fixture_data, "--sebench-sandbox=borrowed", workers)
    result.assert_outcomes(passed=18)
    result.stdout.fnmatch_lines(["sebench: *sandbox=borrowed *"])


def test_its_preflight_is_one_usage_error(pytester, fixture_data, extra_package):
    result = run(pytester, fixture_data, "--sebench-sandbox=borrowed-down")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --sebench-sandbox=borrowed-down (from the command line): the borrowed "
                                 "service is down; start it with `borrow up`"])
    assert "Traceback" not in result.stderr.str()


def test_an_unknown_backend_lists_every_choice(pytester, fixture_data, extra_package):
    result = run(pytester, fixture_data, "--sebench-sandbox=podman")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: invalid value 'podman' for --sebench-sandbox (from the command line): "
                                 "expected docker, local, an http(s):// URL of a remote sandbox or borrowed[-down]"])


def test_the_report_records_the_sandboxs_numpy(pytester, fixture_data, extra_package):
    """The answers ran on the sandbox's NumPy, not on pytest's: the report says which, and a baseline
    made on another one is compared with a warning that says so."""
    import json

    local, borrowed = pytester.path / "local.json", pytester.path / "borrowed.json"
    run(pytester, fixture_data, f"--sebench-report={local}").assert_outcomes(passed=18)
    result = run(pytester, fixture_data, "--sebench-sandbox=borrowed", f"--sebench-report={borrowed}",
                 f"--sebench-baseline={local}")
    result.assert_outcomes(passed=18)
    host = json.loads(local.read_text())["provenance"]["numpy"]
    assert host and host != "9.9.9-borrowed"
    assert json.loads(borrowed.read_text())["provenance"]["numpy"] == "9.9.9-borrowed"
    result.stdout.fnmatch_lines([f"*the NumPy version differs (baseline {host}, now 9.9.9-borrowed)*"])
