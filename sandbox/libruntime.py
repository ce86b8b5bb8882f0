"""Build an SE-Bench style library (``zwc`` and friends) at run time from a name mapping.

The library behaves like SE-Bench's ``zwc`` package as the shared spec zwc-runtime.md describes it:
main functions unwrap array arguments, call NumPy and wrap array results; the linalg submodule passes
calls straight to ``numpy.linalg``; the array type blocks every NumPy method so answers must go
through the library's own names.

This file runs inside the sandbox: it imports only the standard library and NumPy, and works both as
``pytest_sebench.sandbox_files.libruntime`` and as a module loaded from its path by ``python -I``.
NumPy is imported inside ``build_library`` rather than at module level so that this module's globals
(reachable from every function through ``__globals__``) do not hold it under a plain name.
"""

from __future__ import annotations

import importlib.machinery
import keyword
import operator
import sys
import types
import warnings
from typing import Any, Callable, Iterator

__all__ = ["build_library", "install_library", "array_type_name", "BLOCKED_METHODS", "ARRAY_ATTRIBUTES"]

# NumPy method names an answer is most likely to try on an array; the error for these points to the
# library's own functions. Order matters: the first one the mapping provides names the example.
BLOCKED_METHODS = (
    "mean", "std", "var", "sum", "min", "max", "argmin", "argmax", "sort", "argsort", "reshape",
    "flatten", "transpose", "dot", "clip", "round", "abs", "sqrt", "exp", "log", "sin", "cos",
    "cumsum", "cumprod", "diff", "gradient", "convolve", "correlate", "percentile", "median",
    "quantile", "unique", "nonzero", "where", "all", "any", "concatenate", "stack", "vstack",
    "hstack", "split", "hsplit", "vsplit", "roll", "shift", "pad", "repeat", "tile", "resize",
    "compress", "extract", "diagonal", "trace",
)
# The only attributes an array exposes; each is read from the wrapped ndarray (so ``T`` is a plain,
# unwrapped ndarray).
ARRAY_ATTRIBUTES = ("shape", "dtype", "size", "ndim", "T")

# Binary operators the array supports, in both directions; everything else stays undefined so
# Python raises TypeError as it does for the original package.
_ARITHMETIC = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
               "truediv": operator.truediv, "pow": operator.pow}
_COMPARISONS = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt,
                "le": operator.le, "gt": operator.gt, "ge": operator.ge}

# Name of the slot holding the ndarray. Attribute access cannot reach it (see __getattribute__).
_DATA_SLOT = "_ndarray"


def array_type_name(library: str) -> str:
    """``zwc`` -> ``ZWCArray``."""
    return f"{library.upper()}Array"


def build_library(name: str, linalg_name: str, main: dict[str, str],
                  linalg: dict[str, str]) -> tuple[types.ModuleType, list[str]]:
    """Build the library module and its linalg submodule (attribute ``linalg_name``).

    ``main`` maps library function names to top-level NumPy names, ``linalg`` maps them to
    ``numpy.linalg`` names. Returns the module and the NumPy names the NumPy at hand lacks (linalg
    ones as ``linalg.<name>``); those are skipped with a single warning.
    """
    import numpy  # see the module docstring

    type_name = array_type_name(name)
    _check_names(name, linalg_name, type_name, main, linalg)
    main_functions, main_missing = _resolve(numpy, main)
    linalg_functions, linalg_missing = _resolve(numpy.linalg, linalg)
    skipped = main_missing + [f"linalg.{missing}" for missing in linalg_missing]
    if skipped:
        warnings.warn(f"NumPy {numpy.__version__} lacks {len(skipped)} function(s) the mapping names; "
                      f"library {name!r} is built without them: {', '.join(skipped)}",
                      RuntimeWarning, stacklevel=2)

    hint = _method_hint(name, {own: main[own] for own in main_functions})
    array_type, wrap, unwrap = _make_array_type(name, numpy, hint)

    module: Any = _new_module(name)  # Any: typeshed's ModuleType has no __all__
    module.__all__ = list(main_functions)  # star-imports bring the functions only, as in the original
    setattr(module, type_name, array_type)
    for own in main_functions:
        setattr(module, own, _main_function(own, name, numpy, main[own], wrap, unwrap))

    submodule: Any = _new_module(f"{name}.{linalg_name}")
    submodule.__all__ = list(linalg_functions)
    for own in linalg_functions:
        setattr(submodule, own, _linalg_function(own, submodule.__name__, numpy.linalg, linalg[own]))
    setattr(module, linalg_name, submodule)
    return module, skipped


def install_library(module: types.ModuleType) -> None:
    """Make ``import lib``, ``import lib.sub``, ``from lib import sub`` and ``from lib.sub import f`` work."""
    sys.modules[module.__name__] = module
    prefix = module.__name__ + "."
    for value in list(vars(module).values()):
        if isinstance(value, types.ModuleType) and value.__name__.startswith(prefix):
            sys.modules[value.__name__] = value


# --- building blocks -----------------------------------------------------------------------------

def _check_names(name: str, linalg_name: str, type_name: str,
                 main: dict[str, str], linalg: dict[str, str]) -> None:
    """Every name must be importable (``from lib import name``) and must not shadow another."""
    for kind, value in [("library", name), ("linalg submodule", linalg_name),
                        *[("function", own) for own in [*main, *linalg]]]:
        if (not isinstance(value, str) or not value.isidentifier() or keyword.iskeyword(value)
                or value.startswith("__")):
            raise ValueError(f"{kind} name {value!r} is not a plain Python identifier")
    for taken in (type_name, linalg_name):
        if taken in main:
            raise ValueError(f"main function name {taken!r} collides with the library's own attribute")


def _resolve(namespace: Any, mapping: dict[str, str]) -> tuple[dict[str, Callable[..., Any]], list[str]]:
    """Library name -> NumPy callable, plus the NumPy names this NumPy lacks (e.g. trapz after 2.4)."""
    found: dict[str, Callable[..., Any]] = {}
    missing: list[str] = []
    for own, numpy_name in mapping.items():
        function = getattr(namespace, numpy_name, None)
        if callable(function):
            found[own] = function
        elif numpy_name not in missing:
            missing.append(numpy_name)
    return found, missing


def _method_hint(library: str, main: dict[str, str]) -> str:
    """The sentence appended to errors for blocked methods, naming the library's own ``mean``.

    When the mapping has no ``mean`` the example uses the first blocked method it does provide; with
    none at all the example sentence is left out.
    """
    advice = f"Use the corresponding {library.upper()} function instead."
    for numpy_name in BLOCKED_METHODS:
        own = next((own for own, target in main.items() if target == numpy_name), None)
        if own is not None:
            return f"{advice} For example, use {library}.{own}() instead of .{numpy_name}()."
    return advice


def _new_module(full_name: str) -> types.ModuleType:
    module = types.ModuleType(full_name)
    # A package spec (with an empty search path) lets the import system treat ``lib`` as a package
    # and resolve ``lib.sub`` from sys.modules, and keeps importlib.util.find_spec from failing.
    module.__spec__ = importlib.machinery.ModuleSpec(full_name, None, is_package=True)
    module.__path__ = []
    module.__package__ = full_name
    return module


def _rename(function: Callable[..., Any], own: str, module_name: str,
            qualname: str | None = None) -> Callable[..., Any]:
    """Give a function the library's names everywhere they show: repr, pickling, traceback lines."""
    qualname = qualname or own
    code = function.__code__
    names: dict[str, Any] = {"co_name": own}
    if hasattr(code, "co_qualname"):  # Python 3.11+: tracebacks print the qualified name
        names["co_qualname"] = qualname
    function.__code__ = code.replace(**names)
    function.__name__, function.__qualname__ = own, qualname
    function.__module__ = module_name
    function.__doc__ = None
    return function


# The functions below look their NumPy function up by name at each call rather than holding it: what
# an answer can dig out of their closures is then a NumPy module, whose use the sandbox's guard sees
# (sandbox/guard.py), never a bare NumPy function.

def _main_function(own: str, library: str, namespace: types.ModuleType, numpy_name: str,
                   wrap: Callable[[Any], Any], unwrap: Callable[[Any], Any]) -> Callable[..., Any]:
    # Only top-level arguments are unwrapped: NumPy converts arrays nested in lists by __array__.
    def call(*args: Any, **kwargs: Any) -> Any:
        plain_args = [unwrap(value) for value in args]
        plain_kwargs = {key: unwrap(value) for key, value in kwargs.items()}
        return wrap(getattr(namespace, numpy_name)(*plain_args, **plain_kwargs))
    return _rename(call, own, library)


def _linalg_function(own: str, module_name: str, namespace: types.ModuleType, numpy_name: str) -> Callable[..., Any]:
    # No unwrapping (NumPy accepts the array through __array__) and no wrapping: answers get plain
    # ndarrays and NumPy's result tuples, as from the original package.
    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(namespace, numpy_name)(*args, **kwargs)
    return _rename(call, own, module_name)


def _make_array_type(library: str, np: Any,
                     hint: str) -> tuple[type, Callable[[Any], Any], Callable[[Any], Any]]:
    """The library's array class, and the wrap/unwrap helpers its functions use."""
    type_name = array_type_name(library)
    array_type: type  # assigned below; the closures only run after that
    # Taken once: the array's methods run on every element access, and a look-up on the NumPy
    # module costs a guard check in the sandbox. Array types and constructors give an answer
    # nothing the library's own constructor does not.
    ndarray, generic, asarray, copy_array = np.ndarray, np.generic, np.asarray, np.array

    def read(array: Any) -> Any:
        return data_slot.__get__(array, array_type)

    def unwrap(value: Any) -> Any:
        return read(value) if isinstance(value, array_type) else value

    def element(value: Any) -> Any:
        """An indexing or iteration result: sub-arrays stay arrays, 0-d values become Python scalars."""
        if isinstance(value, ndarray) and value.ndim > 0:
            return array_type(value)
        if isinstance(value, (ndarray, generic)):
            return value.item()
        return value  # an element of an object array: already a Python object

    def wrap(result: Any) -> Any:
        if isinstance(result, ndarray):
            return array_type(result)
        # Like the original, only a sequence holding an ndarray directly is rebuilt.
        if isinstance(result, (list, tuple)) and any(isinstance(item, ndarray) for item in result):
            items = [wrap(item) for item in result]
            if isinstance(result, tuple) and hasattr(type(result), "_fields"):
                return type(result)(*items)  # a named tuple takes its fields positionally
            return type(result)(items)
        if isinstance(result, dict):
            return {key: wrap(value) for key, value in result.items()}
        return result

    def missing(name: str) -> AttributeError:
        if name in BLOCKED_METHODS:
            return AttributeError(f"{type_name} has no attribute '{name}'. {hint}")
        return AttributeError(f"{type_name} has no attribute '{name}'")

    def __init__(self: Any, data: Any) -> None:
        data_slot.__set__(self, asarray(data))

    def __getattribute__(self: Any, name: str) -> Any:
        if name in ARRAY_ATTRIBUTES:
            return getattr(read(self), name)
        # Dunders stay reachable: Python, copy/pickle and NumPy's protocol look-ups need them.
        if name.startswith("__") and name.endswith("__"):
            try:
                return object.__getattribute__(self, name)
            except AttributeError:
                pass
        raise missing(name)

    def __setattr__(self: Any, name: str, value: Any) -> None:
        if name in ARRAY_ATTRIBUTES:
            raise AttributeError(f"{type_name} attribute '{name}' is read-only")
        raise missing(name)

    def __delattr__(self: Any, name: str) -> None:
        __setattr__(self, name, None)

    def __dir__(self: Any) -> list[str]:
        return sorted(ARRAY_ATTRIBUTES)

    def __array__(self: Any, dtype: Any = None, copy: bool | None = None) -> Any:
        # NumPy 2 passes dtype and copy; without them the stored ndarray itself is returned.
        return copy_array(read(self), dtype=dtype, copy=copy)

    def __getitem__(self: Any, key: Any) -> Any:
        return element(read(self)[key])

    def __setitem__(self: Any, key: Any, value: Any) -> None:
        read(self)[key] = unwrap(value)

    def __len__(self: Any) -> int:
        return len(read(self))

    def __iter__(self: Any) -> Iterator[Any]:
        for item in read(self):
            yield element(item)

    def __repr__(self: Any) -> str:
        return f"{type_name}({read(self).tolist()})"

    def __str__(self: Any) -> str:
        return str(read(self))

    def __reduce__(self: Any) -> tuple[type, tuple[Any]]:
        # Copy and pickle rebuild from the ndarray (slots are unreadable through attribute access).
        return array_type, (read(self),)

    def forward(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def method(self: Any, other: Any) -> Any:
            return array_type(op(read(self), unwrap(other)))
        return method

    def reflected(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        # Python calls this only when the left operand is not our array: nothing to unwrap.
        def method(self: Any, other: Any) -> Any:
            return array_type(op(other, read(self)))
        return method

    namespace: dict[str, Any] = {
        "__slots__": (_DATA_SLOT,), "__module__": library, "__qualname__": type_name, "__doc__": None,
        "__init__": __init__, "__getattribute__": __getattribute__, "__setattr__": __setattr__,
        "__delattr__": __delattr__, "__dir__": __dir__, "__array__": __array__,
        "__getitem__": __getitem__, "__setitem__": __setitem__, "__len__": __len__,
        "__iter__": __iter__, "__repr__": __repr__, "__str__": __str__, "__reduce__": __reduce__,
    }
    for op_name, op in _ARITHMETIC.items():
        namespace[f"__{op_name}__"] = forward(op)
        namespace[f"__r{op_name}__"] = reflected(op)
    for op_name, op in _COMPARISONS.items():
        namespace[f"__{op_name}__"] = forward(op)
    # Defining __eq__ without __hash__ makes type() set __hash__ to None: arrays stay unhashable.
    array_type = type(type_name, (), namespace)
    data_slot = array_type.__dict__[_DATA_SLOT]
    for attribute, value in namespace.items():
        if isinstance(value, types.FunctionType):
            _rename(value, attribute, library, f"{type_name}.{attribute}")
    return array_type, wrap, unwrap

