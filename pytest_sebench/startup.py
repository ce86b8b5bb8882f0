"""Everything a run is built from, checked before its first item: each bad input is one clear
``pytest.UsageError`` naming the option and where its value came from.

A process has one or both roles (``roles/``): the worker grades items, the controller gathers them.
:func:`open_run` builds what each role of this process needs, each whole, before the run starts.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import pytest

from .data.benchmark import Benchmark, load_benchmark
from .data.jsonl import DataError
from .execution.base import SandboxOptions, SandboxUnavailable
from .execution.registry import backend_for
from .gate.baseline import ReportFileError, RunReport, load_run_report
from .gate.comparable import compare_provenance, dataset_differences
from .gate.evaluation import GateSettings
from .gate.outcomes import Policy
from .grading import ItemGrader
from .model.answers import AnswerSource
from .model.factory import answer_cache_root, answer_source
from .prompt.templates import PromptBuilder, TemplateError
from .report.outputs import unwritable
from .session import RunFacts, SebenchSession, run_provenance
from .settings import OPTION_BY_KEY, Settings


@dataclass(frozen=True)
class Roles:
    controller: bool  # gathers the records, writes the outputs (not an xdist worker)
    worker: bool  # collects and grades the items (not an xdist controller)


def roles_of(config: pytest.Config) -> Roles:
    if hasattr(config, "workerinput"):
        return Roles(controller=False, worker=True)
    # xdist hands the items to workers unless it is off (-n0, -p no:xdist) or only collecting
    distributed = (config.pluginmanager.hasplugin("xdist") and config.getoption("dist", "no") != "no"
                   and not config.option.collectonly)
    return Roles(controller=True, worker=not distributed)


@dataclass(frozen=True)
class OpenedRun:
    session: SebenchSession | None  # the controller's
    grader: ItemGrader | None  # the worker's


def open_run(config: pytest.Config, settings: Settings, roles: Roles) -> OpenedRun:
    if roles.controller and (problems := unwritable(settings)):  # before the run spends its time
        raise pytest.UsageError(problems[0])
    baseline = _read_report(settings, "baseline")
    only_solved_by = _read_report(settings, "only_solved_by")
    benchmark = _load_benchmark(config, settings)
    if roles.controller:
        _preflight(settings)
    run_id = _run_id(config)
    answers = answer_source(settings, benchmark.library, _prompts(settings),
                            cache_root=answer_cache_root(settings, _cache_dir(config) / "answers", run_id),
                            run_id=run_id, workers=int(getattr(config, "workerinput", {}).get("workercount", 1)))
    policy = Policy(has_baseline=baseline is not None, alpha=settings.alpha,
                    regressions_fail=settings.regressions == "fail",
                    gated_by_accuracy=baseline is None and settings.fail_under is not None,
                    baseline_label=baseline.label if baseline is not None else "the baseline")
    grader = ItemGrader(settings, benchmark, answers, policy, baseline, only_solved_by) if roles.worker else None
    session = None
    if roles.controller:
        runtime = _sandbox_runtime(settings) if settings.report or baseline or only_solved_by else {}
        warnings, notes = _checks(settings, benchmark, answers, baseline, only_solved_by, runtime)
        facts = RunFacts(settings, benchmark, answers, run_id, policy,
                         GateSettings(settings.fail_under, settings.max_drop, settings.alpha),
                         baseline=baseline, only_solved_by=only_solved_by, warnings=warnings, notes=notes,
                         junit_item_properties=_junit_family(config) in ("xunit1", "legacy"),
                         sandbox_runtime=runtime)
        session = SebenchSession(facts)
    return OpenedRun(session, grader)


def _checks(settings: Settings, benchmark: Benchmark, answers: AnswerSource, baseline: RunReport | None,
            only_solved_by: RunReport | None, runtime: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The baseline's comparability warnings, and the notes shown at the top and the end of the run."""
    notes = [*benchmark.warnings, *answers.start_notes()]  # one request to a served model
    if baseline is None and only_solved_by is None:
        return (), tuple(notes)
    facts = run_provenance(settings, benchmark, answers.facts(), runtime)  # computed once: a git call
    if only_solved_by is not None:
        notes += [f"--sebench-only-solved-by={settings.only_solved_by}: {difference}; items are matched by "
                  "id anyway" for difference in dataset_differences(only_solved_by.provenance, facts)]
    if baseline is None:
        return (), tuple(notes)
    refusals, warnings = compare_provenance(baseline.provenance, facts)
    if refusals and not settings.baseline_force:
        raise pytest.UsageError(
            f"--sebench-baseline={settings.baseline} (from {settings.source_of('baseline')}) is not comparable "
            f"with this run: {'; '.join(refusals)}. Pass --sebench-baseline-force to compare anyway")
    return tuple(refusals + warnings), tuple(notes)


def _read_report(settings: Settings, key: str) -> RunReport | None:
    path = getattr(settings, key)
    if path is None:
        return None
    try:
        return load_run_report(Path(path))
    except ReportFileError as error:
        raise pytest.UsageError(f"{OPTION_BY_KEY[key].flag} (from {settings.source_of(key)}): {error}") from None


def _load_benchmark(config: pytest.Config, settings: Settings) -> Benchmark:
    try:
        return load_benchmark(data=settings.data, docs=settings.docs, splits=settings.split,
                              splits_explicit="split" in settings.explicit, rollouts=settings.rollouts,
                              cache_dir=_cache_dir(config))
    except DataError as error:
        raise pytest.UsageError(str(error)) from None


def _prompts(settings: Settings) -> PromptBuilder:
    try:
        return PromptBuilder.create(settings.mode, settings.prompt)
    except TemplateError as error:
        raise pytest.UsageError(f"--sebench-prompt (from {settings.source_of('prompt')}): {error}") from None


def _preflight(settings: Settings) -> None:
    """No engine, no image, a service that is down: one clear message now, not an ERROR per item."""
    backend = backend_for(settings.sandbox)
    assert backend is not None  # the setting was checked against the registry
    try:
        backend.preflight(settings.sandbox)
    except SandboxUnavailable as error:
        raise pytest.UsageError(f"--sebench-sandbox={settings.sandbox} (from {settings.source_of('sandbox')}): "
                                f"{error}") from None


def _sandbox_runtime(settings: Settings) -> dict[str, Any]:
    """The NumPy and Python the answers will run with, for the report's provenance and the baseline's
    check (a sandbox that cannot say leaves them unknown: its items will say why)."""
    backend = backend_for(settings.sandbox)
    assert backend is not None
    try:
        return backend.runtime_of(settings.sandbox, SandboxOptions(python=settings.python))
    except SandboxUnavailable:
        return {}


def _run_id(config: pytest.Config) -> str:
    """One id for the whole run, the same in every xdist worker (the controller hands it over in
    ``pytest_configure_node``): claims and scratch folders use it."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        return str(workerinput["sebench_run_id"])
    return uuid.uuid4().hex


def _cache_dir(config: pytest.Config) -> Path:
    cache = getattr(config, "cache", None)  # absent with -p no:cacheprovider
    return Path(cache.mkdir("sebench")) if cache is not None else config.rootpath / ".sebench-cache"


def _junit_family(config: pytest.Config) -> str:
    try:
        return str(config.getini("junit_family"))
    except ValueError:  # -p no:junitxml: the key is not registered
        return "xunit2"
