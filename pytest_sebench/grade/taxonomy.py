"""Why an answer failed, one level below the reference's five categories.

The categories say *where* grading stopped; the taxonomy says what the model got wrong, which is what
a team reads to decide how to train next: names it made up, NumPy habits the array type refuses,
NumPy itself, no usable code, a wrong value, a timeout, or any other exception. Decided from the
sample's record (the per-case errors and the reason), so the controller can classify records that came
from xdist workers without the answer's process.
"""

from __future__ import annotations

import re
from typing import Any

from .verdict import CORRECT, ERROR, EXE_ERROR, NUMPY, RESULT_ERROR, WITHOUT_LIBRARY

HALLUCINATED_NAME = "hallucinated_name"
ARRAY_HABIT = "array_habit"
NUMPY_USE = "numpy_use"
NO_CODE = "no_code"
WRONG_VALUE = "wrong_value"
TIMEOUT = "timeout"
EXCEPTION = "exception"
TRUNCATED = "truncated"  # no usable code because the answer was cut at max_tokens
CLASSES = (HALLUCINATED_NAME, ARRAY_HABIT, NUMPY_USE, NO_CODE, TRUNCATED, WRONG_VALUE, TIMEOUT, EXCEPTION)

# Which reference category each class refines (the summary nests them this way).
PARENT = {HALLUCINATED_NAME: EXE_ERROR, ARRAY_HABIT: EXE_ERROR, TIMEOUT: EXE_ERROR,
          EXCEPTION: EXE_ERROR, WRONG_VALUE: RESULT_ERROR, NUMPY_USE: NUMPY, NO_CODE: WITHOUT_LIBRARY,
          TRUNCATED: WITHOUT_LIBRARY}

_ENDED_BY_TIME = ("Timeout", "StartupTimeout")


def array_type_name(library: str) -> str:
    """The library's array type, named as the runtime names it (``zwc`` -> ``ZWCArray``)."""
    return f"{library.upper()}Array"


def classify(sample: dict[str, Any], library: str) -> str | None:
    """The class of a failed sample; None for a correct one or an infrastructure error."""
    category = sample.get("category")
    if category in (CORRECT, ERROR, None):
        return None
    if category == NUMPY:
        return NUMPY_USE
    if category == WITHOUT_LIBRARY:
        # No fenced block, or code that never calls the library: in both cases nothing to run. When
        # the server cut the answer at max_tokens, that is the likelier story (the block never closed).
        return TRUNCATED if (sample.get("answer") or {}).get("finish_reason") == "length" else NO_CODE
    if category == RESULT_ERROR:
        return WRONG_VALUE
    return _classify_exception(first_error(sample), library)


def first_error(sample: dict[str, Any]) -> str:
    """The first case error (a load error repeats on every case), else the sample's reason."""
    for case in sample.get("cases") or ():
        if case.get("error"):
            return str(case["error"])
    return str(sample.get("reason", ""))


def _classify_exception(error: str, library: str) -> str:
    kind = error.split(":", 1)[0].strip()
    if kind in _ENDED_BY_TIME:
        return TIMEOUT
    name = re.escape(library)
    # module 'zwc' / 'zwc.rfx' has no attribute 'x'; cannot import name 'x' from 'zwc'
    if re.search(rf"module '{name}(\.\w+)?' has no attribute", error) or re.search(
            rf"cannot import name '\w+' from '{name}(\.\w+)?'", error) or re.search(
            rf"No module named '{name}\.", error):
        return HALLUCINATED_NAME
    array = re.escape(array_type_name(library))
    if re.search(rf"\b{array} has no attribute", error) or (
            kind == "TypeError" and re.search(rf"'{array}'", error)):
        return ARRAY_HABIT
    return EXCEPTION
