"""The controller's side of a run: gather every item's record, conclude, write the outputs.

The controller is the xdist controller, or the only process with ``-n0``. The hook functions in
``roles/controller.py`` only forward pytest's events here, so everything below can be driven without
pytest. :meth:`SebenchSession.finish` writes every output and returns the exit status the hook applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from .data.benchmark import Benchmark
from .data.problems import Problem
from .gate.baseline import RunReport
from .gate.evaluation import Evaluation, GateSettings, evaluate
from .gate.figures import Summary
from .gate.outcomes import ItemOutcome, Policy, decide
from .gate.stats import seed_from
from .model.answers import AnswerSource
from .report.finished import FinishedRun
from .report.outputs import requested, write_all
from .report.provenance import problems_fingerprint, provenance
from .records.build import error_record
from .records.item import ItemRecord
from .records.spool import RecordSpool
from .records.properties import NODE_PREFIX, PROPERTY, junit_properties, record_from_properties
from .settings import Settings

# pytest's exit statuses, as numbers: this module does not import pytest
OK, TESTS_FAILED, INTERNAL_ERROR = 0, 1, 3


@dataclass(frozen=True)
class RunFacts:
    """What the run is, fixed before its first item: everything the session is built from."""

    settings: Settings
    benchmark: Benchmark
    model: AnswerSource  # label, counters, description; the controller never asks it for answers
    run_id: str
    policy: Policy
    gates: GateSettings
    baseline: RunReport | None = None
    only_solved_by: RunReport | None = None
    warnings: tuple[str, ...] = ()  # about the baseline's comparability
    notes: tuple[str, ...] = ()  # about the data and the model server, found at start
    junit_item_properties: bool = True  # off for xunit2, whose schema has no per-test properties
    sandbox_runtime: Mapping[str, Any] = field(default_factory=dict)  # NumPy and Python answers run with


@dataclass
class SebenchSession:
    facts: RunFacts
    records: dict[str, ItemRecord] = field(default_factory=dict)  # light: no text (see spool)
    spool: RecordSpool = field(default_factory=RecordSpool)  # the full records, on disk
    selected: list[str] = field(default_factory=list)  # node ids the run must account for
    stop_reason: str | None = None  # why the run stopped before its last item (the server refuses all)
    output_errors: dict[str, str] = field(default_factory=dict)  # by setting: outputs not written
    _evaluation: Evaluation | None = None

    @property
    def settings(self) -> Settings:
        return self.facts.settings

    @property
    def benchmark(self) -> Benchmark:
        return self.facts.benchmark

    # -- gathering -------------------------------------------------------------------------------

    def problem_for(self, nodeid: str) -> Problem | None:
        if not nodeid.startswith(NODE_PREFIX):
            return None
        return self.benchmark.by_id.get(nodeid[len(NODE_PREFIX):])

    def observe(self, report: Any) -> None:
        """Take the record out of a test report (setup, call or teardown; local or from a worker)."""
        if not report.nodeid.startswith(NODE_PREFIX):
            return
        data = record_from_properties(report.user_properties)
        if data is not None:
            self.keep(report.nodeid, data)
            self.stop_reason = self.stop_reason or self.records[report.nodeid].stopped_run
        elif report.failed and report.nodeid not in self.records:
            problem = self.problem_for(report.nodeid)
            if problem is not None:  # e.g. a crashed xdist worker: still counted, as an error
                reason = (report.longreprtext or "no verdict").strip().splitlines()
                self.keep(report.nodeid, error_record(problem, reason[-1] if reason else "no verdict",
                                                      self.benchmark.library).to_json())
        current = self.records.get(report.nodeid)
        # The full record goes to the spool; JUnit XML gets its small, readable part.
        report.user_properties = [prop for prop in report.user_properties if prop[0] != PROPERTY]
        if current is not None and report.when == "teardown" and self.facts.junit_item_properties:
            report.user_properties += junit_properties(current, self.item_outcome(current).label)

    def keep(self, nodeid: str, data: dict[str, Any]) -> None:
        """The full record to the spool, its light form here."""
        record = ItemRecord.from_json(data, light=True)
        self.spool.put(record.id, data)
        self.records[nodeid] = record

    def item_outcome(self, record: ItemRecord) -> ItemOutcome:
        baseline = self.facts.baseline
        base = baseline.items.get(record.id) if baseline is not None else None
        return decide(record.counts, base, self.facts.policy)

    def account_for_the_rest(self) -> None:
        """Selected items that never reported (the run stopped, or was interrupted) still count, as
        errors: nothing leaves the denominator."""
        why = (f"not run: the run stopped early ({self.stop_reason})" if self.stop_reason
               else "not run: the run ended before this item")
        for nodeid in self.selected:
            problem = self.problem_for(nodeid)
            if nodeid not in self.records and problem is not None:
                self.keep(nodeid, error_record(problem, why, self.benchmark.library).to_json())

    # -- concluding ------------------------------------------------------------------------------

    def ordered_records(self) -> list[ItemRecord]:
        """The light records, in the benchmark's order."""
        order = {problem_id: index for index, problem_id in enumerate(self.benchmark.by_id)}
        return sorted(self.records.values(), key=lambda record: order.get(record.id, len(order)))

    def summary(self) -> Summary:
        model = self.facts.model
        return Summary.from_records(self.ordered_records(), model=model.label,
                                    data_source=self.benchmark.data_source,
                                    library=self.benchmark.library.name,
                                    max_tokens=self.settings.max_tokens if self.settings.served else None)

    def evaluation(self) -> Evaluation:
        """The run's conclusions; computed once, after the last item (the records are final then)."""
        if self._evaluation is None:
            # the seed needs only the problems' fingerprint, not the whole provenance (a git call)
            fingerprint = problems_fingerprint(self.benchmark.problems)
            self._evaluation = evaluate(self.ordered_records(), self.summary(), self.facts.baseline,
                                        self.facts.policy, self.facts.gates, seed=seed_from(fingerprint),
                                        warnings=list(self.facts.warnings))
        return self._evaluation

    def provenance(self) -> dict[str, Any]:
        return run_provenance(self.settings, self.benchmark, self.facts.model.describe(), self.facts.sandbox_runtime)

    def requests_line(self) -> str | None:
        """The closing ``requests:`` line of a served model (None for the others)."""
        counters = self.facts.model.counters
        if counters is None:
            return None
        reused = sum(sample.reused for record in self.records.values() for sample in record.samples)
        return counters.line(reused, self.facts.model.stop_cause())

    def close(self) -> None:
        self.spool.close()

    def finish(self, exitstatus: int) -> int:
        """Account for every selected item, write every output; the run's exit status."""
        self.account_for_the_rest()
        evaluation = self.evaluation()
        counters = self.facts.model.counters
        ordered = self.ordered_records()
        run = FinishedRun(self.settings, self.benchmark, evaluation, ordered,
                          lambda: self.spool.in_order(record.id for record in ordered),
                          self.provenance() if requested(self.settings) else {},
                          counters.to_json() if counters is not None else None, notes=self.facts.notes)
        self.output_errors = write_all(run)
        if self.output_errors:
            return INTERNAL_ERROR
        if exitstatus == OK and (evaluation.summary.overall.errors or evaluation.failed_gates):
            return TESTS_FAILED
        return exitstatus


def run_provenance(settings: Settings, benchmark: Benchmark, model: dict[str, Any],
                   runtime: Mapping[str, Any]) -> dict[str, Any]:
    """What a report records of the run (and what a baseline is checked against at start)."""
    subset = None if settings.limit is None else {"limit": settings.limit, "seed": settings.seed}
    return {**provenance(problems=benchmark.problems, data_source=benchmark.data_source, model=model,
                         sandbox=settings.sandbox, runtime=runtime), "subset": subset}
