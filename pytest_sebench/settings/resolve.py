"""Resolve every option of the table: command line, then environment, then ini file (``-o`` included).

A bad value raises ``pytest.UsageError`` naming the option and where the value came from, so the user
sees one line instead of a traceback.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from .table import FALLBACK_ENV, OPTIONS, Option, Settings
from .parsers import SettingError


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("sebench", "SE-Bench: grade a model's use of a library it has internalized")
    for option in OPTIONS:
        where = f"(env {option.env_var}, ini {option.ini_key})"
        if option.flag_only:
            group.addoption(option.flag, dest=option.dest, default=None, action="store_const",
                            const="true", help=f"{option.help} {where}")
        else:
            group.addoption(option.flag, dest=option.dest, default=None, metavar=option.metavar,
                            help=f"{option.help} {where}")
        parser.addini(option.ini_key, option.help, default=None)


def _raw_value(config: pytest.Config, option: Option) -> tuple[str | None, str]:
    cli = config.getoption(option.dest)
    if cli is not None:
        # the messages already name the option; say where the value came from
        return str(cli), "the command line"
    env = os.environ.get(option.env_var)
    if env is not None and env != "":
        return env, f"environment variable {option.env_var}"
    for override in reversed(config.getoption("override_ini") or ()):  # the last -o KEY=VALUE wins
        key, _, value = str(override).partition("=")
        if key.strip() == option.ini_key:
            return (value, f"-o {option.ini_key} on the command line") if value.strip() else (None, "the default")
    ini = config.getini(option.ini_key)
    if ini not in (None, "", []):
        return str(ini), f"ini key {option.ini_key} in {config.inipath}"
    fallback = FALLBACK_ENV.get(option.key)
    if fallback and os.environ.get(fallback):
        return os.environ[fallback], f"environment variable {fallback}"
    return None, "the default"


def resolve(config: pytest.Config) -> Settings:
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for option in OPTIONS:
        raw, source = _raw_value(config, option)
        if raw is None:
            continue  # the field's default
        try:
            values[option.key] = option.parse(raw)
        except SettingError as error:
            shown = "(hidden)" if option.secret else repr(raw)
            raise pytest.UsageError(f"invalid value {shown} for {option.flag} (from {source}): {error}") from None
        sources[option.key] = source
    settings = Settings(**values, sources=sources, explicit=frozenset(values))
    _check_combinations(settings)
    return settings


def _check_combinations(settings: Settings) -> None:
    if settings.max_drop is not None and settings.baseline is None:
        raise pytest.UsageError(
            f"--sebench-max-drop (from {settings.source_of('max_drop')}) compares with a baseline: "
            "pass --sebench-baseline=REPORT too")
    if settings.model is not None and settings.rollouts is not None:
        raise pytest.UsageError(
            f"--sebench-model (from {settings.source_of('model')}) and --sebench-rollouts (from "
            f"{settings.source_of('rollouts')}) exclude each other: a rollout file already holds the "
            "answers; pass one of them")
