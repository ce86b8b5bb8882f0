"""One behaviour, every backend: the same answers give the same data and the same verdicts.

Runs against every backend of the registry (``conftest.sandbox_backends``: built-in ones and those an
installed package adds; ``conftest.TEST_DOUBLES`` says how a backend is built here when its name alone
would not do): every kind of returned value, opaque objects, per-case exceptions, load
errors, time, memory and output limits, and whole verdicts for right, wrong, raising, hanging,
exiting and NumPy-reaching answers.
"""

from __future__ import annotations

import math

import pytest

from pytest_sebench.data.jsonl import read_jsonl
from pytest_sebench.data.library import Library, load_library
from pytest_sebench.data.problems import problem_from_row
from pytest_sebench.execution.base import Execution, Job, Limits
from pytest_sebench.grade.compare import values_match
from pytest_sebench.execution.values import Opaque
from pytest_sebench.grade.verdict import CORRECT, EXE_ERROR, NUMPY, RESULT_ERROR, judge

MiB = 1024**2


@pytest.fixture(scope="module")
def library(fixture_data) -> Library:
    return load_library(fixture_data / "api_doc.jsonl")


def execute(backend, library: Library, code: str, inputs: tuple[str, ...] = ("",), entry: str = "f",
            limits: Limits = Limits()) -> Execution:
    job = Job(library.runtime_spec(), f"import {library.name}\n{code}", entry, tuple(inputs))
    return backend.sandbox(limits).execute(job)


def same(expected, got) -> bool:
    """Equal, with exact types (True is not 1), nan equal to nan, and containers compared item by item."""
    if type(expected) is not type(got):
        return False
    if isinstance(expected, float):
        return (math.isnan(expected) and math.isnan(got)) or expected == got
    if isinstance(expected, complex):
        return same(expected.real, got.real) and same(expected.imag, got.imag)
    if isinstance(expected, (list, tuple)):
        return len(expected) == len(got) and all(map(same, expected, got))
    if isinstance(expected, dict):
        return expected.keys() == got.keys() and all(same(expected[key], got[key]) for key in expected)
    return expected == got


NAN, INF = float("nan"), float("inf")
# name: (expression in the sandbox, value expected back on the host)
RETURNS = {
    "int": ("3", 3),
    "big_int": ("2 ** 70", 2**70),
    "float": ("2.5", 2.5),
    "nan": ("float('nan')", NAN),
    "inf": ("math.inf", INF),
    "minus_inf": ("-math.inf", -INF),
    "complex": ("1 - 2.5j", 1 - 2.5j),
    "complex_nan_inf": ("complex(math.nan, -math.inf)", complex(NAN, -INF)),
    "bool": ("True", True),
    "str": ("'héllo\\nwörld'", "héllo\nwörld"),
    "none": ("None", None),
    "list": ("[1, 2.5, 'a', False]", [1, 2.5, "a", False]),
    "tuple": ("(1, (2, 3))", (1, (2, 3))),
    "dict": ("{'a': 1, 2: [3], (1, 2): None}", {"a": 1, 2: [3], (1, 2): None}),
    "nested": ("{'x': [(1, 2.0), {'y': None}], 'z': [[{'w': (math.inf,)}]]}",
               {"x": [(1, 2.0), {"y": None}], "z": [[{"w": (INF,)}]]}),
    "array": ("qel.pihirib([1, 2, 3])", [1, 2, 3]),
    "array_0d": ("qel.pihirib(5.5)", 5.5),
    "array_2d": ("qel.pihirib([[1, 2], [3, 4]])", [[1, 2], [3, 4]]),
    "array_float_special": ("qel.pihirib([1.5, math.nan, -math.inf])", [1.5, NAN, -INF]),
    "array_complex": ("qel.pihirib([1 + 1j, 2])", [1 + 1j, 2 + 0j]),
    "array_bool": ("qel.pihirib([True, False])", [True, False]),
    "array_str": ("qel.pihirib(['a', 'bc'])", ["a", "bc"]),
    "array_empty": ("qel.pihirib([])", []),
    "array_from_library_call": ("qel.vihalir([1, 2, 3])", [1, 3, 6]),
    "plain_ndarray": ("qel.nugat(3).T", [0, 1, 2]),  # .T hands out a plain ndarray
    "linalg_ndarray": ("qel.vom.wirire(qel.pihirib([[2.0, 0], [0, 4]]))", [[0.5, 0.0], [0.0, 0.25]]),
    "transposed": ("qel.pihirib([[1, 2]]).T", [[1], [2]]),
    "tuple_of_arrays": ("(qel.pihirib([1]), qel.pihirib([[2.5]]))", ([1], [[2.5]])),
    # NumPy scalars, made from the scalar type of an array the library returned
    "numpy_int64": ("scalar([0], 7)", 7),
    "numpy_float32": ("scalar([0.5], 1.5, 'float32')", 1.5),
    "numpy_float64_nan": ("scalar([0.5], 'nan')", NAN),
    "numpy_bool": ("scalar([True], False)", False),
    "numpy_complex": ("scalar([1j], 1 + 2j)", 1 + 2j),
    "numpy_str": ("scalar(['a'], 's')", "s"),
    "library_scalar": ("qel.dumim(qel.pihirib([1, 2]))", 3),
    "library_float_scalar": ("qel.leyeta(qel.pihirib([1, 2]))", 1.5),
    "named_tuple": ("Point(1, 2.5)", (1, 2.5)),
    "typed_named_tuple": ("Pair(qel.pihirib([1, 2]), 'b')", ([1, 2], "b")),
}
RETURNS_CODE = """
import collections, math, typing
def scalar(example, value, dtype=None):
    return qel.pihirib(example, dtype=dtype).dtype.type(value)
Point = collections.namedtuple("Point", "x y")
class Pair(typing.NamedTuple):
    first: object
    second: str
def f(k):
    return {%s}[k]()
""" % ", ".join(f"{name!r}: lambda: {expression}" for name, (expression, _) in RETURNS.items())  # noqa: UP031  (code full of braces)


@pytest.fixture(scope="module")
def returned(backend, library) -> dict[str, object]:
    execution = execute(backend, library, RETURNS_CODE, tuple(f"k={name!r}" for name in RETURNS))
    assert execution.load_error is None and execution.ended is None, execution.stderr
    return dict(zip(RETURNS, execution.cases, strict=True))


@pytest.mark.parametrize("name", RETURNS)
def test_return_values_come_back_as_data(returned, name):
    run = returned[name]
    assert run is not None and run.ok, run
    assert same(RETURNS[name][1], run.value), f"{name}: got {run.value!r}"


def test_printed_form_is_what_the_value_prints(returned):
    assert returned["array_2d"].printed == "[[1 2]\n [3 4]]"
    assert returned["array_float_special"].printed == "[ 1.5  nan -inf]"
    assert returned["complex"].printed == "(1-2.5j)"
    assert returned["named_tuple"].printed == "Point(x=1, y=2.5)"


OPAQUE_CODE = """
class AlwaysEqual:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __hash__ = object.__hash__
    def __repr__(self): return "3"
class EqualFloat(float):
    def __eq__(self, other): return True
class BadRepr:
    def __repr__(self): raise RuntimeError("no repr")
def f(k):
    return {"object": AlwaysEqual(), "float_subclass": EqualFloat(3.0), "bad_repr": BadRepr(),
            "inside_list": [AlwaysEqual()]}[k]
"""


@pytest.mark.parametrize("kind", ["object", "float_subclass", "bad_repr", "inside_list"])
def test_object_with_custom_eq_comes_back_opaque_and_equals_nothing(backend, library, kind):
    execution = execute(backend, library, OPAQUE_CODE, (f"k={kind!r}",))
    run = execution.cases[0]
    assert run is not None and run.ok, execution
    opaque = run.value[0] if kind == "inside_list" else run.value
    assert isinstance(opaque, Opaque)
    for expected in (3, 3.0, "3", None, True, [3], (), {}, NAN, [[3]], "AlwaysEqual()"):
        assert not values_match(expected, run.value), expected
        assert opaque != expected


def test_exceptions_are_per_case_with_type_and_message(backend, library):
    code = """
class Odd(Exception):
    def __str__(self): raise ValueError("no message")
def f(x):
    if x == 1: raise ValueError("bad one")
    if x == 2: return 1 / 0
    if x == 3: raise Odd()
    return x * 10
"""
    execution = execute(backend, library, code, ("x=0", "x=1", "x=2", "x=3", "x=4"))
    assert execution.load_error is None and execution.ended is None
    values = [run.value if run.ok else None for run in execution.cases]
    assert values == [0, None, None, None, 40]
    errors = [(run.error.type, run.error.message) for run in execution.cases if not run.ok]
    assert errors == [("ValueError", "bad one"), ("ZeroDivisionError", "division by zero"),
                      ("Odd", "<message unavailable>")]
    assert '"<answer>", line 6, in f' in execution.cases[1].error.where  # the answer's own line


@pytest.mark.parametrize("statement, error_type, message", [
    ("raise RuntimeError('at import')", "RuntimeError", "at import"),
    ("value = undefined_name", "NameError", "name 'undefined_name' is not defined"),
    ("{}['boom']", "KeyError", "'boom'"),  # not to be mistaken for a missing entry function
    ("import sys; sys.exit(2)", "SystemExit", "2"),
])
def test_error_at_module_level_is_a_load_error(backend, library, statement, error_type, message):
    execution = execute(backend, library, f"{statement}\ndef f(x):\n    return x\n", ("x=1", "x=2"))
    assert execution.load_error is not None
    assert (execution.load_error.type, execution.load_error.message) == (error_type, message)
    assert execution.cases == (None, None)
    assert execution.ended is None  # the runner finished normally; nothing was killed
    assert execution.case_failure(0) == execution.case_failure(1) == execution.load_error


@pytest.mark.parametrize("code, error_type", [
    ("def g(x):\n    return x\n", "NameError"),
    ("f = 3\n", "TypeError"),
])
def test_missing_entry_function(backend, library, code, error_type):
    execution = execute(backend, library, code, ("x=1",))
    assert execution.load_error is not None and execution.load_error.type == error_type
    assert "f" in execution.load_error.message
    assert execution.cases == (None,)


def test_timeout_ends_unfinished_cases_and_keeps_finished_ones(backend, library):
    code = "import time\ndef f(x):\n    while x:\n        pass\n    return 7\n"
    execution = execute(backend, library, code, ("x=0", "x=1", "x=0"), limits=Limits(timeout_seconds=1))
    assert execution.cases[0] is not None and execution.cases[0].value == 7
    assert execution.cases[1:] == (None, None)
    assert execution.ended is not None and execution.ended.type == "Timeout"
    assert execution.case_failure(1).type == execution.case_failure(2).type == "Timeout"


def test_timeout_at_module_level(backend, library):
    execution = execute(backend, library, "import time\ntime.sleep(60)\ndef f():\n    return 1\n",
                        limits=Limits(timeout_seconds=1))
    assert execution.cases == (None,) and execution.load_error is None
    assert execution.case_failure(0).type == "Timeout"


@pytest.mark.parametrize("bomb", [
    "blob = bytearray(1024 ** 3)",  # one GiB at once
    "blob = [bytearray(64 * 1024 ** 2) for _ in range(16)]",  # a GiB in touched pieces
    "blob = qel.sevuro((1024 ** 3) // 8)",  # a GiB of float ones through the library
])
def test_memory_bomb_hits_the_memory_limit(backend, library, bomb):
    code = f"def f(x):\n    if x:\n        {bomb}\n        return len(blob)\n    return 1\n"
    execution = execute(backend, library, code, ("x=1", "x=0"),
                        limits=Limits(memory_bytes=512 * MiB, timeout_seconds=30))
    first = execution.cases[0]
    if first is not None:
        assert first.error is not None and first.error.type == "MemoryError", first
        assert execution.cases[1] is not None and execution.cases[1].value == 1  # the next case runs
    else:
        assert execution.ended is not None and execution.ended.type == "Killed", execution.ended


@pytest.mark.parametrize("noise, stopped", [
    ("while True:\n            print('x' * 1000)", True),
    ("import sys\n        while True:\n            sys.stderr.write('y' * 1000)", True),
    ("open('big.txt', 'w').write('z' * 200_000)", True),
    ("print('x' * 99_990)\n        print('y' * 20)", False),  # over the cap only when the runner flushes
    ("import sys\n        sys.stdout = None", False),  # not output, but it must not break the runner either
])
def test_output_cap_stops_the_answer_not_the_runner(backend, library, noise, stopped):
    limit = 100_000
    code = f"def f(x):\n    if x:\n        {noise}\n    return 5\n"
    execution = execute(backend, library, code, ("x=0", "x=1", "x=0"), limits=Limits(output_bytes=limit))
    assert execution.ended is None, execution.stderr
    assert execution.cases[0].value == 5 and execution.cases[2].value == 5  # the cases around it still run
    noisy = execution.cases[1]
    if stopped:
        assert noisy.error is not None and noisy.error.type == "OSError", noisy
        assert "File too large" in noisy.error.message
    else:
        assert noisy.value == 5, noisy
    assert len(execution.stdout) <= limit and len(execution.stderr) <= limit


# ------------------------------------------------------------------------------------ whole verdicts

SIGNATURE = "def running_balance(opening, transactions):\n"
VERDICTS = {  # answer body -> category, the same on every backend
    "right": ("    return opening + qel.vihalir(transactions)\n", CORRECT),
    "right_as_list": ("    return (opening + qel.vihalir(transactions)).T.tolist()\n", CORRECT),
    # Plain ndarrays the library hands out (.T, linalg results) keep all their methods: no NumPy flag.
    "ndarray_methods": ("    qel.dumim(qel.pihirib([0]))\n    plain = qel.pihirib(transactions).T\n"
                        "    print(plain, repr(plain), plain.sum())\n"
                        "    return (opening + plain.cumsum()).tolist()\n", CORRECT),
    "wrong": ("    return qel.vihalir(transactions)\n", RESULT_ERROR),
    "raises": ("    qel.dumim(qel.pihirib([0]))\n    raise ValueError('no')\n    return 0\n", EXE_ERROR),
    "hangs": ("    while qel.dumim(qel.pihirib([1])):\n        pass\n    return 0\n", EXE_ERROR),
    "exits": ("    import os\n    os._exit(0)\n    return qel.vihalir(transactions)\n", EXE_ERROR),
    "load_error": ("    return qel.vihalir(transactions)\nundefined_name\n", EXE_ERROR),
    "numpy_at_run_time": ("    import importlib\n    np = importlib.import_module('nu' + 'mpy')\n"
                          "    return opening + qel.vihalir(np.asarray(transactions))\n", NUMPY),
}


@pytest.fixture(scope="module")
def balance(fixture_data):
    return problem_from_row(next(read_jsonl(fixture_data / "single_test.jsonl")), "single_test", 0)


@pytest.mark.parametrize("name", VERDICTS)
def test_same_verdicts(backend, library, balance, name):
    body, category = VERDICTS[name]
    verdict = judge(balance, f"```python\n{SIGNATURE}{body}```\n", library,
                    backend.sandbox(Limits(timeout_seconds=1)))
    assert verdict.category == category, verdict
