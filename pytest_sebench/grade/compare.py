"""Decide whether an answer's value matches the expected value, as the reference grader means it.

The reference (SE-Bench ``EqualityChecker``) compares parsed printed outputs. We keep its meaning
but compare plain values (:mod:`pytest_sebench.execution.values`) and never evaluate text:

- A one-element list or tuple is replaced by its element, repeatedly and at every level, on both
  sides: ``[[3.0]]`` matches ``3``, ``[[1], [2]]`` matches ``[1, 2]``.
- Numbers match within an ABSOLUTE tolerance (1e-2 by default, as the reference ran). nan matches
  nan; inf matches only inf of the same sign.
- bool is a number here. The reference lets ``True`` through its numeric branch because ``bool``
  is a subclass of ``int``, so ``True`` matches ``1`` and ``1.0`` and ``False`` matches ``0``; we do
  the same (``True`` vs ``1.005`` passes too, as it does there).
- complex: real and imaginary parts each within the tolerance. A real number counts as a complex
  with a zero imaginary part, so ``(3+0j)`` matches ``3.0``. (The reference compared complex values
  exactly and never across types; a correct complex answer passes here.)
- A list matches a tuple with the same items; dicts need equal key sets (Python ``==`` on keys)
  and matching values; None matches only None; an :class:`Opaque` matches only an identical one.
- A string that reads as a literal is compared as that literal, on either side: the label
  ``['True', 'False']`` (strings) matches an answer returning ``[True, False]``, ``'1.5'`` matches
  ``1.5`` and ``'[1 2]'`` matches ``[1, 2]``. The reference did this with ``ast.literal_eval``; we use
  :func:`parse_printed`, which also reads ``'nan'``/``'inf'`` as floats. Other strings match only
  an equal string.
"""

from __future__ import annotations

import math

from pytest_sebench.grade.printed import PrintedFormError, parse_printed
from pytest_sebench.execution.values import Opaque, Value, render

__all__ = ["describe_mismatch", "values_match"]

DEFAULT_TOLERANCE = 1e-2
_SHOW_LIMIT = 80  # characters of a value shown in a mismatch reason

Number = bool | int | float | complex


def values_match(expected: Value, got: Value, tolerance: float = DEFAULT_TOLERANCE) -> bool:
    """True when ``got`` matches ``expected`` under the reference grader's rules (see module doc)."""
    return _first_difference(expected, got, tolerance, "") is None


def describe_mismatch(expected: Value, got: Value, tolerance: float = DEFAULT_TOLERANCE) -> str | None:
    """A short reason for the first difference (e.g. ``at [2][0]: expected 3.5, got 3.4 ...``), or
    None when the values match."""
    return _first_difference(expected, got, tolerance, "")


# ----------------------------------------------------------------------------------- normalising

def _literal_of_string(text: str) -> Value:
    """The value a string reads as (``'True'`` -> True), or the string itself if it is no literal."""
    try:
        parsed = parse_printed(text)
    except PrintedFormError:
        return text
    return text if isinstance(parsed, str) else parsed


def _normalise(value: Value) -> Value:
    """Unwrap one-element containers and read literal strings, until neither applies.

    Each step makes the value strictly smaller (an element, or a parse of a shorter text), so the
    loop ends."""
    while True:
        if isinstance(value, (list, tuple)) and len(value) == 1:
            value = value[0]
        elif isinstance(value, str):
            literal = _literal_of_string(value)
            if literal is value:
                return value
            value = literal
        else:
            return value


# ------------------------------------------------------------------------------------- numbers

def _is_number(value: Value) -> bool:
    return isinstance(value, (bool, int, float, complex))


def _real_difference(expected: float | int, got: float | int, tolerance: float) -> str | None:
    """Why two real numbers differ, or None: nan = nan, inf = same-signed inf, else |diff| <= tol."""
    if isinstance(expected, int) and isinstance(got, int):  # exact for ints too large for a float
        difference: float | int = abs(expected - got)
    else:
        try:
            expected_float, got_float = float(expected), float(got)
        except OverflowError:  # an int beyond float range next to a float: no tolerance applies
            return None if expected == got else "too large to compare"
        if math.isnan(expected_float) or math.isnan(got_float):
            return None if math.isnan(expected_float) and math.isnan(got_float) else "nan matches only nan"
        if math.isinf(expected_float) or math.isinf(got_float):
            return None if expected_float == got_float else "inf matches only an inf of the same sign"
        difference = abs(expected_float - got_float)
    return None if difference <= tolerance else f"|diff| {difference:.3g} > {tolerance:g}"


def _number_difference(expected: Number, got: Number, tolerance: float) -> str | None:
    if not isinstance(expected, complex) and not isinstance(got, complex):
        return _real_difference(expected, got, tolerance)
    expected_complex, got_complex = complex(expected), complex(got)
    for part, expected_part, got_part in (
        ("real", expected_complex.real, got_complex.real),
        ("imaginary", expected_complex.imag, got_complex.imag),
    ):
        reason = _real_difference(expected_part, got_part, tolerance)
        if reason is not None:
            return f"{part} part: {reason}"
    return None


# ------------------------------------------------------------------------------------ structure

def _short(value: Value) -> str:
    return render(value, _SHOW_LIMIT)


def _type_name(value: Value) -> str:
    return type(value).__name__


def _at(path: str, reason: str) -> str:
    return f"at {path}: {reason}" if path else reason


def _first_difference(expected: Value, got: Value, tolerance: float, path: str) -> str | None:
    """The reason (prefixed with where) for the first difference in depth-first order, or None."""
    expected, got = _normalise(expected), _normalise(got)

    if expected is None or got is None:
        return None if expected is got else _at(path, f"expected {_short(expected)}, got {_short(got)}")
    if isinstance(expected, Opaque) or isinstance(got, Opaque):
        if expected == got:
            return None
        return _at(path, f"expected {_short(expected)}, got {_short(got)} (not comparable by value)")
    if _is_number(expected) and _is_number(got):
        reason = _number_difference(expected, got, tolerance)  # type: ignore[arg-type]
        if reason is None:
            return None
        return _at(path, f"expected {_short(expected)}, got {_short(got)} ({reason})")
    if isinstance(expected, (list, tuple)) and isinstance(got, (list, tuple)):
        return _sequence_difference(expected, got, tolerance, path)
    if isinstance(expected, dict) and isinstance(got, dict):
        return _dict_difference(expected, got, tolerance, path)
    if isinstance(expected, str) and isinstance(got, str):
        return None if expected == got else _at(path, f"expected {_short(expected)}, got {_short(got)}")
    return _at(path, f"type {_type_name(expected)} vs {_type_name(got)}: "
                     f"expected {_short(expected)}, got {_short(got)}")


def _sequence_difference(
    expected: list | tuple, got: list | tuple, tolerance: float, path: str
) -> str | None:
    if len(expected) != len(got):
        return _at(path, f"length {len(expected)} != {len(got)}")
    for index, (expected_item, got_item) in enumerate(zip(expected, got, strict=True)):
        reason = _first_difference(expected_item, got_item, tolerance, f"{path}[{index}]")
        if reason is not None:
            return reason
    return None


def _dict_difference(expected: dict, got: dict, tolerance: float, path: str) -> str | None:
    if expected.keys() != got.keys():
        missing = [key for key in expected if key not in got]
        unexpected = [key for key in got if key not in expected]
        return _at(path, f"keys differ: missing {_short(missing)}, unexpected {_short(unexpected)}")
    for key, expected_item in expected.items():
        reason = _first_difference(expected_item, got[key], tolerance, f"{path}[{key!r}]")
        if reason is not None:
            return reason
    return None
