"""pytest entry point: registers the options and, when SE-Bench is on, the hooks of this process's roles.

Loaded by every pytest run in a repository that has the plugin installed, so it imports nothing
heavy: without ``--sebench-model`` or ``--sebench-rollouts`` it only registers its options and
markers. When active, the worker's hooks collect and grade the items and the controller's gather
them (``roles/``); a process without xdist has both roles.
"""

from __future__ import annotations

import pytest

from . import settings as settings_module

_MARKERS = {
    "sebench": "an SE-Bench problem graded by pytest-sebench",
    "single_test": "SE-Bench problem from the single_test split",
    "multiple_test": "SE-Bench problem from the multiple_test split",
    "train": "SE-Bench problem from the train split",
    "rollouts": "a line of a graded rollout file",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    settings_module.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    for name, text in _MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    settings = settings_module.resolve(config)
    if not settings.active:
        return
    from .startup import open_run, roles_of

    opened = open_run(config, settings, roles_of(config))
    if opened.session is not None:
        from .roles.controller import ControllerHooks, XdistControllerHooks

        config.pluginmanager.register(ControllerHooks(opened.session, config), "sebench-controller")
        if config.pluginmanager.hasplugin("xdist"):
            config.pluginmanager.register(XdistControllerHooks(opened.session), "sebench-xdist-controller")
    if opened.grader is not None:  # after the controller's: see WorkerHooks.pytest_sessionfinish
        from .roles.worker import WorkerHooks

        config.pluginmanager.register(WorkerHooks(opened.grader, config), "sebench-worker")
