"""Shared test fixtures: where the real SE-Bench data and our own fixture benchmark live."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest

from pytest_sebench.data.jsonl import read_jsonl
from pytest_sebench.data.library import load_library
from pytest_sebench.data.problems import problem_from_row
from pytest_sebench.execution.base import Limits, Sandbox
from pytest_sebench.execution.backends.local import LocalSandbox
from pytest_sebench.execution.registry import backends as registered_backends
from pytest_sebench.execution.registry import create_backend

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]
FIXTURE_DATA = REPO / "fixtures" / "qel"


def pytest_configure(config: pytest.Config) -> None:
    """Generate the fixture benchmark (deterministic, under a second) before anything reads it; on
    the xdist controller only, so workers never see a half-written file.

    Under xdist the default scheduling becomes ``loadgroup``: tests marked ``xdist_group`` (the real
    model server's, which answers one request at a time) share one worker; the rest spread as usual.
    """
    if getattr(config.option, "dist", "no") == "load":
        config.option.dist = "loadgroup"
    if not hasattr(config, "workerinput"):
        subprocess.run([sys.executable, str(REPO / "fixtures" / "build_fixtures.py")], check=True,
                       capture_output=True)


@pytest.fixture(autouse=True)
def no_job_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite may itself run as a GitHub Actions step, whose job summary every plugin run would
    append to (``GITHUB_STEP_SUMMARY`` is the default of ``--sebench-step-summary``): gone from the
    environment of every test, and so of the pytester and script subprocesses it starts."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


def shared_data_dir() -> Path:
    """``../shared/sebench`` beside the checkout, or ``$SEBENCH_SHARED_DATA``."""
    override = os.environ.get("SEBENCH_SHARED_DATA")
    return Path(override) if override else REPO.parent / "shared" / "sebench"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not (path / "single_test.jsonl").is_file():
        pytest.skip(f"real SE-Bench data not found at {path} (set SEBENCH_SHARED_DATA, or place the "
                    "shared/ folder beside the checkout)")
    return path


@pytest.fixture(scope="session")
def fixture_data() -> Path:
    return FIXTURE_DATA


@pytest.fixture(scope="module")
def library(fixture_data):
    """The fixture benchmark's library (``qel``)."""
    return load_library(fixture_data / "api_doc.jsonl")


@pytest.fixture(scope="module")
def balance(fixture_data):
    """The fixture benchmark's first single_test problem."""
    return problem_from_row(next(read_jsonl(fixture_data / "single_test.jsonl")), "single_test", 0)


def read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- sandbox backends under test

@dataclass(frozen=True)
class SandboxBackend:
    """A backend the shared sandbox suites (test_hostile.py, test_conformance.py) run against.

    ``make(limits)`` returns a new sandbox (it may call ``pytest.skip`` when the backend cannot run
    here, e.g. no container engine); ``layers(sandbox)`` says which isolation layers are in force
    (``network``, ``mounts``, ``user``): hostile answers that need one skip with the reason.
    """

    name: str
    make: Callable[[Limits], Sandbox]
    layers: Callable[[Sandbox], dict]


def _local_layers(sandbox: Sandbox) -> dict:
    return dict(sandbox.hello()["layers"])  # type: ignore[attr-defined]


def _local(limits: Limits) -> Sandbox:
    return LocalSandbox(limits)


def _docker(limits: Limits) -> Sandbox:
    from test_docker_backend import docker_sandbox  # skips where no Docker engine answers

    return docker_sandbox(limits)


def _docker_layers(sandbox: Sandbox) -> dict:
    from test_docker_backend import docker_layers

    return docker_layers(sandbox)


def _url(limits: Limits) -> Sandbox:
    from test_url_backend import url_sandbox  # the url backend against the test double of the service

    return url_sandbox(limits)


def _url_layers(sandbox: Sandbox) -> dict:
    from test_url_backend import url_layers

    return url_layers(sandbox)


# How the suites build a registered backend here, where the default (its name as the
# --sebench-sandbox value, no isolation layer claimed) would not do.
TEST_DOUBLES = {"local": SandboxBackend("local", _local, _local_layers),
                "docker": SandboxBackend("docker", _docker, _docker_layers),
                "url": SandboxBackend("url", _url, _url_layers)}


def _as_registered(name: str) -> SandboxBackend:
    def make(limits: Limits) -> Sandbox:
        return create_backend(name, limits)
    return SandboxBackend(name, make, lambda sandbox: {})


# Every backend of the registry (built-in, or added by an installed package) runs the shared suites.
sandbox_backends: list[SandboxBackend] = [TEST_DOUBLES.get(backend.name) or _as_registered(backend.name)
                                          for backend in registered_backends()]


class BackendUnderTest:
    """One backend for one test module: a warm sandbox per limits, closed at the end."""

    def __init__(self, backend: SandboxBackend) -> None:
        self.backend = backend
        self.name = backend.name
        self._sandboxes: dict[Limits, Sandbox] = {}

    def sandbox(self, limits: Limits) -> Sandbox:
        if limits not in self._sandboxes:
            self._sandboxes[limits] = self.backend.make(limits)
        return self._sandboxes[limits]

    def require(self, *layers: str) -> None:
        if not layers:
            return
        active = self.backend.layers(self.sandbox(Limits()))
        missing = [layer for layer in layers if not active.get(layer)]
        if missing:
            pytest.skip(f"the {self.name} sandbox lacks the {', '.join(missing)} layer(s) here "
                        f"({(active.get('missing') or {})})")

    def close(self) -> None:
        for sandbox in self._sandboxes.values():
            sandbox.close()


@pytest.fixture(scope="module", params=[backend.name for backend in sandbox_backends])
def backend(request) -> Iterator[BackendUnderTest]:
    chosen = next(backend for backend in sandbox_backends if backend.name == request.param)
    under_test = BackendUnderTest(chosen)
    yield under_test
    under_test.close()
