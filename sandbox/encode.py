"""Turn an answer's return value into JSON-safe tagged data, inside the sandbox.

The host decodes this with ``pytest_sebench.execution.wire`` and never evaluates anything. Tags keep
what JSON cannot say: ``{"$float": "nan"}``, ``{"$complex": [re, im]}``, ``{"$tuple": [...]}``,
``{"$dict": [[k, v], ...]}``, ``{"$array": nested, "dtype": "...", "shape": [...]}`` and
``{"$opaque": text, "type": name}`` for anything else. Only exact builtin types are trusted: a subclass
or an unknown object is shown by its (capped) repr and can never compare equal to an expected value.
Stdlib and NumPy only.
"""

from __future__ import annotations

import math
from typing import Any

MAX_DEPTH = 40


class _Budget:
    """Counts emitted elements so a huge or self-referencing value cannot exhaust the sandbox."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def take(self) -> bool:
        self.left -= 1
        return self.left >= 0


def _float(value: float) -> Any:
    if math.isfinite(value):
        return value
    return {"$float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}


def _opaque(value: Any) -> dict:
    try:
        text = repr(value)
    except BaseException as error:  # an answer's __repr__ may raise anything
        text = f"<unrepresentable: {type(error).__name__}>"
    return {"$opaque": text[:2000], "type": type(value).__name__}


def encode(value: Any, array_type: type, element_limit: int = 2_000_000) -> Any:
    """``array_type`` is the library's array class: its instances are sent as arrays."""
    return _Encoder(array_type, _Budget(element_limit)).encode(value, 0)


class _Encoder:
    def __init__(self, array_type: type, budget: _Budget) -> None:
        self.array_type = array_type
        self.budget = budget

    def encode(self, value: Any, depth: int) -> Any:
        return _encode(self, value, depth)


def _encode(encoder: _Encoder, value: Any, depth: int) -> Any:
    budget = encoder.budget
    if not budget.take():
        raise OverflowError("return value too large to send back")
    if depth > MAX_DEPTH:
        return {"$opaque": "<nested too deeply>", "type": type(value).__name__}
    kind = type(value)
    if value is None or kind is bool or kind is int or kind is str:
        return value
    if kind is float:
        return _float(value)
    if kind is complex:
        return {"$complex": [_float(value.real), _float(value.imag)]}
    if kind is list:
        return [_encode(encoder, item, depth + 1) for item in value]
    if kind is tuple:
        return {"$tuple": [_encode(encoder, item, depth + 1) for item in value]}
    if kind is dict:
        return {"$dict": [[_encode(encoder, k, depth + 1), _encode(encoder, v, depth + 1)]
                          for k, v in value.items()]}
    return _encode_numpy(encoder, value, depth)


_NUMPY_TYPES: tuple[type[Any], type[Any]] | None = None  # (ndarray, generic), taken once


def numpy_types() -> tuple[type[Any], type[Any]]:
    """NumPy's array and scalar types, looked up once (the template does it before any child)."""
    global _NUMPY_TYPES
    if _NUMPY_TYPES is None:
        import numpy  # already imported by the library runtime

        _NUMPY_TYPES = (numpy.ndarray, numpy.generic)
    return _NUMPY_TYPES


def _encode_numpy(encoder: _Encoder, value: Any, depth: int) -> Any:
    ndarray, generic = numpy_types()
    array = _as_ndarray(value, ndarray, encoder.array_type)
    if array is not None:
        if array.dtype.kind not in "biufcUSb?" or array.dtype.kind == "O":
            return _opaque(value)
        items = _plain_items(encoder, array, depth)
        return {"$array": _encode(encoder, array.tolist(), depth + 1) if items is None else items,
                "dtype": _dtype_name(array.dtype), "shape": list(array.shape)}
    if isinstance(value, generic) and type(value).__module__ == "numpy":
        return _encode(encoder, value.item(), depth + 1)
    if isinstance(value, tuple) and hasattr(type(value), "_fields"):
        # Named tuples such as NumPy's EigResult: compared as the tuple of their fields.
        return {"$tuple": [_encode(encoder, item, depth + 1) for item in tuple.__iter__(value)],
                "name": type(value).__name__}
    return _opaque(value)


_DTYPE_NAMES: dict[Any, str] = {}


def _dtype_name(dtype: Any) -> str:
    """``str(dtype)``, which runs NumPy's Python code each time: a few distinct dtypes per answer."""
    name = _DTYPE_NAMES.get(dtype)
    if name is None:
        name = _DTYPE_NAMES[dtype] = str(dtype)
    return name


def _plain_items(encoder: _Encoder, array: Any, depth: int) -> Any:
    """``array.tolist()`` when it is JSON as it stands (booleans, integers, finite floats of at most
    64 bits), or None. The element-by-element walk then adds nothing: its count is taken at once, the
    same count the walk would take (one per nested list and per element)."""
    kind = array.dtype.kind
    if kind not in "biuf" or (kind == "f" and array.dtype.itemsize > 8) or depth + 1 + array.ndim > MAX_DEPTH:
        return None
    if kind == "f" and array.size and not (math.isfinite(array.min()) and math.isfinite(array.max())):
        return None  # NaN and infinities need their tags (min and max carry a NaN, and never overflow)
    nodes = level = 1
    for size in array.shape:
        level *= size
        nodes += level
    encoder.budget.left -= nodes
    if encoder.budget.left < 0:
        raise OverflowError("return value too large to send back")
    return array.tolist()


def _as_ndarray(value: Any, ndarray: type[Any], array_type: type[Any]) -> Any:
    """The ndarray inside a value the library owns (its array type or a plain ndarray), else None."""
    if type(value) is ndarray:
        return value
    if type(value) is array_type:
        return value.__array__()  # the array type's own conversion
    return None
