"""Tests for reading printed expected outputs (pytest_sebench.grade.printed)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from pytest_sebench.grade.compare import values_match
from pytest_sebench.grade.printed import PrintedFormError, parse_printed
from pytest_sebench.execution.values import Value

nan, inf = float("nan"), float("inf")


def same(a: Value, b: Value) -> bool:
    """Strict structural equality: exact types (list is not tuple, 1 is not 1.0), nan = nan, and
    the sign of zero counts. Used to pin what the parser returns, not how grading compares."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, complex):
        return same(a.real, b.real) and same(a.imag, b.imag)
    return a == b


def shape_of(value: Value) -> tuple[int, ...]:
    """The array shape nested lists stand for (the first item decides the deeper dimensions)."""
    if isinstance(value, list):
        return (len(value), *(shape_of(value[0]) if value else ()))
    return ()


# --------------------------------------------------------------------------- Python literals

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("72", 72),
        ("-7", -7),
        ("18.9", 18.9),
        ("1e-09", 1e-09),
        ("1e+16", 1e16),
        ("-0.0", -0.0),
        ("inf", inf),
        ("-inf", -inf),
        ("nan", nan),
        ("(1+2j)", 1 + 2j),
        ("2j", 2j),
        ("-1j", complex(0, -1)),
        ("(-0-1j)", complex(-0.0, -1)),
        ("(nan+infj)", complex(nan, inf)),
        ("(1e-05-2.5j)", complex(1e-05, -2.5)),
        ("True", True),
        ("False", False),
        ("None", None),
        ("'a'", "a"),
        ('"it\'s"', "it's"),
        (r"'a\'b\\c\n\t\x41\u00e9'", "a'b\\c\n\tA\u00e9"),
        ("'#'", "#"),
        ("[]", []),
        ("[1, 2.5, True, (2+3j), False, -7]", [1, 2.5, True, 2 + 3j, False, -7]),
        ("[[nan, 0.5], [1e-07, -inf]]", [[nan, 0.5], [1e-07, -inf]]),
        ("()", ()),
        ("(1,)", (1,)),
        ("([1, 2], 4)", ([1, 2], 4)),
        ("{}", {}),
        ("{-1: [0.8], 0: [1.0]}", {-1: [0.8], 0: [1.0]}),
        ("{'a': (1, 2), (1, 'b'): None}", {"a": (1, 2), (1, "b"): None}),
        ("{3, 1, 2}", [1, 2, 3]),  # sets: sorted lists
        ("{'b', 'a'}", ["a", "b"]),
        ("set()", []),
        ("frozenset({2, 1})", [1, 2]),
        ("  [1, 2]\n", [1, 2]),
    ],
)
def test_python_literals(text: str, expected: Value) -> None:
    assert same(parse_printed(text), expected)


# ------------------------------------------------------------------------ NumPy str() forms

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[1 2 3]", [1, 2, 3]),
        ("[3.75 7.5 ]", [3.75, 7.5]),
        ("[ True False]", [True, False]),
        ("[1.+2.j 3.-1.j]", [1 + 2j, 3 - 1j]),
        ("[-0.5  inf  nan]", [-0.5, inf, nan]),
        ("['a' 'b']", ["a", "b"]),
        ("['a' \"it's\"]", ["a", "it's"]),
        ("[[1 2]\n [3 4]]", [[1, 2], [3, 4]]),
        ("[[[1. 2.]]\n\n [[3. 4.]]]", [[[1.0, 2.0]], [[3.0, 4.0]]]),
        ("[1.00000000e+00 6.32455532e-03]", [1.0, 6.32455532e-03]),
        ("[1.e-05 1.e+00]", [1e-05, 1.0]),
        ("[0. 1.]", [0.0, 1.0]),
        # NumPy pads real and imaginary parts apart, so spaces can split one complex number
        ("[ 1.5 +0.00e+00j  nan     +infj\n   0.        -infj]",
         [1.5 + 0j, complex(nan, inf), complex(0, -inf)]),
        ("[-0.-1.j]", [complex(-0.0, -1.0)]),
        ("[list([1, 2]) list([3])]", [[1, 2], [3]]),
        ("[(1, 2.) (3, 4.)]", [(1, 2.0), (3, 4.0)]),
        ("[None 1]", [None, 1]),
    ],
)
def test_numpy_str_forms(text: str, expected: Value) -> None:
    assert same(parse_printed(text), expected)


def test_wrapped_long_array() -> None:
    text = "[ 0.   1.1  2.2  3.3  4.4  5.5  6.6  7.7  8.8  9.9 11.  12.1 13.2 14.3\n 15.4 16.5]"
    assert same(parse_printed(text), [round(0.0 + 1.1 * i, 1) for i in range(16)])


# ----------------------------------------------------------------------- NumPy repr() forms

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("array([1, 2, 3])", [1, 2, 3]),
        ("array([1., 2.], dtype=float32)", [1.0, 2.0]),
        ("array([], dtype=float64)", []),
        ("array([], shape=(0, 3), dtype=float64)", []),
        ("array([], shape=(2, 0), dtype=int64)", [[], []]),
        ("array([], shape=(2, 1, 0), dtype=int64)", [[[]], [[]]]),
        ("array(5)", 5),
        ("array('abc', dtype='<U3')", "abc"),
        ("array([[1., 2.],\n       [3., 4.]])", [[1.0, 2.0], [3.0, 4.0]]),
        ("array([1, None, 'a'], dtype=object)", [1, None, "a"]),
        ("array([(1, 2.)], dtype=[('f0', '<i4'), ('f1', '<f8')])", [(1, 2.0)]),
        ("ZWCArray([1, 2])", [1, 2]),
        ("QELArray([[1.5]])", [[1.5]]),
        ("matrix([[1, 2]])", [[1, 2]]),
        ("np.float64(3.0)", 3.0),
        ("np.float32(nan)", nan),
        ("np.float64(-inf)", -inf),
        ("np.int64(3)", 3),
        ("np.uint8(255)", 255),
        ("np.True_", True),
        ("np.False_", False),
        ("np.str_('a')", "a"),
        ("np.complex128(1+2j)", 1 + 2j),
        ("np.complex64(-0-1j)", complex(-0.0, -1)),
        ("np.longdouble('1.5')", 1.5),
        ("np.clongdouble('1+2j')", 1 + 2j),
        ("dtype('float64')", "float64"),
        ("[np.float64(3.33), np.int64(2)]", [3.33, 2]),
        ("(array([5.]), array([ True]), array([1.+2.j]))", ([5.0], [True], [1 + 2j])),
        ("{'U': array([1, 2]), 'S': ZWCArray([3.])}", {"U": [1, 2], "S": [3.0]}),
        ("EigResult(eigenvalues=array([1., 2.]), eigenvectors=array([[1., 0.],\n       [0., 1.]]))",
         ([1.0, 2.0], [[1.0, 0.0], [0.0, 1.0]])),
        ("SVDResult(U=array([[1.]]), S=array([2.]), Vh=array([[1.]]))", ([[1.0]], [2.0], [[1.0]])),
    ],
)
def test_numpy_repr_forms(text: str, expected: Value) -> None:
    assert same(parse_printed(text), expected)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "[0 1 2 ... 7 8 9]",  # NumPy summarised the array: values are missing
        "array([0, 1, ..., 9])",
        "hello",  # print() of a plain string: no quotes, not a literal
        "info",
        "1 2",
        "[1-2]",  # juxtaposed items need whitespace between them
        "[1,, 2]",
        "[1, 2",
        "[1, 2]]",
        "(1 2)",
        "{1: 2, 3}",
        "{[1]: 2}",
        "{[1], 2}",
        "'abc",
        "b'abc'",
        "np.bytes_(b'a')",
        "float('nan')",
        "masked_array(data=[1], mask=False)",
        "array(1, 2)",
        "np.int64(1.5)",
        "Result(x=float64)",
        "[1 2, 3]",
        "array([], shape=(3, 2), dtype=int64)",  # an empty array needs a zero in its shape
        "array([], shape=(100000000, 100000000, 0), dtype=int64)",  # would build 1e16 lists
        "1" * 5000,  # more digits than Python's int() accepts
        "1.5.3",
        "[" * 5000 + "]" * 5000,
    ],
)
def test_unreadable_text_is_rejected(text: str) -> None:
    with pytest.raises(PrintedFormError):
        parse_printed(text)


def test_printed_form_error_is_a_value_error() -> None:
    assert issubclass(PrintedFormError, ValueError)


# ------------------------------------------ the key property: NumPy's own output reads back

INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint64]
FLOAT_SCALES = {"small": (10.0, 1e-6), "tiny": (1e-6, 1e-6), "wide": (1e5, 1e-2)}


def random_shape(rng: np.random.Generator) -> tuple[int, ...]:
    style = rng.integers(0, 10)
    if style == 0:
        return ()
    if style == 1:
        return (int(rng.integers(40, 400)),)  # long enough to wrap over several lines
    if style == 2:
        return tuple(int(x) for x in rng.integers(0, 3, size=rng.integers(1, 4)))  # may be empty
    return tuple(int(x) for x in rng.integers(1, 5, size=rng.integers(1, 5)))


def random_floats(rng: np.random.Generator, shape: tuple[int, ...], scale: str) -> np.ndarray:
    magnitude, _ = FLOAT_SCALES[scale]
    if scale == "wide":  # magnitudes over ten decades: NumPy switches to scientific notation
        values = 10.0 ** rng.uniform(-5, math.log10(magnitude), size=shape) * rng.choice([-1, 1], size=shape)
    else:
        values = rng.uniform(-magnitude, magnitude, size=shape)
    values = np.asarray(values, dtype=np.float64)
    mask = rng.random(size=shape)
    values = np.where(mask < 0.05, np.round(values), values)  # whole numbers print as '3.'
    specials = np.array([nan, inf, -inf, -0.0, 0.0])
    return np.where(mask > 0.95, rng.choice(specials, size=shape), values)


def random_array(rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """A random array and the absolute tolerance its printed (rounded) form must hold to."""
    shape = random_shape(rng)
    kind = rng.choice(["int", "bool", "str", "float", "complex"])
    if kind == "int":
        dtype = INT_DTYPES[rng.integers(len(INT_DTYPES))]
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True), 0.0
    if kind == "bool":
        return rng.random(size=shape) < 0.5, 0.0
    if kind == "str":
        alphabet = list("ab z'\"\\\n\t#é,[]")
        words = ["".join(rng.choice(alphabet, size=rng.integers(0, 6))) for _ in range(int(np.prod(shape)))]
        return np.array(words, dtype=str).reshape(shape), 0.0
    scale = str(rng.choice(list(FLOAT_SCALES)))
    tolerance = FLOAT_SCALES[scale][1]
    values = random_floats(rng, shape, scale)
    if kind == "complex":
        # Set the parts apart: 1j * inf would turn the real part into nan.
        complex_values = np.empty(shape, dtype=rng.choice([np.complex64, np.complex128]))
        complex_values.real, complex_values.imag = values, random_floats(rng, shape, scale)
        return complex_values, tolerance
    return values.astype(rng.choice([np.float32, np.float64])), tolerance


def assert_reads_back(text: str, array: np.ndarray, tolerance: float) -> None:
    parsed = parse_printed(text)
    expected = array.tolist()
    assert shape_of(parsed) == shape_of(expected), text  # (0, 3) and (0,) both list as []
    if tolerance == 0.0:  # ints, bools, strings print exactly
        assert same(parsed, expected), text
    else:
        assert values_match(expected, parsed, tolerance), text


def test_numpy_str_and_repr_read_back_as_tolist() -> None:
    rng = np.random.default_rng(20240611)
    kinds_seen = set()
    for _ in range(600):
        array, tolerance = random_array(rng)
        kinds_seen.add((array.dtype.kind, array.ndim))
        assert_reads_back(repr(array), array, tolerance)
        if array.ndim == 0 and array.dtype.kind == "U":
            continue  # str() of a 0-d string array is the bare string, like print('abc')
        if array.size == 0:  # str() prints '[]' whatever the shape: only repr() keeps shape=(...)
            assert same(parse_printed(str(array)), [])
            continue
        assert_reads_back(str(array), array, tolerance)
    assert {kind for kind, _ in kinds_seen} >= {"i", "u", "b", "U", "f", "c"}
    assert max(ndim for _, ndim in kinds_seen) >= 4


def test_wrapped_numpy_output_really_wraps() -> None:
    array = np.linspace(-3, 3, 200)
    assert "\n" in str(array) and "\n" in repr(array)
    assert_reads_back(str(array), array, 1e-6)
    assert_reads_back(repr(array), array, 1e-6)


def test_numpy_values_inside_python_containers() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(3, 3)), rng.integers(0, 9, size=4)
    sym = a + a.T
    cases: list[tuple[object, Value]] = [
        ((a, b), (a.tolist(), b.tolist())),
        ([np.float64(1.25), np.int64(-3), np.True_, np.complex128(1 - 2j)], [1.25, -3, True, 1 - 2j]),
        ({"U": a, "n": np.int32(4)}, {"U": a.tolist(), "n": 4}),
        (np.linalg.eigh(sym), tuple(part.tolist() for part in np.linalg.eigh(sym))),
        (np.linalg.svd(a), tuple(part.tolist() for part in np.linalg.svd(a))),
        ([a.dtype, b.dtype], [str(a.dtype), str(b.dtype)]),
    ]
    for container, expected in cases:
        text = str(container)
        assert values_match(expected, parse_printed(text), 1e-6), text


# -------------------------------------------------------- every label of the real benchmark

def test_every_real_label_piece_parses(shared_data: Path) -> None:
    path = shared_data / "single_test.jsonl"
    pieces = [
        piece
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
        for piece in json.loads(line)["right_exe_result"].split("#")
    ]
    assert pieces, "no label pieces found"
    failures, truncated = [], 0
    for piece in pieces:
        if "..." in piece:
            truncated += 1
            with pytest.raises(PrintedFormError):
                parse_printed(piece)
            continue
        try:
            value = parse_printed(piece)
        except PrintedFormError as error:
            failures.append(f"{piece[:80]!r}: {error}")
            continue
        assert values_match(value, value, 0.0), piece  # nan-safe reflexivity at zero tolerance
    # Every piece without '...' is readable: none needs the reference's string-equality fallback.
    assert failures == [], "\n".join(failures)
    assert truncated < len(pieces)
