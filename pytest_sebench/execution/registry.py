"""Sandbox backends, found by name: the built-in ones and those other packages add.

Each backend is one module that declares a :class:`SandboxBackend` named ``BACKEND``: which
``--sebench-sandbox`` values it takes, its preflight check (run once, before any item, so a missing
engine is one clear message rather than an ERROR per item) and how to build it. Built-in backends are
the modules of ``pytest_sebench/execution/backends/``: a new one is a new file there. Other packages
add theirs through the entry-point group ``pytest_sebench.sandboxes`` (the entry point names the
``SandboxBackend`` object). Settings validation, the plugin's preflight and the conformance suite
all read this registry.

Importing a backend module must stay cheap (no SDK at module level): the registry imports every one
to read its declaration.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache
from importlib.metadata import entry_points
from .base import Limits, Sandbox, SandboxBackend, SandboxOptions

ENTRY_POINT_GROUP = "pytest_sebench.sandboxes"


@lru_cache(maxsize=1)
def backends() -> tuple[SandboxBackend, ...]:
    """Every backend: the built-in modules in name order, then those of installed packages."""
    from . import backends as package

    found = [importlib.import_module(f"{package.__name__}.{module.name}").BACKEND
             for module in sorted(pkgutil.iter_modules(package.__path__), key=lambda module: module.name)]
    found += [entry.load() for entry in entry_points(group=ENTRY_POINT_GROUP)]
    return tuple(found)


def backend_for(choice: str) -> SandboxBackend | None:
    """The first backend that takes this ``--sebench-sandbox`` value (built-in ones first)."""
    return next((backend for backend in backends() if backend.accepts(choice)), None)


def expected_choices() -> str:
    """``local, docker or an http(s):// URL of a remote sandbox``: what the option takes."""
    names = [backend.choices for backend in backends()]
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]


def create_backend(choice: str, limits: Limits, options: SandboxOptions = SandboxOptions()) -> Sandbox:
    backend = backend_for(choice)
    if backend is None:
        raise LookupError(f"no sandbox backend takes {choice!r}; expected {expected_choices()}")
    return backend.build(choice, limits, options)
