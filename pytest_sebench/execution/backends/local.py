"""The ``local`` backend: warm sandbox templates on this machine (``sandbox/template.py``).

The first job starts ``python -I sandbox/template.py``: NumPy and the library are imported once,
then every answer runs in a fresh forked child with the isolation layers of ``sandbox/isolate.py``.
Templates are kept warm for the whole session, one job at a time each; concurrent callers (threads)
get a template each, up to ``pool_size``. :meth:`LocalSandbox.close` ends them. Where the machine
lacks a layer (not root, no namespaces, macOS), the backend warns once that it is not a security
boundary and keeps going.
"""

from __future__ import annotations

import os
import platform
import sys
import threading
import warnings
import weakref
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterable

from ..base import Execution, Job, Limits, Sandbox, SandboxBackend, SandboxOptions, ask_a_sandbox, named
from ..stream import ProcessStream, TemplateClient

# The template's environment: no secrets (API keys, tokens) ever reach it or its children.
_ENV_PASSTHROUGH = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
# Folders named by these variables hold caches or data an answer must not read.
_CACHE_VARIABLES = ("XDG_CACHE_HOME", "HF_HOME", "HF_DATASETS_CACHE", "HUGGINGFACE_HUB_CACHE",
                    "TRANSFORMERS_CACHE", "SEBENCH_SHARED_DATA", "PYTEST_DEBUG_TEMPROOT")
_warned = False
_warn_lock = threading.Lock()


class SandboxNotIsolatedWarning(UserWarning):
    """The local sandbox runs without some isolation layer on this machine."""


def template_path() -> Path:
    return Path(str(resources.files("pytest_sebench.sandbox_files").joinpath("template.py")))


def template_environment() -> dict[str, str]:
    env = {name: os.environ[name] for name in _ENV_PASSTHROUGH if name in os.environ}
    # One BLAS thread: answers are small, and threads would count against the process limit.
    env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0", OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def private_paths(extra: Iterable[str] = ()) -> list[str]:
    """Folders to hide from answers: home, the current project, caches and data, plus ``extra``.

    On Linux as root the template hides every non-system top-level folder anyway; this list also
    covers places inside system folders.
    """
    paths = {str(Path.home()), os.environ.get("HOME", ""), os.getcwd(), *extra}
    paths.update(os.environ.get(name, "") for name in _CACHE_VARIABLES)
    return sorted(path for path in paths if path)


def _warn_once(client: TemplateClient) -> None:
    global _warned
    layers = (client.hello or {}).get("layers") or {}
    missing = layers.get("missing") or {}
    with _warn_lock:
        if not missing or _warned:
            return
        _warned = True
    reasons = "; ".join(f"{name}: {why}" for name, why in sorted(missing.items()))
    warnings.warn(SandboxNotIsolatedWarning(
        f"the local sandbox is not a security boundary on this machine (missing layers: {reasons}); "
        "answers still run with resource limits, their own process group and a clean environment"),
        stacklevel=3)


class LocalSandbox(Sandbox):
    name = "local"

    def __init__(self, limits: Limits, python: str | None = None, hide: Iterable[str] = (),
                 isolation: bool = True, pool_size: int | None = None) -> None:
        self.limits = limits
        self.python = python or sys.executable
        self.command = [self.python, "-I", str(template_path())]
        self.command += [option for path in private_paths(hide) for option in ("--hide", path)]
        if not isolation:
            self.command.append("--no-isolation")
        self.pool_size = pool_size or min(4, os.cpu_count() or 1)
        self._idle: list[TemplateClient] = []
        self._all: list[TemplateClient] = []
        self._available = threading.Condition()
        self._finalizer = weakref.finalize(self, _close_all, self._all)

    def execute(self, job: Job) -> Execution:
        return self.submit(job)()

    def submit(self, job: Job) -> Callable[[], Execution]:
        client = self._checkout()
        try:
            collect = client.submit(job)
        except BaseException:
            self._checkin(client)
            raise

        def result() -> Execution:
            try:
                execution = collect()
            finally:
                self._checkin(client)
            _warn_once(client)
            return execution
        return result

    def hello(self) -> dict:
        """What a template says about itself: NumPy and Python versions, isolation layers."""
        client = self._checkout()
        try:
            return client.start()
        finally:
            self._checkin(client)

    def close(self) -> None:
        _close_all(self._all)  # the finalizer stays armed: a later job starts templates again

    def _checkout(self) -> TemplateClient:
        with self._available:
            while not self._idle and len(self._all) >= self.pool_size:
                self._available.wait()
            if self._idle:
                return self._idle.pop()
            client = TemplateClient(self._start, self.limits, name="local")
            self._all.append(client)
            return client

    def _checkin(self, client: TemplateClient) -> None:
        with self._available:
            self._idle.append(client)
            self._available.notify()

    def _start(self) -> ProcessStream:
        return ProcessStream(self.command, template_environment())


def _close_all(clients: list[TemplateClient]) -> None:
    for client in list(clients):
        client.close()


def _runtime(choice: str, options: SandboxOptions) -> dict[str, Any]:
    """The interpreter running pytest runs the answers too, unless --sebench-python names another:
    only then is a template started to ask it."""
    if options.python is None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            numpy: str | None = version("numpy")
        except PackageNotFoundError:
            numpy = None
        return {"numpy": numpy, "python": platform.python_version()}
    return ask_a_sandbox(BACKEND, choice, options)


BACKEND = SandboxBackend(
    name="local", choices="local", accepts=named("local"),
    build=lambda choice, limits, options: LocalSandbox(limits, python=options.python), runtime=_runtime)
