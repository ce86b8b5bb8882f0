"""The NumPy guard's front-ends: the objects of ours an answer can reach, built to hold nothing of ours.

An answer shares the process with the guard, so whatever it can reach it can read and rewrite:
closures (``cell_contents`` is writable), defaults, a function's globals, a class's attributes. The
front-ends therefore keep no reference to the guard at all. Each one only raises an audit event of its
own (``sys.audit("sebench.read", module, name)``...), which the guard's audit hook judges; the hook is
held by the interpreter alone (only the garbage collector's lists reach it, and the guard treats
asking for those as a way around the library).

What a front-end needs it finds in the constants of its own code object (``sealed``): code objects are
immutable, and replacing a function's ``__code__`` raises an audit event the guard watches. The class
NumPy's modules are given is made immutable (``freeze``), so its ``__getattribute__`` cannot be put
back to the plain module's.

- ``guarded_module_type``: the class every ``numpy*`` module gets: attribute reads, writes and
  deletions raise ``sebench.read`` / ``sebench.change`` events.
- ``import_wrapper``: ``builtins.__import__`` raising ``sebench.import`` before importing.
- ``trampoline``: NumPy's Python-implemented public functions (everything dispatched through
  ``__array_function__`` with a Python implementation: ``cumsum``, ``mean``, ``linalg.solve``...)
  raise ``sebench.call`` whenever they run, so calling one from answer code is seen however the
  answer got hold of it.
- ``twin``: inside NumPy's own globals, its modules are plain twins sharing the guarded modules'
  namespaces, so NumPy's hundreds of look-ups per answer cost nothing; only what NumPy's globals
  already give away (see the residual routes in ``guard``) reaches them.

Standard library only (ctypes, once, in the template, for ``freeze``).
"""

from __future__ import annotations

import ctypes
import sys
import types
import warnings
from typing import Any, Callable

# Front-end frames count as part of the interpreter's machinery (``<frozen ...>``): the guard judges
# the frame that called them, never them.
FILENAME = "<frozen sebench guard>"
NAMESPACE = {"__name__": "sebench.guard.front", "__builtins__": {}}
_TPFLAGS_IMMUTABLETYPE = 1 << 8
_TP_FLAGS_OFFSET = 21 * ctypes.sizeof(ctypes.c_void_p)  # PyTypeObject.tp_flags, CPython 3.10 to 3.13


def sealed(source: str, constants: dict[str, Any]) -> types.FunctionType:
    """The one function ``source`` defines, with each placeholder string constant replaced.

    Placeholders are written as string literals where the object is used (``"AUDIT"(...)``); in the
    code object they become the objects of ``constants``, loaded as constants at run time.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)  # "'str' object is not callable"
        module = compile(source, FILENAME, "exec")
    scratch: dict[str, Any] = {}
    exec(module, scratch)  # our own source: only defines the function (and its defaults)
    draft = next(value for value in scratch.values() if isinstance(value, types.FunctionType))
    code = draft.__code__
    replaced = tuple(constants[const] if type(const) is str and const in constants else const
                     for const in code.co_consts)
    function = types.FunctionType(code.replace(co_consts=replaced), NAMESPACE, code.co_name, draft.__defaults__)
    function.__kwdefaults__ = draft.__kwdefaults__
    return function


def freeze(cls: type) -> bool:
    """Make ``cls`` refuse attribute assignment, as builtin types do; False where that cannot be done.

    Python has no way to say this of a class it creates, so the type's flag is set in memory, after
    checking that the word read there is the one ``cls.__flags__`` reports.
    """
    if sys.implementation.name != "cpython" or not (3, 10) <= sys.version_info[:2] <= (3, 13):
        return False
    word = ctypes.c_ulong.from_address(id(cls) + _TP_FLAGS_OFFSET)
    if word.value != cls.__flags__:
        return False
    word.value |= _TPFLAGS_IMMUTABLETYPE
    return bool(cls.__flags__ & _TPFLAGS_IMMUTABLETYPE)


_READ = '''
def __getattribute__(self, name):
    "AUDIT"("sebench.read", self, name)
    value = "GET"(self, name)
    if "TYPE"(value) is "MODULE" and "IS_NUMPY"("NAME_OF"(value)):
        value.__class__ = "GUARDED"  # a NumPy submodule loaded after the guard came in
    return value
'''
_WRITE = '''
def __setattr__(self, name, value):
    "AUDIT"("sebench.change", self, name)
    "SET"(self, name, value)
'''
_DELETE = '''
def __delattr__(self, name):
    "AUDIT"("sebench.change", self, name)
    "DELETE"(self, name)
'''
_IMPORT = '''
def __import__(name, globals=None, locals=None, fromlist=(), level=0):
    "AUDIT"("sebench.import", name, level)
    return "ORIGINAL"(name, globals, locals, fromlist, level)
'''
_TRAMPOLINE = '''
def trampoline(*args, **kwargs):
    "AUDIT"("sebench.call", "NAME")
    return "ORIGINAL"(*args, **kwargs)
'''


def is_numpy(name: Any) -> bool:
    return type(name) is str and (name == "numpy" or name.startswith("numpy."))


def module_name(module: types.ModuleType) -> Any:
    """A module's ``__name__``, read past any class of ours (no event)."""
    try:
        return types.ModuleType.__getattribute__(module, "__name__")
    except AttributeError:  # a module object made without its name
        return "?"


def guarded_module_type() -> type:
    """A fresh, frozen ``ModuleType`` subclass whose attribute access raises the guard's events."""
    guarded: Any = type("NumpyModule", (types.ModuleType,), {"__slots__": ()})
    read = sealed(_READ, {"AUDIT": sys.audit, "GET": types.ModuleType.__getattribute__, "TYPE": type,
                          "MODULE": types.ModuleType, "IS_NUMPY": is_numpy, "NAME_OF": module_name,
                          "GUARDED": guarded})
    write = sealed(_WRITE, {"AUDIT": sys.audit, "SET": types.ModuleType.__setattr__})
    delete = sealed(_DELETE, {"AUDIT": sys.audit, "DELETE": types.ModuleType.__delattr__})
    guarded.__getattribute__, guarded.__setattr__, guarded.__delattr__ = read, write, delete
    return guarded


_MD_DICT_OFFSET = 2 * ctypes.sizeof(ctypes.c_void_p)  # PyModuleObject.md_dict, after the object header
_MODULE_DICT = vars(types.ModuleType)["__dict__"].__get__


def twin(module: types.ModuleType) -> types.ModuleType | None:
    """A plain module object over the very namespace of ``module`` (a Python module), or None.

    NumPy's own code reads its modules through the module objects in its globals hundreds of times
    per answer; given twins there, it skips the guarded class and the guard's audit hook (which
    would find NumPy asking, every time). Python cannot give a module the namespace of another, so
    the twin's dictionary pointer is set in memory, after checking it is where it should be.
    """
    namespace = _MODULE_DICT(module)
    if sys.implementation.name != "cpython" or not str(namespace.get("__file__", "")).endswith(".py"):
        return None
    double = types.ModuleType(str(module_name(module)))
    slot = ctypes.c_void_p.from_address(id(double) + _MD_DICT_OFFSET)
    own = _MODULE_DICT(double)
    if slot.value != id(own):
        return None
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(namespace))
    slot.value = id(namespace)
    ctypes.pythonapi.Py_DecRef(ctypes.py_object(own))
    return double if _MODULE_DICT(double) is namespace else None


def import_wrapper(original: Callable[..., Any]) -> types.FunctionType:
    return sealed(_IMPORT, {"AUDIT": sys.audit, "ORIGINAL": original})


def trampoline(function: types.FunctionType, name: str) -> types.FunctionType | None:
    """Make ``function`` raise ``sebench.call`` (with ``name``) each time it runs, then do its work.

    Its own object keeps its identity (NumPy's dispatchers hold it); it gets new code that calls a
    copy of the old function. Returns that copy, or None when the function cannot be wrapped so.
    """
    if function.__closure__ is not None:  # new code must have the same free variables
        return None
    original = types.FunctionType(function.__code__, function.__globals__, function.__name__,
                                  function.__defaults__)
    original.__kwdefaults__ = function.__kwdefaults__
    original.__qualname__ = function.__qualname__
    code = sealed(_TRAMPOLINE, {"AUDIT": sys.audit, "NAME": name, "ORIGINAL": original}).__code__
    names: dict[str, Any] = {"co_name": function.__code__.co_name}
    if sys.version_info >= (3, 11):  # tracebacks print the qualified name
        names["co_qualname"] = function.__code__.co_qualname
    function.__code__ = code.replace(**names)
    return original


def give_numpy_twins(modules: dict[str, types.ModuleType]) -> None:
    """In NumPy's globals, its own modules become unguarded twins (``seal.twin``), except a package's
    submodule attributes (``numpy.linalg``): an answer reads those through the package."""
    twins = {id(module): twin(module) for module in modules.values()}
    for name, module in modules.items():
        namespace = _MODULE_DICT(module)
        for key, value in list(namespace.items()):
            double = twins.get(id(value)) if isinstance(value, types.ModuleType) else None
            if double is not None and value is modules.get(f"{name}.{key}"):
                continue  # the package's own submodule
            if double is not None:
                namespace[key] = double


def trampolines() -> list[types.FunctionType]:
    """NumPy's public functions implemented in Python, each made to raise ``sebench.call``."""
    overrides = sys.modules.get("numpy._core.overrides")
    wrapped = []
    for public in list(getattr(overrides, "ARRAY_FUNCTIONS", ())):
        function = getattr(public, "_implementation", None)
        if type(function) is types.FunctionType and function not in wrapped:
            name = f"{getattr(public, '__module__', 'numpy')}.{getattr(public, '__name__', '?')}"
            if trampoline(function, name) is not None:
                wrapped.append(function)
    return wrapped
