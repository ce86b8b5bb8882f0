"""The controller's hooks: the header, progress, gathering the records, the summary, the exit status."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from ..records.properties import NODE_PREFIX
from ..session import SebenchSession


class ControllerHooks:
    def __init__(self, session: SebenchSession, config: pytest.Config) -> None:
        self.session = session
        self.config = config
        self.progress: Any = None  # the live display or the progress lines (model/progress.py)

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        facts = self.session.facts
        if facts.model.counters is not None and not session.config.option.collectonly:  # a served model
            from ..model.progress import start_progress

            self.progress = start_progress(
                self.config, facts.settings.progress, facts.run_id, facts.settings.progress_interval,
                graded=lambda: len(self.session.records),
                selected=lambda: len(self.session.selected) or None)  # known once collected

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        from .texts import header_lines

        return header_lines(self.session.facts)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """-n0: the items to account for (under xdist, the workers' collection says, see below)."""
        self.session.selected = [item.nodeid for item in session.items if item.nodeid.startswith(NODE_PREFIX)]

    @pytest.hookimpl(tryfirst=True)  # before junitxml reads the properties
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.session.observe(report)

    @pytest.hookimpl(tryfirst=True)  # the exit status is set before pytest reports it
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.progress is not None:  # erased before anything of the summary is written
            self.progress.stop()
        if session.config.option.collectonly:
            return  # nothing was graded: no summary, no outputs
        session.exitstatus = self.session.finish(int(session.exitstatus))
        from .junit import add_session_properties

        add_session_properties(session.config, self.session)

    def pytest_terminal_summary(self, terminalreporter: Any, config: pytest.Config) -> None:
        if config.option.collectonly:
            return
        from .texts import write_summary

        write_summary(terminalreporter, config, self.session)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.progress is not None:  # in case sessionfinish never ran (stop() is idempotent)
            self.progress.stop()
        self.session.facts.model.close()
        self.session.close()
        if self.session.settings.cache == "off":
            from ..model.scratch import run_scratch

            shutil.rmtree(run_scratch(self.session.facts.run_id), ignore_errors=True)


class XdistControllerHooks:
    """Registered only with pytest-xdist active (its hooks are unknown to pytest otherwise)."""

    def __init__(self, session: SebenchSession) -> None:
        self.session = session

    def pytest_configure_node(self, node: Any) -> None:
        """One run id for the whole run: the workers share the answer cache's run folder by it."""
        node.workerinput["sebench_run_id"] = self.session.facts.run_id

    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """The controller collects nothing: a worker's selection (all the same) is the run's."""
        if not self.session.selected:
            self.session.selected = [nodeid for nodeid in ids if nodeid.startswith(NODE_PREFIX)]

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        counts = getattr(node, "workeroutput", {}).get("sebench_requests")
        counters = self.session.facts.model.counters
        if counts and counters is not None:
            counters.add(counts)
