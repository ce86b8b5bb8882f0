"""Statistics of the CI gate: exact tests for one item, a paired comparison for the whole run, intervals.

Everything here is a pure function of counts or per-item rates, so the gate's decisions can be tested
without pytest, a model or a sandbox. NumPy is imported only where resampling needs it.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Sequence

Z95 = 1.96  # two-sided 95 % normal quantile, as used by Wilson and the normal interval


def _check_counts(correct: int, n: int, name: str) -> None:
    """Reject impossible counts early: a silent p-value from a broken report would mislead the gate."""
    if n < 0 or correct < 0 or correct > n:
        raise ValueError(f"{name}: {correct} correct out of {n} samples is not a valid count")


def _hypergeometric_tail(now_correct: int, now_n: int, base_correct: int, base_n: int, *, lower: bool) -> float:
    """P(X <= now_correct) or P(X >= now_correct) for X the correct count of 'now' given both margins."""
    _check_counts(now_correct, now_n, "now")
    _check_counts(base_correct, base_n, "baseline")
    total = now_n + base_n
    successes = now_correct + base_correct
    if total == 0:
        return 1.0
    # X ranges over the tables with the same row and column sums; the bounds keep every comb() valid.
    x_min = max(0, now_n - (total - successes))
    x_max = min(now_n, successes)
    xs = range(x_min, now_correct + 1) if lower else range(now_correct, x_max + 1)
    # Sum integer numerators and divide once: exact up to the final rounding, whatever the counts.
    numerator = sum(math.comb(successes, x) * math.comb(total - successes, now_n - x) for x in xs)
    return min(1.0, numerator / math.comb(total, now_n))


def fisher_drop_p(now_correct: int, now_n: int, base_correct: int, base_n: int) -> float:
    """One-sided Fisher exact p-value for 'the success rate now is lower than in the baseline'."""
    return _hypergeometric_tail(now_correct, now_n, base_correct, base_n, lower=True)


def fisher_rise_p(now_correct: int, now_n: int, base_correct: int, base_n: int) -> float:
    """One-sided Fisher exact p-value for 'the success rate now is higher than in the baseline'."""
    return _hypergeometric_tail(now_correct, now_n, base_correct, base_n, lower=False)


def mcnemar_drop_p(lost: int, gained: int) -> float:
    """Exact one-sided McNemar p-value: only discordant items carry information about a paired drop."""
    if lost < 0 or gained < 0:
        raise ValueError(f"lost={lost}, gained={gained}: counts cannot be negative")
    discordant = lost + gained
    if discordant == 0:
        return 1.0
    # Under no change each discordant item is lost or gained with probability 1/2.
    numerator = sum(math.comb(discordant, i) for i in range(lost, discordant + 1))
    return min(1.0, numerator / 2**discordant)


def seed_from(text: str) -> int:
    """A 64-bit seed from a string, so reruns on the same data resample identically (unlike hash())."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


@dataclass(frozen=True)
class PairedDifference:
    """Now against baseline over the same items; rates and difference in 0-1 units (negative = drop)."""

    items: int
    now: float
    base: float
    difference: float
    low: float
    high: float
    p_value: float
    method: str

    def to_json(self) -> dict[str, object]:
        """Plain builtins for the JSON report, rounded so reports diff cleanly."""
        return {
            "items": int(self.items),
            "now": round(float(self.now), 6),
            "base": round(float(self.base), 6),
            "difference": round(float(self.difference), 6),
            "low": round(float(self.low), 6),
            "high": round(float(self.high), 6),
            "p_value": round(float(self.p_value), 6),
            "method": str(self.method),
        }


def paired_difference(
    now_rates: Sequence[float],
    base_rates: Sequence[float],
    *,
    binary: bool,
    seed: int,
    resamples: int = 2000,
) -> PairedDifference:
    """Compare two runs item by item: pairing removes item difficulty, the largest source of variance."""
    import numpy as np

    method = "mcnemar" if binary else "bootstrap"
    now = np.asarray(now_rates, dtype=float)
    base = np.asarray(base_rates, dtype=float)
    if now.ndim != 1 or now.shape != base.shape:
        raise ValueError(f"now and baseline need one rate per item, in the same order: {now.shape} vs {base.shape}")
    if resamples < 1:
        raise ValueError(f"resamples must be positive, got {resamples}")
    items = int(now.size)
    if items == 0:
        return PairedDifference(0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, method)
    for rates, name in ((now, "now"), (base, "baseline")):
        # `not (>= 0 and <= 1)` also catches NaN.
        if not np.all((rates >= 0.0) & (rates <= 1.0)):
            raise ValueError(f"{name}: rates must lie in [0, 1]")
        if binary and not np.all((rates == 0.0) | (rates == 1.0)):
            raise ValueError(f"{name}: binary=True but some rates are neither 0 nor 1")

    now_mean = float(now.mean())
    base_mean = float(base.mean())
    observed = now_mean - base_mean
    per_item = now - base

    # One (resamples x items) index matrix: a single vectorised draw and mean instead of a Python loop.
    # Narrow indices when they fit: drawing and gathering uint16 takes about half the time of int64.
    rng = np.random.default_rng(seed)
    index_type = np.uint16 if items <= 65536 else np.int64
    boot = per_item[rng.integers(0, items, size=(resamples, items), dtype=index_type)].mean(axis=1)
    low, high = (float(v) for v in np.quantile(boot, [0.025, 0.975]))

    if binary:
        lost = int(np.count_nonzero((base == 1.0) & (now == 0.0)))
        gained = int(np.count_nonzero((base == 0.0) & (now == 1.0)))
        p_value = mcnemar_drop_p(lost, gained)
    elif items < 2:
        # One item has no spread to resample: the bootstrap would call any drop certain.
        p_value = 1.0
    else:
        # Shifting the bootstrap distribution to mean zero approximates "no true difference";
        # the p-value is how often that null gives a difference at or below the one observed.
        # The tiny tolerance keeps exact ties (e.g. an A/A run, all zeros) counted despite rounding.
        centred = boot - observed
        count = int(np.count_nonzero(centred <= observed + 1e-12))
        p_value = (1 + count) / (resamples + 1)
    return PairedDifference(items, now_mean, base_mean, observed, low, high, min(1.0, p_value), method)


def max_drop_fires(diff: PairedDifference, points: float, alpha: float) -> bool:
    """The aggregate gate: a drop both large (over `points` percentage points) and unlikely to be noise."""
    # Rounding to 9 decimals stops float noise (0.35 - 0.40 = -0.05000000000000002) from turning a drop
    # exactly equal to the threshold into one "strictly greater".
    drop_points = round(-diff.difference * 100, 9)
    return drop_points > points and diff.p_value < alpha


def _wilson(successes: int, n: int) -> tuple[float, float]:
    """Wilson score interval: stays inside [0, 1] and is not degenerate at 0 or n successes."""
    p = successes / n
    z2 = Z95 * Z95
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased estimator of pass@k from n samples of which c are correct (Chen et al., 2021):
    1 - C(n-c, k) / C(n, k). With k > n it is undefined; we use k = n then."""
    k = min(k, n)
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def mean_interval(values: Sequence[float]) -> tuple[float, float]:
    """95 % interval for the mean of per-item values in [0, 1] (mean@k, pass@k of a split)."""
    data = [float(v) for v in values]
    n = len(data)
    if n == 0:
        return 0.0, 0.0
    if all(v in (0.0, 1.0) for v in data):
        # 0/1 outcomes are binomial: Wilson behaves at small n and at rates near 0 or 1.
        return _wilson(int(sum(data)), n)
    if n == 1:
        return 0.0, 1.0  # one non-binary value says nothing about its spread
    mean = math.fsum(data) / n
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in data) / (n - 1))
    half = Z95 * sd / math.sqrt(n)
    return max(0.0, mean - half), min(1.0, mean + half)
