"""A report judged against another, by the functions the plugin's gate uses.

``sebench compare`` and the pages read two finished reports instead of a live run; the outcome of
every item, the paired statistics, the forgetting map and the gates come from ``gate/`` exactly as in
a pytest run with ``--sebench-baseline``, so the command and the plugin cannot disagree.
"""

from __future__ import annotations

from ..gate.baseline import RunReport
from ..gate.comparable import compare_provenance
from ..gate.evaluation import Evaluation, GateSettings, evaluate
from ..gate.figures import Summary
from ..gate.outcomes import FAIL, Policy
from ..gate.stats import seed_from
from ..records.item import ItemRecord, RecordError
from ..records.report_file import ReportFileError
from .runs import RunData


class IncomparableReports(Exception):
    """The two reports are of different problems or prompts; the message says what differs."""


def light_records(run: RunData) -> list[ItemRecord]:
    """The run's records without their text, read item by item."""
    records = []
    for item in run.items():
        try:
            records.append(ItemRecord.from_json(item, light=True))
        except RecordError as error:
            raise ReportFileError(f"{run.source}: {error}") from None
    return records


def run_summary(run: RunData, records: list[ItemRecord]) -> Summary:
    summary = run.summary
    max_tokens = run.model.get("max_tokens")
    return Summary.from_records(records, model=str(summary.get("model", "")), data_source=str(summary.get("data", "")),
                                library=str(summary.get("library", "")),
                                max_tokens=max_tokens if isinstance(max_tokens, int) else None)


def judge(baseline: RunReport, run: RunData, gates: GateSettings, *, regressions_fail: bool = True,
          force: bool = False) -> Evaluation:
    """``run`` against ``baseline``, as a pytest run of it with ``--sebench-baseline`` would conclude.
    Raises IncomparableReports when the plugin would refuse the baseline (unless ``force``)."""
    refusals, warnings = compare_provenance(baseline.provenance, dict(run.provenance))
    if refusals and not force:
        raise IncomparableReports(f"{run.source} cannot be compared with {baseline.path}: {'; '.join(refusals)}")
    records = light_records(run)
    policy = Policy(has_baseline=True, alpha=gates.alpha, regressions_fail=regressions_fail,
                    baseline_label=baseline.label)
    # the plugin seeds its bootstrap with the problems' fingerprint: the same intervals here
    seed = seed_from(str(run.provenance.get("dataset_fingerprint") or ""))
    return evaluate(records, run_summary(run, records), baseline, policy, gates, seed=seed,
                    warnings=refusals + warnings)


def gate_failures(evaluation: Evaluation) -> list[str]:
    """Why the plugin's run would have failed (empty: it passes): failing items and failed gates."""
    failing: dict[str, int] = {}
    for outcome in evaluation.comparison.outcomes.values():
        if outcome.result == FAIL:
            failing[outcome.label] = failing.get(outcome.label, 0) + 1
    items = [f"{count} item{'s' if count != 1 else ''} failed as {label.replace('_', ' ')}"
             for label, count in failing.items()]
    return items + [f"gate {gate.name} failed" for gate in evaluation.failed_gates]
