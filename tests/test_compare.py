"""Tests for comparing expected and actual values (pytest_sebench.grade.compare)."""

from __future__ import annotations

import random

import pytest

from pytest_sebench.grade.compare import describe_mismatch, values_match
from pytest_sebench.execution.values import Opaque, Value

nan, inf = float("nan"), float("inf")


MATCHING: list[tuple[Value, Value]] = [
    # numbers: absolute tolerance 1e-2
    (1, 1),
    (1, 1.0),
    (3.567, 3.568),
    (100.0, 100.009),
    (1e-09, 0.0),
    (-0.0, 0.0),
    (nan, nan),
    (inf, inf),
    (-inf, -inf),
    (10**30, 10**30),
    # bool is a number, as in the reference (bool subclasses int)
    (True, 1),
    (True, 1.0),
    (False, 0),
    (True, True),
    # complex: both parts within the tolerance; a real equals complex with imaginary 0
    (1 + 2j, 1.005 + 1.995j),
    (complex(nan, inf), complex(nan, inf)),
    (3 + 0j, 3.0),
    (-1j, complex(-0.0, -1.0)),
    # containers
    ([1, 2, 3], [1, 2, 3]),
    ([1, 2], (1, 2)),
    ([[1, 2], [3, 4]], ((1, 2), (3, 4))),
    ([], ()),
    ([[1.0, nan], [inf, -inf]], [[1.0, nan], [inf, -inf]]),
    # one-element containers unwrap, repeatedly and at every level
    ([[[25.0]]], 25),
    ([3.0], (3,)),
    ([[1], [2], [3]], [1, 2, 3]),
    ([[[1, 2]]], [1, 2]),
    ([{"a": 1}], {"a": 1}),
    # dicts
    ({}, {}),
    ({"U": [1.0, 2.0], "S": 3}, {"S": 3.001, "U": (1.0, 2.0)}),
    ({-1: [0.8], 0: [1.0]}, {0: 1.0, -1: 0.8}),
    # strings, and strings that read as literals (either side)
    ("abc", "abc"),
    ("", ""),
    (["True", "False"], [True, False]),
    ([True, False], ["True", "False"]),
    ([["True", "True"], ["False", "True"]], [[1, 1], [0, 1]]),
    ("1.5", 1.5),
    ("[1 2 3]", [1, 2, 3]),
    ("nan", nan),
    ("'a'", "'a'"),
    # None and Opaque
    (None, None),
    ([None], None),
    (Opaque("<object>", "Foo"), Opaque("<object>", "Foo")),
]


MISMATCHING: list[tuple[Value, Value]] = [
    (1, 2),
    (3.5, 3.52),
    (0.0, 0.011),
    (nan, 0.0),
    (0.0, nan),
    (inf, -inf),
    (inf, 1e308),
    (10**30, 10**30 + 1),
    (True, False),
    (True, 0),
    (False, 0.5),
    (1 + 2j, 1 + 2.5j),
    (1 + 2j, 1.5 + 2j),
    (3 + 1j, 3.0),
    (complex(nan, 0), 0j),
    ([1, 2, 3], [1, 2]),
    ([1, 2], [2, 1]),
    ([[1, 2], [3, 4]], [1, 2, 3, 4]),
    ([], [1, 2]),
    ([1, 2], {"a": 1}),
    ({"a": 1}, {"a": 1, "b": 2}),
    ({"a": 1}, {"b": 1}),
    ({"a": [1, 2]}, {"a": [1, 3]}),
    ({1: 2}, {"1": 2}),
    ("abc", "abd"),
    ("abc", " abc"),
    ("a", ["a", "b"]),
    ("True", False),
    ("[1 2 3]", [1, 2, 4]),
    (1, "one"),
    (None, 0),
    (None, []),
    (None, "x"),
    (0, None),
    (Opaque("<object>"), Opaque("<other>")),
    (Opaque("1"), 1),
    (Opaque("abc"), "abc"),
]


@pytest.mark.parametrize(("expected", "got"), MATCHING)
def test_matching_values(expected: Value, got: Value) -> None:
    assert values_match(expected, got)
    assert describe_mismatch(expected, got) is None


@pytest.mark.parametrize(("expected", "got"), MISMATCHING)
def test_mismatching_values(expected: Value, got: Value) -> None:
    assert not values_match(expected, got)
    reason = describe_mismatch(expected, got)
    assert isinstance(reason, str) and reason


@pytest.mark.parametrize(("expected", "got"), MATCHING + MISMATCHING)
def test_matching_is_symmetric(expected: Value, got: Value) -> None:
    assert values_match(expected, got) == values_match(got, expected)


def test_none_equals_the_string_none() -> None:
    # 'None' reads as the literal None (the reference's literal_eval did the same).
    assert values_match(None, "None")


def test_tolerance_is_absolute_and_configurable() -> None:
    assert values_match(1000.0, 1000.009)  # absolute, not relative: 1e-2 at any magnitude
    assert not values_match(1000.0, 1000.02)
    assert not values_match(1e-5, 2e-5, tolerance=1e-6)
    assert values_match(1e-5, 1.5e-5, tolerance=1e-5)
    assert values_match(1.0, 1.4, tolerance=0.5)
    assert not values_match(1.0, 1.0000001, tolerance=0.0)
    assert values_match(nan, nan, tolerance=0.0)


def test_default_tolerance_boundary() -> None:
    assert values_match(0, 0.0099)
    assert values_match(0, 0.01)
    assert not values_match(0, 0.0101)


@pytest.mark.parametrize(
    ("expected", "got", "reason"),
    [
        ([[1.0, 2.0], [3.5, 4.0]], [[1.0, 2.0], [3.4, 4.0]],
         "at [1][0]: expected 3.5, got 3.4 (|diff| 0.1 > 0.01)"),
        ([1, 2, 3], [1, 2, 3, 4], "length 3 != 4"),
        ([[1, 2, 3], [4, 5]], [[1, 2, 3], [4, 5, 6]], "at [1]: length 2 != 3"),
        ([1, 2], "ab", "type list vs str: expected [1, 2], got 'ab'"),
        ({"U": [1, 2]}, {"U": [1, 3]}, "at ['U'][1]: expected 2, got 3 (|diff| 1 > 0.01)"),
        ({"a": 1, "b": 2}, {"a": 1, "c": 2}, "keys differ: missing ['b'], unexpected ['c']"),
        (nan, 1.0, "expected nan, got 1.0 (nan matches only nan)"),
        (1 + 2j, 1 + 3j, "expected (1+2j), got (1+3j) (imaginary part: |diff| 1 > 0.01)"),
        (None, 0, "expected None, got 0"),
        ("a", "b", "expected 'a', got 'b'"),
    ],
)
def test_describe_mismatch_names_the_first_difference(expected: Value, got: Value, reason: str) -> None:
    assert describe_mismatch(expected, got) == reason


def test_describe_mismatch_uses_the_given_tolerance() -> None:
    assert describe_mismatch(1.0, 1.3, tolerance=0.5) is None
    assert describe_mismatch(1.0, 1.3, tolerance=0.1) == "expected 1.0, got 1.3 (|diff| 0.3 > 0.1)"


def test_long_values_are_shortened_in_reasons() -> None:
    reason = describe_mismatch(["x" * 1000, 1], ["y" * 1000, 1])
    assert reason is not None and len(reason) < 300


# ----------------------------------------------- random nested values: one change is found

def random_value(rng: random.Random, depth: int = 0) -> Value:
    choice = rng.random()
    if depth >= 3 or choice < 0.4:
        return rng.choice([rng.uniform(-100, 100), rng.randint(-50, 50), complex(rng.random(), rng.random())])
    if choice < 0.8:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(2, 4))]
    return {f"k{index}": random_value(rng, depth + 1) for index in range(rng.randint(1, 3))}


def leaf_paths(value: Value, path: tuple = ()) -> list[tuple]:
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in leaf_paths(item, (*path, index))]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in leaf_paths(item, (*path, key))]
    return [path]


def shifted(value: Value, path: tuple, delta: float) -> Value:
    if not path:
        return value + delta  # type: ignore[operator]
    head, rest = path[0], path[1:]
    if isinstance(value, list):
        return [shifted(item, rest, delta) if index == head else item for index, item in enumerate(value)]
    assert isinstance(value, dict)
    return {key: shifted(item, rest, delta) if key == head else item for key, item in value.items()}


def test_a_single_changed_leaf_is_found_where_it_is() -> None:
    rng = random.Random(1234)
    for _ in range(300):
        value = random_value(rng)
        if not isinstance(value, (list, dict)):
            continue
        path = rng.choice(leaf_paths(value))
        assert values_match(value, shifted(value, path, 0.004))  # inside the tolerance
        changed = shifted(value, path, 0.5)
        assert not values_match(value, changed)
        reason = describe_mismatch(value, changed)
        where = "".join(f"[{step!r}]" for step in path)
        assert reason is not None and reason.startswith(f"at {where}: "), (reason, where)
