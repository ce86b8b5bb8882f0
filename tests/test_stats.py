"""Tests for the statistics of the CI gate (pytest_sebench.gate.stats)."""

from __future__ import annotations

import itertools
import json
import math
from fractions import Fraction

import numpy as np
import pytest

from pytest_sebench.gate.stats import (
    PairedDifference,
    fisher_drop_p,
    fisher_rise_p,
    max_drop_fires,
    mcnemar_drop_p,
    mean_interval,
    paired_difference,
    seed_from,
)


# --- Fisher -------------------------------------------------------------------------------------------

def test_fisher_all_lost_is_one_over_252():
    # 0/5 now vs 5/5 before: the only table this extreme is 1 of C(10, 5) = 252.
    assert fisher_drop_p(0, 5, 5, 5) == pytest.approx(1 / 252, rel=1e-12)
    assert fisher_drop_p(0, 5, 5, 5) == pytest.approx(0.003968, abs=1e-6)


def test_fisher_one_of_five_vs_four_of_five():
    # P(X <= 1), X ~ Hypergeometric(10 samples, 5 successes, 5 drawn) = (1 + 5 * 5) / 252.
    assert fisher_drop_p(1, 5, 4, 5) == pytest.approx(26 / 252, rel=1e-12)


def test_fisher_unequal_sample_sizes():
    # 0/3 now vs 6/6 before: 1 / C(9, 3) = 1/84.
    assert fisher_drop_p(0, 3, 6, 6) == pytest.approx(1 / 84, rel=1e-12)


def test_fisher_symmetric_cases():
    assert fisher_rise_p(5, 5, 0, 5) == pytest.approx(fisher_drop_p(0, 5, 5, 5), rel=1e-12)
    assert fisher_rise_p(4, 5, 1, 5) == pytest.approx(fisher_drop_p(1, 5, 4, 5), rel=1e-12)
    # Swapping the rows turns a drop into a rise.
    assert fisher_drop_p(2, 7, 5, 6) == pytest.approx(fisher_rise_p(5, 6, 2, 7), rel=1e-12)
    # A rise is no evidence of a drop.
    assert fisher_drop_p(5, 5, 0, 5) == 1.0
    assert fisher_rise_p(0, 5, 5, 5) == 1.0


def test_fisher_equal_rates_are_not_significant():
    assert fisher_drop_p(2, 4, 2, 4) > 0.5
    assert fisher_rise_p(2, 4, 2, 4) > 0.5
    assert fisher_drop_p(3, 5, 3, 5) == pytest.approx(fisher_rise_p(3, 5, 3, 5), rel=1e-12)


@pytest.mark.parametrize("counts", [(0, 5, 0, 5), (5, 5, 5, 5), (0, 0, 0, 0), (0, 0, 3, 5), (2, 5, 0, 0)])
def test_fisher_nothing_to_say_is_one(counts):
    assert fisher_drop_p(*counts) == 1.0
    assert fisher_rise_p(*counts) == 1.0


@pytest.mark.parametrize("counts", [(-1, 5, 2, 5), (6, 5, 2, 5), (1, 5, 7, 5), (1, 5, 2, -1)])
def test_fisher_rejects_impossible_counts(counts):
    with pytest.raises(ValueError):
        fisher_drop_p(*counts)


def _brute_force_fisher(now_correct: int, now_n: int, base_correct: int, base_n: int) -> tuple[Fraction, Fraction]:
    """Label every sample, try every way of choosing which ones form the 'now' row, and count."""
    samples = [1] * (now_correct + base_correct) + [0] * (now_n - now_correct + base_n - base_correct)
    at_most = at_least = total = 0
    for chosen in itertools.combinations(range(len(samples)), now_n):
        correct = sum(samples[i] for i in chosen)
        total += 1
        at_most += correct <= now_correct
        at_least += correct >= now_correct
    return Fraction(at_most, total), Fraction(at_least, total)


def test_fisher_matches_brute_force_enumeration():
    checked = 0
    for now_n, base_n in itertools.product(range(0, 6), range(0, 6)):
        for now_correct, base_correct in itertools.product(range(now_n + 1), range(base_n + 1)):
            drop, rise = _brute_force_fisher(now_correct, now_n, base_correct, base_n)
            assert fisher_drop_p(now_correct, now_n, base_correct, base_n) == pytest.approx(float(drop), rel=1e-12)
            assert fisher_rise_p(now_correct, now_n, base_correct, base_n) == pytest.approx(float(rise), rel=1e-12)
            checked += 1
    assert checked == sum((a + 1) * (b + 1) for a in range(6) for b in range(6))


def test_fisher_large_counts_stay_in_range():
    p = fisher_drop_p(400, 1000, 600, 1000)
    assert 0.0 <= p < 1e-15
    assert 0.999999 < fisher_rise_p(400, 1000, 600, 1000) <= 1.0


# --- McNemar ------------------------------------------------------------------------------------------

def test_mcnemar_known_values():
    assert mcnemar_drop_p(5, 0) == pytest.approx(1 / 32, rel=1e-12)
    assert mcnemar_drop_p(0, 0) == 1.0
    assert mcnemar_drop_p(0, 7) == 1.0
    # lost == gained == 3: P(Bin(6, 1/2) >= 3) = (20 + 15 + 6 + 1) / 64.
    assert mcnemar_drop_p(3, 3) == pytest.approx(42 / 64, rel=1e-12)
    assert mcnemar_drop_p(1, 1) == pytest.approx(3 / 4, rel=1e-12)


def test_mcnemar_matches_enumeration():
    for lost, gained in itertools.product(range(8), range(8)):
        m = lost + gained
        if m == 0:
            continue
        at_least = sum(1 for bits in itertools.product((0, 1), repeat=m) if sum(bits) >= lost)
        assert mcnemar_drop_p(lost, gained) == pytest.approx(at_least / 2**m, rel=1e-12)


def test_mcnemar_rejects_negative():
    with pytest.raises(ValueError):
        mcnemar_drop_p(-1, 2)


# --- seed ---------------------------------------------------------------------------------------------

def test_seed_from_is_deterministic_64_bit_and_distinct():
    a = seed_from("sebench/abc123")
    assert a == seed_from("sebench/abc123")
    assert 0 <= a < 2**64
    seeds = {seed_from(f"pair-{i}") for i in range(1000)}
    assert len(seeds) == 1000
    np.random.default_rng(a)  # usable as a NumPy seed


# --- paired difference --------------------------------------------------------------------------------

def _rates(seed: int, items: int, k: int, shift: float = 0.0) -> tuple[list[float], list[float]]:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.1, 0.9, size=items)
    base = rng.binomial(k, p) / k
    now = rng.binomial(k, np.clip(p + shift, 0.0, 1.0)) / k
    return now.tolist(), base.tolist()


def test_paired_difference_is_deterministic():
    now, base = _rates(1, 120, 5, shift=-0.05)
    first = paired_difference(now, base, binary=False, seed=42)
    assert paired_difference(now, base, binary=False, seed=42) == first
    others = {paired_difference(now, base, binary=False, seed=s) for s in range(5)}
    # Same data, different resampling: the point estimate stays, the interval may move.
    assert {o.difference for o in others} == {first.difference}
    assert len({(o.low, o.high, o.p_value) for o in others}) > 1


def test_aa_identical_rates():
    now, _ = _rates(2, 80, 5)
    result = paired_difference(now, list(now), binary=False, seed=7)
    assert result.difference == 0.0
    assert result.p_value >= 0.5
    assert (result.low, result.high) == (0.0, 0.0)
    assert not max_drop_fires(result, 0.0, 0.05)
    binary = [1.0, 0.0] * 40
    result = paired_difference(binary, list(binary), binary=True, seed=7)
    assert result.difference == 0.0 and result.p_value >= 0.5 and result.method == "mcnemar"


def test_clear_drop_has_small_p_and_fires():
    now, base = _rates(3, 200, 5, shift=-0.25)
    result = paired_difference(now, base, binary=False, seed=9)
    assert result.method == "bootstrap"
    assert result.difference < -0.15
    assert result.p_value < 0.01
    assert result.low <= result.difference <= result.high < 0
    assert max_drop_fires(result, 5, 0.05)


def test_clear_rise_is_not_a_drop():
    now, base = _rates(4, 200, 5, shift=+0.25)
    result = paired_difference(now, base, binary=False, seed=9)
    assert result.difference > 0.15 and result.p_value > 0.99
    assert not max_drop_fires(result, 0, 0.05)


def test_bootstrap_agrees_with_normal_approximation():
    # Per-item differences built so the normal one-sided p-value is 0.05 exactly; the bootstrap, which
    # divides by n rather than n - 1, should be close to it on 400 items.
    rng = np.random.default_rng(11)
    noise = rng.uniform(-0.3, 0.3, size=400)
    noise -= noise.mean()
    se = noise.std(ddof=1) / math.sqrt(noise.size)
    differences = noise - 1.6448536 * se
    base = np.full(noise.size, 0.5)
    result = paired_difference((base + differences).tolist(), base.tolist(), binary=False, seed=5, resamples=4000)
    assert result.p_value == pytest.approx(0.05, abs=0.015)
    assert result.low == pytest.approx(result.difference - 1.96 * se, abs=0.25 * se)
    assert result.high == pytest.approx(result.difference + 1.96 * se, abs=0.25 * se)


def test_binary_uses_exact_mcnemar():
    # 10 items lost, 2 gained, 20 solved on both sides, 8 on neither.
    base = [1.0] * 10 + [0.0] * 2 + [1.0] * 20 + [0.0] * 8
    now = [0.0] * 10 + [1.0] * 2 + [1.0] * 20 + [0.0] * 8
    result = paired_difference(now, base, binary=True, seed=1)
    assert result.method == "mcnemar"
    assert result.p_value == mcnemar_drop_p(10, 2)
    assert result.difference == pytest.approx(-8 / 40)
    assert result.now == pytest.approx(22 / 40) and result.base == pytest.approx(30 / 40)
    assert result.low <= result.difference <= result.high


def test_paired_difference_empty_and_single():
    empty = paired_difference([], [], binary=False, seed=0)
    assert (empty.items, empty.difference, empty.low, empty.high, empty.p_value) == (0, 0.0, 0.0, 0.0, 1.0)
    single = paired_difference([0.2], [1.0], binary=False, seed=0)
    assert single.difference == pytest.approx(-0.8) and single.p_value == 1.0


@pytest.mark.parametrize(
    "now, base, binary",
    [([0.5, 0.5], [0.5], False), ([1.5], [0.5], False), ([float("nan")], [0.5], False), ([0.5], [1.0], True)],
)
def test_paired_difference_rejects_bad_input(now, base, binary):
    with pytest.raises(ValueError):
        paired_difference(now, base, binary=binary, seed=0)


def test_to_json_is_plain_and_rounded():
    now, base = _rates(5, 50, 3, shift=-0.1)
    payload = paired_difference(now, base, binary=False, seed=3).to_json()
    assert set(payload) == {"items", "now", "base", "difference", "low", "high", "p_value", "method"}
    assert type(payload["items"]) is int and type(payload["method"]) is str
    for key in ("now", "base", "difference", "low", "high", "p_value"):
        assert type(payload[key]) is float
        assert payload[key] == round(payload[key], 6)
    json.dumps(payload)


# --- gate ---------------------------------------------------------------------------------------------

def _diff(difference: float, p_value: float) -> PairedDifference:
    return PairedDifference(100, 0.5 + difference, 0.5, difference, difference, difference, p_value, "bootstrap")


def test_max_drop_fires_boundaries():
    assert not max_drop_fires(_diff(-0.05, 0.001), 5, 0.05)  # exactly the allowed drop
    assert not max_drop_fires(_diff(0.35 - 0.40, 0.001), 5, 0.05)  # the same, with float noise above 5
    assert max_drop_fires(_diff(-0.0501, 0.001), 5, 0.05)
    assert not max_drop_fires(_diff(-0.20, 0.05), 5, 0.05)  # p must be strictly below alpha
    assert max_drop_fires(_diff(-0.20, 0.0499), 5, 0.05)
    assert not max_drop_fires(_diff(+0.20, 0.0), 5, 0.05)
    assert max_drop_fires(_diff(-0.001, 0.001), 0, 0.05)


# --- mean interval ------------------------------------------------------------------------------------

def test_wilson_known_values():
    low, high = mean_interval([0.0] * 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    assert mean_interval([1.0] * 5 + [0.0] * 5) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    low, high = mean_interval([1.0] * 10)
    assert low == pytest.approx(0.7225, abs=1e-4) and high == 1.0
    assert mean_interval([1]) == pytest.approx((0.2065, 1.0), abs=1e-4)  # Wilson applies at n = 1


def test_normal_interval_and_edges():
    assert mean_interval([]) == (0.0, 0.0)
    assert mean_interval([0.4]) == (0.0, 1.0)
    half = 1.96 * 0.2 / math.sqrt(3)
    assert mean_interval([0.2, 0.4, 0.6]) == pytest.approx((0.4 - half, 0.4 + half), rel=1e-12)
    low, high = mean_interval([0.9, 1.0, 0.95])
    assert high == 1.0 and low == pytest.approx(0.95 - 1.96 * 0.05 / math.sqrt(3), rel=1e-12)
    assert mean_interval([0.5, 0.5, 0.5]) == pytest.approx((0.5, 0.5))
