"""An item's pytest outcome: solved or not, and, against a baseline, regression or known gap.

One pure function decides; the item calls it (on whichever process runs it) and the controller calls it
again from the records for the summary and the report, so both always agree.

Rules (K = samples per item, either side, the two K may differ):
- no baseline: solved in some sample -> pass; else FAIL, or XFAIL when an accuracy bar
  (``--sebench-fail-under``) decides the run instead of each item;
- K = 1 on both sides: solved before and not now -> regression; neither -> known gap (XFAIL);
  solved now -> pass (an improvement when the baseline had not solved it);
- otherwise a one-sided Fisher exact test on the two pass rates: a drop significant at alpha ->
  regression; else a pass rate above 0 now -> pass, 0 now -> XFAIL (known gap);
- a regression FAILs with ``--sebench-regressions=fail`` and is an XFAIL that says so with ``report``;
- items missing from the baseline, or with an infrastructure error there, cannot regress: they pass
  when solved now and are XFAIL otherwise, and are listed.
"""

from __future__ import annotations

from dataclasses import dataclass

from .baseline import ItemCounts
from .stats import fisher_drop_p

PASS, FAIL, XFAIL = "pass", "fail", "xfail"

SOLVED = "solved"
NOT_SOLVED = "not_solved"
REGRESSION = "regression"
KNOWN_GAP = "known_gap"
IMPROVEMENT = "improvement"
NEW_ITEM = "not_in_baseline"
BASELINE_ERROR = "baseline_error"
ERROR = "error"


@dataclass(frozen=True)
class Policy:
    has_baseline: bool
    alpha: float = 0.05
    regressions_fail: bool = True
    gated_by_accuracy: bool = False  # --sebench-fail-under without a baseline
    baseline_label: str = "the baseline"


@dataclass(frozen=True)
class ItemOutcome:
    result: str  # pass | fail | xfail
    label: str  # solved, regression, known_gap, ...
    flaky: bool = False
    p_value: float | None = None
    reason: str = ""  # the FAIL / XFAIL text's first line

    def to_json(self) -> dict:
        return {"outcome": self.result, "label": self.label, "flaky": self.flaky,
                "p_value": None if self.p_value is None else round(self.p_value, 6)}


def is_flaky(*sides: ItemCounts | None) -> bool:
    """Solved in some samples and not in others, on either side."""
    return any(side is not None and 0 < side.correct < side.samples for side in sides)


def decide(now: ItemCounts, base: ItemCounts | None, policy: Policy) -> ItemOutcome:
    if now.error:
        return ItemOutcome(FAIL, ERROR, reason="infrastructure error (not the model's fault)")
    if not policy.has_baseline:
        return _without_baseline(now, policy)
    flaky = is_flaky(now, base)
    if base is None:
        return _cannot_regress(now, NEW_ITEM, "not in the baseline: nothing to regress from", flaky)
    if base.error:
        return _cannot_regress(now, BASELINE_ERROR,
                               "the baseline had an infrastructure error on this item", flaky)
    if now.samples == 1 and base.samples == 1:
        dropped, p_value = base.solved and not now.solved, None
    else:
        p_value = fisher_drop_p(now.correct, now.samples, base.correct, base.samples)
        dropped = p_value < policy.alpha
    if dropped:
        return _regression(now, base, policy, flaky, p_value)
    if now.solved:
        label = IMPROVEMENT if not base.solved else SOLVED
        return ItemOutcome(PASS, label, flaky, p_value)
    why = f"known gap: {base.text()} in the baseline, {now.text()} now"
    if base.solved:  # only reachable with K > 1: the drop is within the noise
        why += f" (drop not significant, p={p_value:.3g} >= alpha {policy.alpha:g})"
    return ItemOutcome(XFAIL, KNOWN_GAP, flaky, p_value, why)


def _without_baseline(now: ItemCounts, policy: Policy) -> ItemOutcome:
    flaky = is_flaky(now)
    if now.solved:
        return ItemOutcome(PASS, SOLVED, flaky)
    if policy.gated_by_accuracy:
        return ItemOutcome(XFAIL, NOT_SOLVED, flaky,
                           reason=f"not solved ({now.text()}); --sebench-fail-under decides the run")
    return ItemOutcome(FAIL, NOT_SOLVED, flaky, reason=f"not solved ({now.text()} samples correct)")


def _cannot_regress(now: ItemCounts, label: str, why: str, flaky: bool) -> ItemOutcome:
    if now.solved:
        return ItemOutcome(PASS, label, flaky)
    return ItemOutcome(XFAIL, label, flaky, reason=f"{why}; {now.text()} now")


def _regression(now: ItemCounts, base: ItemCounts, policy: Policy, flaky: bool,
                p_value: float | None) -> ItemOutcome:
    why = (f"regression: solved by {policy.baseline_label} in {base.text()} samples, now {now.text()}"
           + (f" (one-sided Fisher p={p_value:.3g} < alpha {policy.alpha:g})" if p_value is not None else ""))
    if policy.regressions_fail:
        return ItemOutcome(FAIL, REGRESSION, flaky, p_value, why)
    return ItemOutcome(XFAIL, REGRESSION, flaky, p_value,
                       why + " [reported only: --sebench-regressions=report]")
