"""pytest entry point: thin hooks that hand over to :class:`SebenchSession`.

Loaded by every pytest run in a repository that has the plugin installed, so it imports nothing
heavy: without ``--sebench-model`` or ``--sebench-rollouts`` it only registers its options and
markers. When active, it registers :class:`ActiveHooks` and the real work starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from . import settings as settings_module

if TYPE_CHECKING:
    from .gate.baseline import RunReport
    from .session import SebenchSession

SESSION_KEY = pytest.StashKey["SebenchSession"]()
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
    resolved = settings_module.resolve(config)
    if not resolved.active:
        return
    state = _start_session(config, resolved)
    config.stash[SESSION_KEY] = state
    config.pluginmanager.register(ActiveHooks(state, config), "sebench-active")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistHooks(state), "sebench-xdist")


def _start_session(config: pytest.Config, resolved: settings_module.Settings) -> "SebenchSession":
    from .data.benchmark import load_benchmark
    from .data.jsonl import DataError
    from .model.factory import answer_cache_root, answer_source
    from .prompt.templates import PromptBuilder, TemplateError
    from .report.json_report import check_writable
    from .session import SebenchSession

    for name in ("report", "save_correct"):  # before the run spends its time, not after
        if resolved[name] is not None and (problem := check_writable(Path(resolved[name]))):
            raise pytest.UsageError(f"--sebench-{name.replace('_', '-')}={resolved[name]} (from "
                                    f"{resolved.source_of(name)}): {problem}")
    baseline = _read_report_option(resolved, "baseline")
    try:
        benchmark = load_benchmark(
            data=resolved["data"], docs=resolved["docs"], splits=resolved["split"],
            splits_explicit="split" in resolved.explicit, rollouts=resolved["rollouts"],
            cache_dir=_cache_dir(config))
    except DataError as error:
        raise pytest.UsageError(str(error)) from None
    notes = list(benchmark.warnings)  # shown at the top and the end of the run (see ActiveHooks)
    if resolved["sandbox"] == "docker" and not _is_worker(config):
        _check_docker(resolved)
    if resolved["sandbox"].startswith(("http://", "https://")) and not _is_worker(config):
        _check_url(resolved)
    try:
        prompts = PromptBuilder.create(resolved["mode"], resolved["prompt"])
    except TemplateError as error:
        raise pytest.UsageError(f"--sebench-prompt (from {resolved.source_of('prompt')}): {error}") from None
    run_id = _run_id(config)
    answers = answer_source(resolved, benchmark.library, prompts,
                            cache_root=answer_cache_root(resolved, _cache_dir(config) / "answers", run_id),
                            run_id=run_id, workers=_worker_count(config))
    state = SebenchSession.create(resolved, benchmark, answers, run_id, baseline)
    if not _is_worker(config):  # one request to the server, before anything is graded
        notes += answers.start_notes()
    state.only_solved_by = _read_report_option(resolved, "only_solved_by")
    # what this run is made of, for the checks against other reports (computed once: a git call)
    facts = state.provenance(state.answers.facts()) if (
        state.only_solved_by is not None or baseline is not None) and not _is_worker(config) else None
    if state.only_solved_by is not None and facts is not None:
        from .gate.comparable import dataset_differences

        notes += [f"--sebench-only-solved-by={resolved['only_solved_by']}: {difference}; items are matched "
                  "by id anyway" for difference in dataset_differences(state.only_solved_by.provenance, facts)]
    state.junit_item_properties = _junit_family(config) in ("xunit1", "legacy")
    if baseline is not None and facts is not None:
        state.warnings = _check_comparable(resolved, facts, baseline)  # shown with the comparison
    state.notes = notes
    return state


def _read_report_option(resolved: settings_module.Settings, name: str) -> "RunReport | None":
    from .gate.baseline import ReportFileError, load_run_report

    if resolved[name] is None:
        return None
    try:
        return load_run_report(Path(resolved[name]))
    except ReportFileError as error:
        raise pytest.UsageError(f"--sebench-{name.replace('_', '-')} (from {resolved.source_of(name)}): "
                                f"{error}") from None


def _check_comparable(resolved: settings_module.Settings, facts: dict[str, Any],
                      baseline: "RunReport") -> list[str]:
    """Refuse a baseline made from other problems or another prompt; warn about lesser differences."""
    from .gate.comparable import compare_provenance

    refusals, warnings = compare_provenance(baseline.provenance, facts)
    if refusals and not resolved["baseline_force"]:
        raise pytest.UsageError(
            f"--sebench-baseline={resolved['baseline']} (from {resolved.source_of('baseline')}) is not "
            f"comparable with this run: {'; '.join(refusals)}. Pass --sebench-baseline-force to compare "
            "anyway")
    return refusals + warnings


def _junit_family(config: pytest.Config) -> str:
    try:
        return str(config.getini("junit_family"))
    except ValueError:  # -p no:junitxml: the key is not registered
        return "xunit2"


def _check_docker(resolved: settings_module.Settings) -> None:
    """No engine or no image: one clear message now, rather than an ERROR per item later."""
    from .execution.base import SandboxUnavailable

    try:
        from .execution.docker_backend import check
    except ImportError:
        raise pytest.UsageError("--sebench-sandbox=docker needs the docker SDK: pip install "
                                "'pytest-sebench[docker]'") from None
    try:
        check()
    except SandboxUnavailable as error:
        raise pytest.UsageError(f"--sebench-sandbox=docker (from {resolved.source_of('sandbox')}): "
                                f"{error}") from None


def _check_url(resolved: settings_module.Settings) -> None:
    """A remote sandbox that is down or does not run our runner: one clear message now."""
    from .execution.base import SandboxUnavailable
    from .execution.url_backend import check

    try:
        check(resolved["sandbox"])
    except SandboxUnavailable as error:
        raise pytest.UsageError(f"--sebench-sandbox={resolved['sandbox']} (from "
                                f"{resolved.source_of('sandbox')}): {error}") from None


def _run_id(config: pytest.Config) -> str:
    """One id for the whole run, the same in every xdist worker (claims and scratch folders use it)."""
    import uuid

    if _is_worker(config):
        return str(config.workerinput["testrunuid"])  # type: ignore[attr-defined]
    if config.pluginmanager.hasplugin("xdist") and getattr(config.option, "testrunuid", None) is None:
        config.option.testrunuid = uuid.uuid4().hex  # xdist hands it to every worker
    return getattr(config.option, "testrunuid", None) or uuid.uuid4().hex


def _worker_count(config: pytest.Config) -> int:
    if _is_worker(config):
        return int(config.workerinput.get("workercount", 1))  # type: ignore[attr-defined]
    return 1


def _cache_dir(config: pytest.Config) -> Path:
    cache = getattr(config, "cache", None)  # absent with -p no:cacheprovider
    return Path(cache.mkdir("sebench")) if cache is not None else config.rootpath / ".sebench-cache"


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


class ActiveHooks:
    """The hooks that exist only when SE-Bench items are on."""

    def __init__(self, state: "SebenchSession", config: pytest.Config) -> None:
        self.state = state
        self.config = config
        self.progress: Any = None  # the live display or the progress lines (model/progress.py)

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if not _is_worker(self.config) and self.state.answers.counters is not None:  # a served model
            from .model.progress import start_progress

            self.progress = start_progress(
                self.config, self.state.settings["progress"], self.state.run_id,
                self.state.settings["progress_interval"], graded=lambda: len(self.state.records),
                selected=lambda: len(self.state.selected) or None)  # known once collected

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        benchmark = self.state.benchmark
        lines = [f"sebench: model={self.state.answers.label} data={benchmark.data_source} "
                 f"library={benchmark.library.name} problems={len(benchmark.problems)} "
                 f"sandbox={self.state.sandbox_name} timeout={self.state.limits.timeout_seconds:g}s"]
        if self.state.baseline is not None:
            lines.append(f"sebench: baseline {self.state.baseline.label} ({self.state.baseline.path}, "
                         f"{len(self.state.baseline.items)} items)")
        if self.state.only_solved_by is not None:
            lines.append(f"sebench: {self.state.selection_note()}")
        if (subset := self.state.subset()) is not None:
            lines.append(f"sebench: a stable random subset of at most {subset['limit']} problems per split "
                         f"(--sebench-limit={subset['limit']}, --sebench-seed={subset['seed']})")
        lines += [f"sebench: WARNING: {note}" for note in self.state.notes]
        return lines

    def pytest_ignore_collect(self, collection_path: Path, config: pytest.Config) -> bool | None:
        # `pytest --sebench-model=X` runs the benchmark, not the repository's own tests; paths given
        # explicitly on the command line are still collected.
        if config.args_source != pytest.Config.ArgsSource.ARGS:
            return True
        return None

    @pytest.hookimpl(tryfirst=True)  # before -k / -m deselect, so they apply to our items too
    def pytest_collection_modifyitems(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        from .items import SebenchCollector

        collector = SebenchCollector.from_parent(session, name="sebench", nodeid="sebench",
                                                state=self.state)
        ours = collector.collect()
        kept = self.state.select(ours)
        if len(kept) < len(ours):
            dropped = set(map(id, ours)) - set(map(id, kept))
            self.config.hook.pytest_deselected(items=[item for item in ours if id(item) in dropped])
        items[:0] = kept

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """The selection is final (after -k/-m): a served model starts asking for exactly these."""
        from .items import SebenchItem

        if session.config.option.collectonly:
            return
        ours = [item for item in session.items if isinstance(item, SebenchItem)]
        self.state.selected = [item.nodeid for item in ours]
        self.state.answers.prepare([item.problem for item in ours])

    @pytest.hookimpl(tryfirst=True)  # before junitxml reads the properties
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not _is_worker(self.config):  # workers must send the record on, untouched
            self.state.observe(report)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        from .report.json_report import ReportError

        if _is_worker(session.config):
            self.state.answers.close()  # waits for requests in flight, so the counts are final
            counters = self.state.answers.counters
            if counters is not None:  # the controller adds every worker's counts up
                session.config.workeroutput["sebench_requests"] = counters.to_json()  # type: ignore[attr-defined]
            return
        if self.progress is not None:  # erased before anything of the summary is written
            self.progress.stop()
        self.state.account_for_the_rest()
        evaluation = self.state.evaluation()
        _add_junit_session_properties(session.config, self.state)
        for name, write in (("report", self.state.write_report), ("save_correct", self.state.write_correct)):
            if self.state.settings[name] is not None:
                try:
                    write(Path(self.state.settings[name]))
                except ReportError as error:
                    session.config.stash[_REPORT_ERROR] = str(error)
                    session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
        failed = evaluation.summary.overall.errors or evaluation.failed_gates
        if failed and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any, config: pytest.Config) -> None:
        if _is_worker(config):
            return
        writer = config.get_terminal_writer()
        terminalreporter.write_sep("=", "SE-Bench summary")
        summary = self.state.evaluation().summary
        from .report.summary import render_summary
        terminalreporter.write(render_summary(summary, width=writer.fullwidth, color=writer.hasmarkup))
        from .report.terminal import NextSteps, render_evaluation

        settings = self.state.settings
        inherited = tuple((f"--sebench-{name.replace('_', '-')}", settings.source_of(name))
                          for name in ("report", "save_correct")
                          if settings[name] is not None and settings.source_of(name) != "the command line")
        steps = NextSteps(tuple(config.invocation_params.args), settings["report"], settings["baseline"],
                          errors=summary.overall.errors, inherited_outputs=inherited)
        terminalreporter.write(render_evaluation(self.state.evaluation(), steps, width=writer.fullwidth,
                                                 color=writer.hasmarkup))
        if (requests := self.state.requests_line()) is not None:
            terminalreporter.write_line(requests)
        for note in self.state.notes:  # again at the end, where a CI log is read first
            terminalreporter.write_line(f"WARNING: {note}", yellow=True)
        if _REPORT_ERROR in config.stash:
            terminalreporter.write_line(f"ERROR: {config.stash[_REPORT_ERROR]}", red=True)
        elif self.state.settings["report"] is not None:
            terminalreporter.write_line(f"report written to {self.state.settings['report']}")

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.progress is not None:  # in case sessionfinish never ran (stop() is idempotent)
            self.progress.stop()
        self.state.close()
        if not _is_worker(config) and self.state.settings["cache"] == "off":
            import shutil

            from .model.scratch import run_scratch

            shutil.rmtree(run_scratch(self.state.run_id), ignore_errors=True)


def _add_junit_session_properties(config: pytest.Config, state: "SebenchSession") -> None:
    """Accuracy per split and the gates' verdicts as <testsuite> properties of the JUnit XML.

    ``record_testsuite_property`` is a fixture, so under xdist it runs on a worker and the controller,
    which writes the XML, never sees it. The controller's junitxml plugin object accepts global
    properties directly; it is found by that public method, not by importing pytest internals.
    """
    writers = [plugin for plugin in config.pluginmanager.get_plugins()
               if callable(getattr(plugin, "add_global_property", None))]
    if not writers:  # no --junitxml
        return
    evaluation = state.evaluation()
    properties: list[tuple[str, object]] = [
        (f"sebench_accuracy_{name}", f"{stats.accuracy:.6f}")
        for name, stats in [*evaluation.summary.splits.items(), ("overall", evaluation.summary.overall)]]
    properties += [(f"sebench_gate_{gate.name.replace(' ', '_')}", "pass" if gate.passed else "fail")
                   for gate in evaluation.gates]
    properties += [("sebench_regressions", len(evaluation.comparison.regressions)),
                   ("sebench_model", state.answers.label)]
    for writer in writers:
        for name, value in properties:
            writer.add_global_property(name, value)


class XdistHooks:
    """Registered only when pytest-xdist is installed (its hooks are unknown to pytest otherwise)."""

    def __init__(self, state: "SebenchSession") -> None:
        self.state = state

    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """The controller collects nothing: a worker's selection (all the same) is the run's."""
        from .report.records import NODE_PREFIX

        if not self.state.selected:  # every worker collects the same items
            self.state.selected = [nodeid for nodeid in ids if nodeid.startswith(NODE_PREFIX)]

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        counts = getattr(node, "workeroutput", {}).get("sebench_requests")
        if counts and self.state.answers.counters is not None:
            self.state.answers.counters.add(counts)


_REPORT_ERROR = pytest.StashKey[str]()
