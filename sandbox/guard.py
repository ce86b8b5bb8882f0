"""Run-time detection of answers that reach NumPy other than through the library's functions.

The static check (``pytest_sebench/grade/static.py``) sees what the code says; this module sees what
it does. Prepared in the template (``prepare``), armed in each child before the answer's first line
(``install``), it flags:

- **NumPy's modules used from answer code.** Every ``numpy*`` module gets a module subclass whose
  attribute access looks at who asks. However the answer got the module (``sys.modules``,
  ``importlib``, ``__import__`` with a computed name, a library function's ``__globals__``, an
  array's ``__array_namespace__()``), reading ``np.cumsum`` from its code is reported.
- **Imports of NumPy requested by answer code**: ``builtins.__import__`` is wrapped (import
  statements, ``__import__``, ``exec``'d imports, pickle's look-ups) and the ``import`` audit event
  covers importlib's route to modules not yet loaded.
- **Ways around the library**: reading function or frame internals (``__code__``, ``__defaults__``,
  ``f_code``, ``tb_frame``, ``gi_frame``: the interpreter's ``object.__getattr__`` audit events),
  ``sys._getframe``, the garbage collector's object lists, executing NumPy's own source, compiling
  code under a real file's name, building code objects, swapping a module's class. ``ctypes`` is
  refused outright (it could rewrite any of this in memory).

"Who asks" is the nearest frame outside the standard library: NumPy's and our own code are trusted,
everything else (the answer, code it ``exec``s, third-party packages) is the answer. Arrays the
library returns are fine, with all their methods (``rfx`` results, ``.T``): NumPy's C code may then
look up its own private helpers while an answer frame is on top, so private names (``_x``) are
reported only when the answer's own instruction is the attribute load or import.

A flag goes to the template at once as a ``numpy`` event and the child exits: the host grades the
answer ``numpy`` whatever its cases returned.

The library's functions hold NumPy's modules and look their function up at each call (see
``libruntime``), so digging in their closures yields a guarded module, not a bare NumPy function.

Residual risk, stated plainly: the answer runs in this very process, so nothing here is a boundary.
It shares our memory: every object is reachable by reflection, and CPython audits neither
``__closure__`` nor ``__globals__`` nor ``f_back``/``f_globals``. So ``object.__getattribute__(module,
name)`` on a module taken from ``sys.modules`` skips the subclass; the globals of a NumPy function
the library hands out (``vectorize``'s ``__call__``) or of a NumPy frame calling the answer back hold
NumPy's functions; the array type's closures hold NumPy's array constructors; a private helper read
with ``getattr`` (``_methods._sum``) passes the private-name rule. It also shares our descriptors: it
could point the event channel elsewhere and forge the lines we would send, the NumPy flag included.
A determined answer can therefore reach NumPy unseen. What it cannot do is escape the process limits,
see the labels (they never enter the sandbox) or harm the host: those are enforced from outside the
child, by the template and the kernel. The check catches the routes a model finds by accident or by
naive search, the way the reference grader's import check does, only many more of them.
"""

from __future__ import annotations

import builtins
import dis
import os
import sys
import sysconfig
import types
from typing import Any, Callable

_ATTRIBUTE_OPS = {dis.opmap[name] for name in ("LOAD_ATTR", "LOAD_METHOD", "STORE_ATTR", "DELETE_ATTR",
                                               "IMPORT_NAME", "IMPORT_FROM") if name in dis.opmap}
_AUDITED = {"object.__getattr__", "object.__setattr__", "object.__delattr__", "sys._getframe",
            "gc.get_objects", "gc.get_referrers", "gc.get_referents", "import", "compile", "exec",
            "code.__new__", "marshal.loads"}
_ANSWER, _STDLIB, _TRUSTED = "answer", "stdlib", "trusted"


def _is_numpy(name: str) -> bool:
    return name == "numpy" or name.startswith("numpy.")


class _Places:
    """Which code is whose, by file name (cached: a few distinct files per run)."""

    def __init__(self, numpy_dir: str) -> None:
        paths = sysconfig.get_paths()
        self.stdlib = tuple({os.path.realpath(paths[key]) + os.sep for key in ("stdlib", "platstdlib")})
        self.third_party = tuple({os.path.realpath(paths[key]) + os.sep for key in ("purelib", "platlib")})
        here = os.path.dirname(os.path.realpath(__file__))
        self.trusted = (os.path.realpath(numpy_dir) + os.sep, here + os.sep)
        self._kinds: dict[str, str] = {}

    def kind(self, filename: str) -> str:
        kind = self._kinds.get(filename)
        if kind is None:
            kind = self._kinds[filename] = self._classify(filename)
        return kind

    def _classify(self, filename: str) -> str:
        if filename.startswith("<frozen "):
            return _STDLIB  # the import system
        if filename.startswith("<"):
            return _ANSWER  # <answer>, <string>, anything compiled at run time
        real = os.path.realpath(filename)
        if real.startswith(self.trusted):
            return _TRUSTED
        if real.startswith(self.stdlib) and not real.startswith(self.third_party):
            return _STDLIB
        return _ANSWER


class Guard:
    """Built once in the template (classifying files is slow: it resolves paths), armed per child."""

    def __init__(self, numpy_module: types.ModuleType) -> None:
        self.report: Callable[[str], None] = _unarmed
        self.places = _Places(os.path.dirname(numpy_module.__file__ or ""))
        self.busy: set[int] = set()  # threads inside the guard (its own look-ups are not audited)
        self.get_ident = __import__("_thread").get_ident
        self.getframe = sys._getframe
        # The globals of NumPy's and the standard library's modules, by module name: most frames
        # are recognised by ``frame.f_globals is known[name]`` without reading f_code or calling
        # id() (both audited, hence slow here). Forging one (exec with NumPy's globals) needs those
        # globals first, which is itself a way around the library.
        self.known: dict[Any, tuple[dict, str]] = {}
        for name, module in list(sys.modules.items()):
            namespace = getattr(module, "__dict__", None)
            if not isinstance(namespace, dict):
                continue
            if _is_numpy(name):
                self.known[name] = (namespace, _TRUSTED)
            elif self.places.kind(getattr(module, "__file__", None) or "<frozen >") == _STDLIB:
                self.known[name] = (namespace, _STDLIB)

    # -- deciding who asks -------------------------------------------------------------------------

    def answer_deciding(self, frame: Any) -> Any:
        """The nearest frame outside the standard library, when it is the answer's; else None."""
        kind, known = self.places.kind, self.known
        while frame is not None:
            namespace = frame.f_globals
            entry = known.get(namespace.get("__name__"))
            if entry is not None and entry[0] is namespace:
                found = entry[1]
            else:
                found = kind(frame.f_code.co_filename)
            if found == _ANSWER:
                return frame
            if found == _TRUSTED:
                return None
            frame = frame.f_back
        return None

    def answer_immediate(self, frame: Any) -> bool:
        return frame is not None and self.places.kind(frame.f_code.co_filename) == _ANSWER

    def flag(self, reason: str) -> None:
        self.report(reason)

    # -- module attribute access -------------------------------------------------------------------

    def module_access(self, module: types.ModuleType, name: str, action: str, depth: int = 2) -> None:
        ident = self.get_ident()
        if ident in self.busy:
            return
        self.busy.add(ident)
        try:
            frame = self.answer_deciding(self.getframe(depth))
            if frame is not None and _counts(name, frame, action):
                self.flag(f"{action} {_module_name(module)}.{name}")
        finally:
            self.busy.discard(ident)

    def reads_fast(self) -> Callable[[types.ModuleType, str], None]:
        """``module_access(module, name, "reads")`` for the common case, inlined: NumPy reading its
        own modules (hundreds of times per answer, so every call saved counts)."""
        busy, get_ident, getframe, known = self.busy, self.get_ident, self.getframe, self.known
        slow = self.module_access

        def reads(module: types.ModuleType, name: str) -> None:
            ident = get_ident()
            if ident in busy:
                return
            busy.add(ident)
            try:
                namespace = getframe(2).f_globals
                entry = known.get(namespace.get("__name__"))
                if entry is not None and entry[0] is namespace and entry[1] == _TRUSTED:
                    return
            finally:
                busy.discard(ident)
            slow(module, name, "reads", depth=3)
        return reads

    # -- imports -------------------------------------------------------------------------------------

    def wrap_import(self, original: Callable[..., Any]) -> Callable[..., Any]:
        guard = self

        def __import__(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (),
                       level: int = 0) -> Any:
            if level == 0 and isinstance(name, str) and _is_numpy(name):
                guard.import_request(name)
            return original(name, globals, locals, fromlist, level)
        return __import__

    def import_request(self, name: str) -> None:
        ident = self.get_ident()
        if ident in self.busy:
            return
        self.busy.add(ident)
        try:
            frame = self.answer_deciding(self.getframe(2))
            if frame is not None and (_public(name) or _opcode(frame) in _ATTRIBUTE_OPS):
                self.flag(f"imports {name}")
        finally:
            self.busy.discard(ident)

    # -- audit events ----------------------------------------------------------------------------------

    def audit_hook(self) -> Callable[[str, tuple], None]:
        """The hook runs for every audited event in the process (id() included): a plain function
        that returns at once for the events it does not watch (a bound method costs twice as much)."""
        examine, busy, get_ident = self.audit, self.busy, self.get_ident

        def hook(event: str, args: tuple) -> None:
            if (event in _AUDITED or event[:7] == "ctypes.") and get_ident() not in busy:
                examine(event, args)
        return hook

    def audit(self, event: str, args: tuple) -> None:
        ident = self.get_ident()
        self.busy.add(ident)
        try:
            reason = self._audit_reason(event, args, self.getframe(2))  # the frame that raised it
        finally:
            self.busy.discard(ident)
        if reason == "ctypes":
            raise PermissionError("ctypes is not available to answers in this sandbox")
        if reason:
            self.flag(reason)

    def _audit_reason(self, event: str, args: tuple, caller: Any) -> str | None:
        if event.startswith("ctypes."):
            return "ctypes" if self.answer_deciding(caller) is not None else None
        if event == "object.__getattr__":
            return f"reads {args[1]} (interpreter internals)" if self.answer_immediate(caller) else None
        if event in ("object.__setattr__", "object.__delattr__"):
            target, name = args[0], args[1]
            module = isinstance(target, types.ModuleType)
            # NumPy's modules, any module's class (that would undo the guard), any code object
            touches = (module and _is_numpy(_module_name(target))) or (module and name == "__class__") \
                or name == "__code__"
            if touches and self.answer_deciding(caller) is not None:
                return f"changes {name} of {type(target).__name__}"
            return None
        if event in ("sys._getframe", "gc.get_objects", "gc.get_referrers", "gc.get_referents"):
            return f"calls {event} (a way around the library)" if self.answer_immediate(caller) else None
        if self.answer_deciding(caller) is None:
            return None
        return _event_reason(event, args, self.places)


def _module_name(module: types.ModuleType) -> str:
    """A module's name, read past the guard's subclass."""
    return str(types.ModuleType.__getattribute__(module, "__name__"))


def _public(name: str) -> bool:
    return not any(part.startswith("_") for part in name.split("."))


def _opcode(frame: Any) -> int:
    try:
        return frame.f_code.co_code[frame.f_lasti]
    except (IndexError, TypeError):
        return -1


def _counts(name: str, frame: Any, action: str) -> bool:
    """Does this access by answer code reach NumPy? (See the module docstring on private names.)"""
    if action != "reads" or name == "__dict__":
        return True
    if name.startswith("__") and name.endswith("__"):
        return False  # __spec__, __name__, __path__: the import system's look-ups, nothing to use
    return _public(name) or _opcode(frame) in _ATTRIBUTE_OPS


def _event_reason(event: str, args: tuple, places: _Places) -> str | None:
    if event == "import" and isinstance(args[0], str) and _is_numpy(args[0]):
        return f"imports {args[0]}"
    if event == "compile" and isinstance(args[1], str) and not args[1].startswith("<"):
        return f"compiles code under the file name {args[1]!r}"
    if event == "exec" and isinstance(args[0], types.CodeType) and places.kind(args[0].co_filename) == _TRUSTED:
        return f"executes code of {os.path.basename(args[0].co_filename)}"
    if event in ("code.__new__", "marshal.loads"):
        return f"builds code objects ({event})"
    return None


def _guarded_module_type(guard: Guard) -> type:
    module_getattribute = types.ModuleType.__getattribute__
    module_setattr = types.ModuleType.__setattr__
    module_delattr = types.ModuleType.__delattr__

    reads = guard.reads_fast()

    class NumpyModule(types.ModuleType):
        def __getattribute__(self, name: str) -> Any:
            reads(self, name)
            value = module_getattribute(self, name)
            if type(value) is types.ModuleType and _is_numpy(_module_name(value)):
                value.__class__ = NumpyModule  # a submodule loaded after the guard came in
            return value

        def __setattr__(self, name: str, value: Any) -> None:
            guard.module_access(self, name, "changes")
            module_setattr(self, name, value)

        def __delattr__(self, name: str) -> None:
            guard.module_access(self, name, "deletes")
            module_delattr(self, name)

    return NumpyModule


def _unarmed(reason: str) -> None:
    """Before a child arms the guard (in the template, which runs no answer code) nothing is reported."""


_PREPARED: Guard | None = None


def prepare() -> None:
    """In the template, once NumPy is imported: everything that need not wait for a child.

    NumPy's modules get their guarded class and ``__import__`` its wrapper here, unarmed (the
    template's own code is trusted anyway): each child then shares these pages with the template
    instead of copying a page per module, and only arms the guard.
    """
    global _PREPARED
    guard = _PREPARED = Guard(sys.modules["numpy"])
    guarded = _guarded_module_type(guard)
    for name, module in list(sys.modules.items()):
        if _is_numpy(name) and type(module) is types.ModuleType:
            module.__class__ = guarded
    builtins.__import__ = guard.wrap_import(builtins.__import__)


def install(channel: Any) -> None:
    """In the child: arm every check; a flag is sent on ``channel`` as a ``numpy`` event and ends it."""
    if _PREPARED is None:
        prepare()
    assert _PREPARED is not None

    def report(reason: str) -> None:
        try:
            channel.send("numpy", reason=reason)
        finally:
            os._exit(0)

    _PREPARED.report = report
    sys.addaudithook(_PREPARED.audit_hook())
