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
from .data.subset import subset_ids
from .execution.backends import create_backend
from .execution.base import Limits, Sandbox, SandboxUnavailable
from .gate.baseline import ItemCounts, RunReport
from .gate.evaluation import Evaluation, GateSettings, evaluate
from .gate.figures import Summary
from .gate.outcomes import ItemOutcome, Policy, decide
from .gate.stats import seed_from
from .grade.verdict import Verdict, infrastructure_error, judge
from .model.answers import AnswerSource
from .model.client import RequestFailed, ServerRefusesAll
from .report.json_report import build_report, write_report
from .report.provenance import problems_fingerprint, provenance
from .report.records import (NODE_PREFIX, PROPERTY, error_record, item_record, junit_properties,
                             keeps_response, record_from_properties, response_facts, without_response)
from .settings import Settings


@dataclass
class SebenchSession:
    settings: Settings
    benchmark: Benchmark
    answers: AnswerSource
    limits: Limits
    run_id: str
    sandbox_name: str = "local"
    baseline: RunReport | None = None
    policy: Policy = Policy(has_baseline=False)
    gates: GateSettings = GateSettings()
    warnings: list[str] = field(default_factory=list)  # about the baseline's comparability
    notes: list[str] = field(default_factory=list)  # about the model server, found at start
    junit_item_properties: bool = True  # off for xunit2, whose schema has no per-test properties
    only_solved_by: RunReport | None = None  # --sebench-only-solved-by
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    selected: list[str] = field(default_factory=list)  # node ids the run must account for
    stop_reason: str | None = None  # why the run stopped before its last item (the server refuses all)
    _sandbox: Sandbox | None = None
    _evaluation: Evaluation | None = None

    @classmethod
    def create(cls, settings: Settings, benchmark: Benchmark, answers: AnswerSource, run_id: str,
               baseline: RunReport | None = None) -> "SebenchSession":
        limits = Limits(timeout_seconds=settings["timeout"], memory_bytes=settings["memory"],
                        output_bytes=settings["output_limit"])
        policy = Policy(has_baseline=baseline is not None, alpha=settings["alpha"],
                        regressions_fail=settings["regressions"] == "fail",
                        gated_by_accuracy=baseline is None and settings["fail_under"] is not None,
                        baseline_label=baseline.label if baseline is not None else "the baseline")
        gates = GateSettings(settings["fail_under"], settings["max_drop"], settings["alpha"])
        return cls(settings, benchmark, answers, limits, run_id, sandbox_name=settings["sandbox"],
                   baseline=baseline, policy=policy, gates=gates)

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
            except ServerRefusesAll as error:  # ours to fix: the run stops here (see items.py)
                self.stop_reason = str(error)
                return self._with_errors(verdicts, f"no answer from the model: {error}"), str(error)
            except RequestFailed as error:
                return self._with_errors(verdicts, f"no answer from the model: {error}"), str(error)
            try:
                verdict = judged.get(text) or judge(problem, text, self.benchmark.library, self.sandbox)
            except SandboxUnavailable as error:
                return self._with_errors(verdicts, f"sandbox unavailable: {error}"), str(error)
            judged[text] = verdict
            verdicts.append(replace(verdict, sample=sample, answer=response_facts(text, answer)))
        return verdicts, None

    def outcome(self, problem: Problem, verdicts: list[Verdict]) -> ItemOutcome:
        """Pass, fail or xfail for the item (the same rule the controller applies to the records)."""
        now = ItemCounts.from_categories([verdict.category for verdict in verdicts])
        base = self.baseline.items.get(problem.id) if self.baseline is not None else None
        return decide(now, base, self.policy)

    def record(self, problem: Problem, verdicts: list[Verdict]) -> dict[str, Any]:
        """The item's record, with the raw responses that ``--sebench-report-responses`` keeps
        (``--sebench-save-correct`` needs the correct ones whatever it says)."""
        policy, save_correct = self.settings["report_responses"], self.settings["save_correct"] is not None
        record = item_record(problem, verdicts, self.benchmark.library,
                             keep_response=lambda v: keeps_response(policy, v.passed) or (save_correct and v.passed))
        if self.stop_reason is not None:
            record["stopped_run"] = self.stop_reason  # tells the controller why the rest never ran
        return record

    def _with_errors(self, verdicts: list[Verdict], reason: str) -> list[Verdict]:
        """Samples that got no verdict count as errors: never dropped, never a pass."""
        missing = range(len(verdicts), self.answers.samples)
        return verdicts + [replace(infrastructure_error(reason), sample=sample) for sample in missing]

    # -- selection -------------------------------------------------------------------------------

    def select(self, items: list[Any]) -> list[Any]:
        """The items ``--sebench-only-solved-by`` keeps, then ``--sebench-limit``'s subset of them."""
        if self.only_solved_by is not None:
            solved = self.only_solved_by.solved_ids()
            items = [item for item in items if item.problem.id in solved]
        if self.settings["limit"] is not None:
            chosen = subset_ids([item.problem for item in items], self.settings["limit"], self.settings["seed"])
            items = [item for item in items if item.problem.id in chosen]
        return items

    def subset(self) -> dict[str, int] | None:
        """What the report records of ``--sebench-limit`` (the items it ran are its items)."""
        limit = self.settings["limit"]
        return None if limit is None else {"limit": limit, "seed": self.settings["seed"]}

    def selection_note(self) -> str:
        assert self.only_solved_by is not None
        ids = {problem.id for problem in self.benchmark.problems}
        known = self.only_solved_by.items
        solved = ids & self.only_solved_by.solved_ids()
        return (f"only items solved in {self.only_solved_by.path}: {len(solved)} of {len(ids)} kept; "
                f"{len(ids & known.keys()) - len(solved)} not solved there, {len(ids - known.keys())} not in it")

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
            self.stop_reason = self.stop_reason or record.get("stopped_run")
        elif report.failed and report.nodeid not in self.records:
            problem = self.problem_for(report.nodeid)
            if problem is not None:  # e.g. a crashed xdist worker: still counted, as an error
                reason = (report.longreprtext or "no verdict").strip().splitlines()
                self.records[report.nodeid] = error_record(problem, reason[-1] if reason else "no verdict",
                                                           self.benchmark.library)
        current = self.records.get(report.nodeid)
        # The full record stays here; JUnit XML gets its small, readable part.
        report.user_properties = [prop for prop in report.user_properties if prop[0] != PROPERTY]
        if current is not None and report.when == "teardown" and self.junit_item_properties:
            report.user_properties += junit_properties(current, self.item_outcome(current).to_json())

    def item_outcome(self, record: dict[str, Any]) -> ItemOutcome:
        base = self.baseline.items.get(record["id"]) if self.baseline is not None else None
        return decide(ItemCounts.from_record(record), base, self.policy)

    def account_for_the_rest(self) -> None:
        """Selected items that never reported (the run stopped, or was interrupted) still count, as
        errors: nothing leaves the denominator."""
        why = (f"not run: the run stopped early ({self.stop_reason})" if self.stop_reason
               else "not run: the run ended before this item")
        for nodeid in self.selected:
            problem = self.problem_for(nodeid)
            if nodeid not in self.records and problem is not None:
                self.records[nodeid] = error_record(problem, why, self.benchmark.library)

    def ordered_records(self) -> list[dict[str, Any]]:
        order = {problem_id: index for index, problem_id in enumerate(self.benchmark.by_id)}
        return sorted(self.records.values(), key=lambda record: order.get(record["id"], len(order)))

    def summary(self) -> Summary:
        served = self.answers.counters is not None  # only a served model was asked with a limit
        return Summary.from_records(self.ordered_records(), model=self.answers.label,
                                    data_source=self.benchmark.data_source,
                                    library=self.benchmark.library.name,
                                    max_tokens=self.settings["max_tokens"] if served else None)

    def evaluation(self) -> Evaluation:
        """The run's conclusions; computed once, after the last item (the records are final then)."""
        if self._evaluation is None:
            # the seed needs only the problems' fingerprint, not the whole provenance (a git call)
            fingerprint = problems_fingerprint(self.benchmark.problems)
            self._evaluation = evaluate(self.ordered_records(), self.summary(), self.baseline, self.policy,
                                        self.gates, seed=seed_from(fingerprint), warnings=self.warnings)
        return self._evaluation

    def provenance(self, model: dict[str, Any]) -> dict[str, Any]:
        return {**provenance(problems=self.benchmark.problems, data_source=self.benchmark.data_source,
                             model=model, sandbox=self.sandbox_name), "subset": self.subset()}

    def write_report(self, path: Path) -> None:
        evaluation = self.evaluation()
        policy = self.settings["report_responses"]
        items = [dict(record, outcome=evaluation.comparison.outcomes[record["id"]].to_json(),
                      samples=[sample if keeps_response(policy, bool(sample.get("passed")))
                               else without_response(sample) for sample in record["samples"]])
                 for record in self.ordered_records()]
        report = build_report(evaluation.summary, items)
        report.update(evaluation.to_json())
        report["provenance"] = self.provenance(self.answers.describe())
        if self.answers.counters is not None:
            report["requests"] = self.answers.counters.to_json()
        write_report(path, report)

    def requests_line(self) -> str | None:
        """The closing ``requests:`` line of a served model (None for the others)."""
        counters = self.answers.counters
        if counters is None:
            return None
        reused = sum(bool((sample.get("answer") or {}).get("reused"))
                     for record in self.records.values() for sample in record.get("samples", ()))
        return counters.line(reused, self.answers.stop_cause())

    def write_correct(self, path: Path) -> None:
        from .report.save_correct import write_correct

        write_correct(path, self.ordered_records(), self.benchmark)

    def close(self) -> None:
        self.answers.close()
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None
