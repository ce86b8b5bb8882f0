"""The run's state: settings, problems, sandbox, and the records that make the summary and the report.

The hook functions in ``plugin.py`` only forward pytest's events here, so everything below can be
driven without pytest. One instance per process: on xdist workers it grades; on the controller (or
the only process with ``-n0``) it also gathers the records.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .data.benchmark import Benchmark
from .data.problems import Problem
from .execution.backends import create_backend
from .execution.base import Limits, Sandbox, SandboxUnavailable
from .grade.verdict import Verdict, infrastructure_error, judge
from .model.answers import AnswerSource
from .model.client import RequestFailed
from .report.json_report import build_report, write_report
from .report.records import NODE_PREFIX, PROPERTY, error_record, junit_properties, record_from_properties
from .report.provenance import provenance
from .report.summary import Summary
from .settings import Settings


@dataclass
class SebenchSession:
    settings: Settings
    benchmark: Benchmark
    answers: AnswerSource
    limits: Limits
    run_id: str
    sandbox_name: str = "local"
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    _sandbox: Sandbox | None = None

    @classmethod
    def create(cls, settings: Settings, benchmark: Benchmark, answers: AnswerSource,
               run_id: str) -> "SebenchSession":
        limits = Limits(timeout_seconds=settings["timeout"], memory_bytes=settings["memory"],
                        output_bytes=settings["output_limit"])
        return cls(settings, benchmark, answers, limits, run_id, sandbox_name=settings["sandbox"])

    @property
    def sandbox(self) -> Sandbox:
        if self._sandbox is None:
            self._sandbox = create_backend(self.sandbox_name, self.limits, python=self.settings["python"])
        return self._sandbox

    # -- grading (wherever items run) -------------------------------------------------------------

    def grade(self, problem: Problem) -> tuple[list[Verdict], str | None]:
        """One verdict per sample, and the infrastructure failure if any (our side, not the model's)."""
        verdicts: list[Verdict] = []
        judged: dict[str, Verdict] = {}  # a deterministic model gives the same text: run it once
        for sample in range(self.answers.samples):
            try:
                text, answer = self.answers.respond(problem, sample)
            except RequestFailed as error:
                return self._with_errors(verdicts, f"no answer from the model: {error}"), str(error)
            try:
                verdict = judged.get(text) or judge(problem, text, self.benchmark.library, self.sandbox)
            except SandboxUnavailable as error:
                return self._with_errors(verdicts, f"sandbox unavailable: {error}"), str(error)
            judged[text] = verdict
            verdicts.append(replace(verdict, sample=sample, answer=answer))
        return verdicts, None

    def _with_errors(self, verdicts: list[Verdict], reason: str) -> list[Verdict]:
        """Samples that got no verdict count as errors: never dropped, never a pass."""
        missing = range(len(verdicts), self.answers.samples)
        return verdicts + [replace(infrastructure_error(reason), sample=sample) for sample in missing]

    # -- gathering (controller, or the only process) ---------------------------------------------

    def problem_for(self, nodeid: str) -> Problem | None:
        if not nodeid.startswith(NODE_PREFIX):
            return None
        return self.benchmark.by_id.get(nodeid[len(NODE_PREFIX):])

    def observe(self, report: Any) -> None:
        """Take the record out of a test report (setup, call or teardown; local or from a worker)."""
        if not report.nodeid.startswith(NODE_PREFIX):
            return
        record = record_from_properties(report.user_properties)
        if record is not None:
            self.records[report.nodeid] = record
        elif report.failed and report.nodeid not in self.records:
            problem = self.problem_for(report.nodeid)
            if problem is not None:  # e.g. a crashed xdist worker: still counted, as an error
                reason = (report.longreprtext or "no verdict").strip().splitlines()
                self.records[report.nodeid] = error_record(problem, reason[-1] if reason else "no verdict")
        current = self.records.get(report.nodeid)
        # The full record stays here; JUnit XML gets its small, readable part.
        report.user_properties = [prop for prop in report.user_properties if prop[0] != PROPERTY] + (
            junit_properties(current) if current is not None and report.when == "teardown" else [])

    def ordered_records(self) -> list[dict[str, Any]]:
        order = {problem_id: index for index, problem_id in enumerate(self.benchmark.by_id)}
        return sorted(self.records.values(), key=lambda record: order.get(record["id"], len(order)))

    def summary(self) -> Summary:
        return Summary.from_records(self.ordered_records(), model=self.answers.label,
                                    data_source=self.benchmark.data_source,
                                    library=self.benchmark.library.name)

    def write_report(self, path: Path) -> None:
        report = build_report(self.summary(), self.ordered_records())
        report["provenance"] = provenance(
            problems=self.benchmark.problems, data_source=self.benchmark.data_source,
            splits=sorted({problem.split for problem in self.benchmark.problems}),
            model=self.answers.describe(), sandbox=self.sandbox_name)
        if self.answers.counters is not None:
            report["requests"] = self.answers.counters.to_json()
        write_report(path, report)

    def close(self) -> None:
        self.answers.close()
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None
