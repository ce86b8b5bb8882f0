"""The worker's side of a run: ask for an item's answers, run them, and decide the item's outcome.

An xdist worker holds one :class:`ItemGrader` (so does the only process with ``-n0``); the records it
makes travel to the controller in ``report.user_properties`` (``records/properties.py``), where
``session.py`` gathers them. Nothing here needs pytest.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Sequence

from .data.benchmark import Benchmark
from .data.problems import Problem
from .data.subset import subset_ids
from .execution.base import Limits, Sandbox, SandboxOptions, SandboxUnavailable
from .execution.registry import create_backend
from .gate.baseline import RunReport
from .gate.outcomes import ItemOutcome, Policy, decide
from .grade.verdict import Verdict, infrastructure_error, judge
from .model.answers import AnswerSource
from .model.client import RequestFailed, ServerRefusesAll
from .records.build import item_record, keeps_response, response_facts
from .records.item import ItemCounts, ItemRecord
from .settings import Settings

def limits_of(settings: Settings) -> Limits:
    return Limits(timeout_seconds=settings.timeout, memory_bytes=settings.memory,
                  output_bytes=settings.output_limit)


@dataclass
class ItemGrader:
    settings: Settings
    benchmark: Benchmark
    answers: AnswerSource
    policy: Policy
    baseline: RunReport | None = None
    only_solved_by: RunReport | None = None  # --sebench-only-solved-by
    stop_reason: str | None = None  # set when the server refuses everything: the run stops
    _sandbox: Sandbox | None = field(default=None, repr=False)

    @property
    def sandbox(self) -> Sandbox:
        """Built on first use: a worker that is given no item starts no sandbox."""
        if self._sandbox is None:
            self._sandbox = create_backend(self.settings.sandbox, limits_of(self.settings),
                                           SandboxOptions(python=self.settings.python))
        return self._sandbox

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

    def _with_errors(self, verdicts: list[Verdict], reason: str) -> list[Verdict]:
        """Samples that got no verdict count as errors: never dropped, never a pass."""
        missing = range(len(verdicts), self.answers.samples)
        return verdicts + [replace(infrastructure_error(reason), sample=sample) for sample in missing]

    def outcome(self, problem: Problem, verdicts: list[Verdict]) -> ItemOutcome:
        """Pass, fail or xfail for the item (the same rule the controller applies to the records)."""
        now = ItemCounts.from_categories([verdict.category for verdict in verdicts])
        base = self.baseline.items.get(problem.id) if self.baseline is not None else None
        return decide(now, base, self.policy)

    def record(self, problem: Problem, verdicts: list[Verdict]) -> ItemRecord:
        """The item's record, with the raw responses that ``--sebench-report-responses`` keeps
        (``--sebench-save-correct`` needs the correct ones whatever it says); ``stopped_run`` tells
        the controller why the rest never ran."""
        keep, save_correct = self.settings.report_responses, self.settings.save_correct is not None
        return item_record(problem, verdicts, self.benchmark.library,
                           keep_response=lambda v: keeps_response(keep, v.passed) or (save_correct and v.passed),
                           stopped_run=self.stop_reason)

    def kept(self, problems: Sequence[Problem]) -> set[str]:
        """The ids ``--sebench-only-solved-by`` keeps, then ``--sebench-limit``'s subset of them."""
        if self.only_solved_by is not None:
            solved = self.only_solved_by.solved_ids()
            problems = [problem for problem in problems if problem.id in solved]
        if self.settings.limit is not None:
            return subset_ids(problems, self.settings.limit, self.settings.seed)
        return {problem.id for problem in problems}

    def close(self) -> None:
        self.answers.close()
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None
