"""The worker's hooks: collect the SE-Bench items like any test, grade them, hand the records on."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Generator

import pytest

from ..grading import ItemGrader
from ..items import SebenchCollector, SebenchItem


class WorkerHooks:
    def __init__(self, grader: ItemGrader, config: pytest.Config) -> None:
        self.grader = grader
        self.config = config

    def pytest_ignore_collect(self, collection_path: Path, config: pytest.Config) -> bool | None:
        # `pytest --sebench-model=X` runs the benchmark, not the repository's own tests; paths given
        # explicitly on the command line are still collected.
        if config.args_source != pytest.Config.ArgsSource.ARGS:
            return True
        return None

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(self, collector: pytest.Collector) -> Generator[None, Any, Any]:
        """The session's own collection gains one more child, the SE-Bench collector, so the items
        are collected like any test: counted, listed by --collect-only, and seen by every plugin that
        selects or orders items (-k, -m, --lf, --ff, --sw, --deselect, xdist's scheduling)."""
        report = yield
        if isinstance(collector, pytest.Session) and report.passed:
            ours = SebenchCollector.from_parent(collector, name="sebench", nodeid="sebench", grader=self.grader)
            report.result = [ours, *report.result]
        return report

    @pytest.hookimpl(tryfirst=True)  # before -k / -m, so their counts are of what we kept
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        ours = [item.problem for item in items if isinstance(item, SebenchItem)]
        kept = self.grader.kept(ours)
        if len(kept) < len(ours):
            dropped = [item for item in items if isinstance(item, SebenchItem) and item.problem.id not in kept]
            items[:] = [item for item in items if not isinstance(item, SebenchItem) or item.problem.id in kept]
            self.config.hook.pytest_deselected(items=dropped)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """The selection is final (after -k/-m): a served model starts asking for exactly these."""
        if not session.config.option.collectonly:
            self.grader.answers.prepare([item.problem for item in session.items if isinstance(item, SebenchItem)])

    # tryfirst and registered after the controller's hooks: with -n0, the requests in flight are
    # waited for before the controller reads the counts
    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.grader.answers.close()
        counters = self.grader.answers.counters
        workeroutput = getattr(session.config, "workeroutput", None)  # an xdist worker's reply
        if workeroutput is not None and counters is not None:  # the controller adds them up
            workeroutput["sebench_requests"] = counters.to_json()

    def pytest_unconfigure(self) -> None:
        self.grader.close()
