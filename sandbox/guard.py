"""Run-time detection of answers that reach NumPy other than through the library's functions.

The static check (``pytest_sebench/grade/static.py``) sees what the code says; this module sees what
it does. Prepared in the template (``prepare``), armed in each child before the answer's first line
(``install``), it flags:

- **NumPy's modules used from answer code.** Every ``numpy*`` module gets a frozen module class whose
  attribute access raises an audit event (``sandbox/seal.py``). However the answer got the module
  (``sys.modules``, ``importlib``, ``__import__`` with a computed name, a library function's
  ``__globals__``, an array's ``__array_namespace__()``), reading ``np.cumsum`` from its code is seen.
- **NumPy's functions called from answer code.** NumPy's Python-implemented public functions (all
  those dispatched through ``__array_function__``: ``cumsum``, ``mean``, ``sort``, ``linalg.*``...)
  raise an event each time they run; called by the answer, however it got hold of them (``vars()``,
  ``object.__getattribute__``, a frame's globals), they are seen.
- **Imports of NumPy requested by answer code** (``__import__``, importlib, ``exec``'d imports,
  pickle's look-ups) and execution of NumPy's own module code.
- **Ways around the library**: reading function or frame internals from answer code (``__code__``,
  ``f_code``, ``tb_frame``: the interpreter's ``object.__getattr__`` events), ``sys._getframe``,
  trace and profile functions, other threads' frames, audit hooks of its own, the garbage collector's
  object lists, changing a module's class or a function's code, ``ctypes`` (refused outright).

"Who asks" is the nearest frame outside the standard library (and the guard's own front-ends). A
frame is NumPy's by its globals (the namespace of a NumPy module loaded before the guard came in, or
imported by NumPy since); ours by our globals *and* our file (our globals are within reach of any
answer, through the frames below it, so code of its own run in them must not pass; making code under
our or NumPy's file names is flagged). Everything else is the answer. A thread the answer started has
no trusted frame at its bottom: there, nobody vouches for the access, and it counts as the answer's.
Arrays the library returns are fine, with all their methods (``.T``, ``.cumsum()``): NumPy's C code
may then look up its own private helpers while an answer frame is on top, so private names (``_x``)
count only when the answer's own instruction is the attribute load or import.

A flag goes to the template at once as a ``numpy`` event and the child exits: the host grades the
answer ``numpy`` whatever its cases returned. The guard's state is held by its audit hook alone, which
the interpreter keeps out of reach of Python code (but for the collector's lists, themselves watched);
the objects an answer can reach (``seal``) hold none of it.

Residual risk, stated plainly: the answer runs in this very process, so this is a tripwire, not a
boundary. Still open:
- NumPy's C-implemented callables reached without an attribute read on a NumPy module: the generic
  look-up ``object.__getattribute__(module, name)`` (or the module type's ``__dict__`` descriptor)
  and a C function's ``__self__`` (NumPy's C module) bypass the module class, and calling what they
  yield is not seen when it is C code: ufuncs (``add``, ``sqrt``...), array builders (``zeros``,
  ``arange``...), C-dispatched functions (``concatenate``, ``dot``, ``where``...), private Python
  helpers (``_methods._sum``) read with ``getattr``, and, from NumPy's own globals (a NumPy frame
  calling the answer back, the generic look-up), the unguarded twins of its modules (``seal.twin``).
  Python-implemented public functions reached that way are flagged when called.
- NumPy's own code as a deputy: a private helper (read with ``getattr``) that reads or calls a NumPy
  function for its caller (``fromnumeric._wrapfunc(np, "cumsum", x)`` if ``fromnumeric`` was
  reached privately), and code of the answer's run in a NumPy module's globals (reached through the
  generic look-up) passing for NumPy's.
- Rewriting the guard's front-ends where Python allows it (``builtins.__import__`` replaced); their
  code and the frozen NumPy module class (``seal.freeze``, CPython 3.10 to 3.13) cannot be.
- The event channel: the answer shares the child's descriptors, so it could forge lines we would
  send (the NumPy flag included).
What it cannot do is escape the process limits, see the labels (they never enter the sandbox) or harm
the host: those are enforced from outside the child, by the template and the kernel.
"""

from __future__ import annotations

import builtins
import dis
import os
import sys
import sysconfig
import types
from typing import Any, Callable

import seal

_ATTRIBUTE_OPS = {dis.opmap[name] for name in ("LOAD_ATTR", "LOAD_METHOD", "STORE_ATTR", "DELETE_ATTR",
                                               "IMPORT_NAME", "IMPORT_FROM") if name in dis.opmap}
_ANSWER, _STDLIB, _TRUSTED, _NOBODY = "answer", "stdlib", "trusted", "nobody"
_OURS = "ours"  # a namespace of our own modules: trusted only with our code (they are easy to reach)
# Reflection that only trusted code has a use for here: flagged unless a trusted frame decides.
_UNLESS_TRUSTED = {"sys._current_frames", "sys.settrace", "sys.setprofile", "sys.addaudithook",
                   "gc.get_objects", "gc.get_referrers", "gc.get_referents"}
# Making code that claims to be NumPy's or ours (by its file name): flagged unless trusted code does.
_CODE_MAKING = {"compile", "code.__new__", "marshal.loads", "marshal.load"}
_WATCHED = _UNLESS_TRUSTED | _CODE_MAKING | {
    "sebench.read", "sebench.change", "sebench.import", "sebench.call", "object.__getattr__",
    "object.__setattr__", "object.__delattr__", "sys._getframe", "import", "exec"}
_FROM_FRONT_ENDS = {"sebench.read", "sebench.call", "sebench.import"}  # judged by the frame below
_MODULE_DICT = vars(types.ModuleType)["__dict__"].__get__


class _Places:
    """Which files are the standard library's and which are NumPy's or ours (cached by name)."""

    def __init__(self, numpy_dirs: set[str]) -> None:
        paths = sysconfig.get_paths()
        self.stdlib = tuple({os.path.realpath(paths[key]) + os.sep for key in ("stdlib", "platstdlib")})
        self.third_party = tuple({os.path.realpath(paths[key]) + os.sep for key in ("purelib", "platlib")})
        here = os.path.dirname(os.path.realpath(__file__))
        self.trusted = tuple({os.path.realpath(folder) + os.sep for folder in numpy_dirs} | {here + os.sep})
        self.trusted_bytes = tuple(folder.encode() for folder in self.trusted)
        self._kinds: dict[str, str] = {}

    def kind(self, filename: str) -> str:
        kind = self._kinds.get(filename)
        if kind is None:
            kind = self._kinds[filename] = self._classify(filename)
        return kind

    def _classify(self, filename: str) -> str:
        if filename.startswith("<frozen "):
            return _STDLIB  # the import system, and the guard's own front-ends
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

    def __init__(self, numpy_module: types.ModuleType, guarded: type) -> None:
        self.report: Callable[[str], None] = _unarmed
        self.places = _Places(_numpy_folders(numpy_module))
        self.guarded = guarded  # the class of NumPy's modules
        self.sealed: set[Any] = set()  # front-ends and trampolined NumPy functions
        self.busy: set[int] = set()  # threads inside the guard (its own look-ups are not judged)
        self.get_ident = __import__("_thread").get_ident
        self.getframe = sys._getframe
        # The globals of the modules loaded now, by module name: a frame is recognised by
        # ``frame.f_globals is known[name][0]``, without reading f_code (an audited, slow read).
        self.known: dict[Any, tuple[dict, str]] = {seal.NAMESPACE["__name__"]: (seal.NAMESPACE, _STDLIB)}
        self.expected: set[str] = set()  # NumPy modules trusted code is importing now
        for name, module in list(sys.modules.items()):
            namespace = getattr(module, "__dict__", None)
            kind = self.places.kind(getattr(module, "__file__", None) or "<frozen >")
            if isinstance(namespace, dict) and (seal.is_numpy(name) or kind != _ANSWER):
                self.known[name] = (namespace, _TRUSTED if seal.is_numpy(name) else
                                    _OURS if kind == _TRUSTED else kind)

    # -- who asks ----------------------------------------------------------------------------------

    def kind(self, frame: Any) -> str:
        """Trusted takes the globals of one of NumPy's modules, or of ours with our code (a file name
        only trusted code may forge: our globals are within any answer's reach, through the frames
        below it); the standard library is told by either."""
        namespace = frame.f_globals
        name = namespace.get("__name__")
        entry = self.known.get(name)
        own = False
        if entry is not None and entry[0] is namespace:
            if entry[1] != _OURS:
                return entry[1]
            own = True
        by_file = self.places.kind(frame.f_code.co_filename)
        if by_file != _TRUSTED:
            return by_file
        if own or self._loaded_since(name, namespace):
            return _TRUSTED
        return _ANSWER  # NumPy's or our code run in globals of someone else's

    def _loaded_since(self, name: Any, namespace: dict) -> bool:
        """A NumPy module trusted code imported after the start (registered the first time one of its
        frames is seen): in sys.modules under its name, with its own globals and a file of NumPy's."""
        if name not in self.expected:
            return False
        module = sys.modules.get(name)
        if not (isinstance(module, types.ModuleType) and _MODULE_DICT(module) is namespace
                and self.places.kind(str(namespace.get("__file__") or "<>")) == _TRUSTED):
            return False
        self.expected.discard(name)
        self.known[name] = (namespace, _TRUSTED)
        return True

    def deciding(self, frame: Any) -> tuple[str, Any]:
        """The kind of the nearest frame outside the standard library, and that frame; ``_NOBODY``
        when there is none (a thread the answer started)."""
        while frame is not None:
            kind = self.kind(frame)
            if kind != _STDLIB:
                return kind, frame
            frame = frame.f_back
        return _NOBODY, None

    def trusted(self, frame: Any) -> bool:
        return self.deciding(frame)[0] == _TRUSTED

    # -- the audit hook ------------------------------------------------------------------------------

    def hook(self) -> Callable[[str, tuple], None]:
        """The hook runs for every audited event in the process (id() included): a plain function
        that returns at once for the events it does not watch, and for NumPy's (or the library's)
        own use of its modules and functions, the events it sees most."""
        busy, get_ident, getframe, known, examine = self.busy, self.get_ident, self.getframe, self.known, self.examine
        places = self.places
        is_numpy, front_ends, watched, trusted, ours = seal.is_numpy, _FROM_FRONT_ENDS, _WATCHED, _TRUSTED, _OURS

        def hook(event: str, args: tuple) -> None:
            if event not in watched:
                if event[:7] != "ctypes.":
                    return
            elif event == "sebench.import" and not (args[1] == 0 and is_numpy(args[0])):
                return
            ident = get_ident()
            if ident in busy:
                return
            busy.add(ident)
            try:
                raising = getframe(1)  # hook(0) <- the frame that raised the event
                asker = raising.f_back
                if event in front_ends and asker is not None:
                    namespace = asker.f_globals
                    entry = known.get(namespace.get("__name__"))
                    if entry is not None and entry[0] is namespace and (entry[1] == trusted or (
                            entry[1] == ours and places.kind(asker.f_code.co_filename) == trusted)):
                        return
                reason = examine(event, args, raising)
            finally:
                busy.discard(ident)
            if reason == "ctypes":
                raise PermissionError("ctypes is not available to answers in this sandbox")
            if reason:
                self.report(reason)
        return hook

    def examine(self, event: str, args: tuple, raising: Any) -> str | None:
        """Why ``event`` (raised while ``raising`` ran) is a way to NumPy, or None."""
        if event[:8] == "sebench.":
            return self._front_end(event, args, raising.f_back)
        if event[:7] == "ctypes.":
            return None if self.trusted(raising) else "ctypes"
        if event == "object.__getattr__":
            return self._internals_read(args, raising)
        if event in ("object.__setattr__", "object.__delattr__"):
            return self._change(args, raising)
        if event == "sys._getframe":
            return "calls sys._getframe (a way around the library)" if self.kind(raising) == _ANSWER else None
        if event in _UNLESS_TRUSTED:
            return None if self.trusted(raising) else f"calls {event} (a way around the library)"
        if event == "import":
            return self._import(args[0], raising)
        if event in _CODE_MAKING:
            return self._code_making(event, args, raising)
        return self._execution(args[0], raising)  # "exec"

    def _front_end(self, event: str, args: tuple, asker: Any) -> str | None:
        kind, frame = self.deciding(asker)
        if kind == _TRUSTED:
            return None
        if event == "sebench.call":
            return f"calls {args[0]}"
        if event == "sebench.change":
            return f"changes {seal.module_name(args[0])}.{args[1]}"
        name = args[1] if event == "sebench.read" else args[0]
        if kind == _ANSWER and not _counts(name, frame, event):
            return None
        if kind == _NOBODY and name.startswith("__") and name.endswith("__") and name != "__dict__":
            return None  # the import system's look-ups (__spec__, __path__) in the answer's thread
        return f"reads {seal.module_name(args[0])}.{name}" if event == "sebench.read" else f"imports {name}"

    def _internals_read(self, args: tuple, raising: Any) -> str | None:
        if self.kind(raising) == _ANSWER:
            return f"reads {args[1]} (interpreter internals)"
        if _member(args[0], self.sealed) and not self.trusted(raising):
            return f"reads {args[1]} of the sandbox's guard"
        return None

    def _change(self, args: tuple, raising: Any) -> str | None:
        target, name = args[0], args[1]
        module = isinstance(target, types.ModuleType)
        if module and name == "__class__" and len(args) > 2 and args[2] is self.guarded:
            return None  # a front-end guarding a NumPy submodule loaded since the start
        touches = (module and (seal.is_numpy(seal.module_name(target)) or name == "__class__")) \
            or name == "__code__" or _member(target, self.sealed)
        if touches and not self.trusted(raising):
            return f"changes {name} of {type(target).__name__}"
        return None

    def _import(self, name: Any, raising: Any) -> str | None:
        """A module loaded now (not yet in sys.modules); NumPy's own lazy imports are expected."""
        if not seal.is_numpy(name):
            return None
        if self.trusted(raising):
            self.expected.add(name)
            return None
        return f"imports {name}"

    def _code_making(self, event: str, args: tuple, raising: Any) -> str | None:
        if event == "marshal.loads":
            claims = isinstance(args[0], (bytes, bytearray)) and any(
                folder in args[0] for folder in self.places.trusted_bytes)
        else:  # compile and code.__new__ name their file; marshal.load does not say
            claims = event == "marshal.load" or (len(args) > 1 and isinstance(args[1], str)
                                                 and self.places.kind(args[1]) == _TRUSTED)
        if claims and not self.trusted(raising):
            return f"makes code that claims to be NumPy's or the sandbox's ({event})"
        return None

    def _execution(self, code: Any, raising: Any) -> str | None:
        if isinstance(code, types.CodeType) and self.places.kind(code.co_filename) == _TRUSTED \
                and not self.trusted(raising):
            return f"executes code of {os.path.basename(code.co_filename)}"
        return None


def _numpy_folders(numpy_module: types.ModuleType) -> set[str]:
    """NumPy's folder, as its files say and as its code objects say (byte-compiled elsewhere, they
    may name another path)."""
    folders = {os.path.dirname(numpy_module.__file__ or "")}
    sample = getattr(getattr(numpy_module, "cumsum", None), "_implementation", None)
    filename = getattr(getattr(sample, "__code__", None), "co_filename", "")
    parts = filename.split(os.sep)
    if "numpy" in parts:
        folders.add(os.sep.join(parts[:len(parts) - parts[::-1].index("numpy")]))
    return {folder for folder in folders if folder}


def _member(value: Any, group: set[Any]) -> bool:
    try:
        return value in group
    except TypeError:  # unhashable: none of ours
        return False


def _public(name: str) -> bool:
    return not any(part.startswith("_") for part in name.split("."))


def _opcode(frame: Any) -> int:
    try:
        return frame.f_code.co_code[frame.f_lasti]
    except (IndexError, TypeError):
        return -1


def _counts(name: str, frame: Any, event: str) -> bool:
    """Does this read or import by answer code reach NumPy? (See the module docstring on private names.)"""
    if event == "sebench.import":
        return _public(name) or _opcode(frame) in _ATTRIBUTE_OPS
    if name == "__dict__":
        return True
    if name.startswith("__") and name.endswith("__"):
        return False  # __spec__, __name__, __path__: the import system's look-ups, nothing to use
    return _public(name) or _opcode(frame) in _ATTRIBUTE_OPS


def _unarmed(reason: str) -> None:
    """Before a child arms the guard (in the template, which runs no answer code) nothing is reported."""


_PREPARED: Guard | None = None


def prepare() -> None:
    """In the template, once NumPy is imported: everything that need not wait for a child.

    NumPy's modules get their guarded class, its Python functions their trampolines and
    ``__import__`` its wrapper here (the template's own code is trusted anyway): each child then
    shares these pages with the template instead of copying them, and only arms the guard.
    """
    global _PREPARED
    guarded = seal.guarded_module_type()
    guard = _PREPARED = Guard(sys.modules["numpy"], guarded)
    guard.sealed.update(value for value in vars(guarded).values() if isinstance(value, types.FunctionType))
    seal.freeze(guarded)
    numpy_modules = {name: module for name, module in sys.modules.items()
                     if seal.is_numpy(name) and type(module) is types.ModuleType}
    for module in numpy_modules.values():
        module.__class__ = guarded
    seal.give_numpy_twins(numpy_modules)
    guard.sealed.update(seal.trampolines())
    builtins.__import__ = seal.import_wrapper(builtins.__import__)
    guard.sealed.add(builtins.__import__)


def install(channel: Any) -> None:
    """In the child: arm every check; a flag is sent on ``channel`` as a ``numpy`` event and ends it.

    Afterwards only the audit hook holds the guard: nothing an answer can reach leads to it.
    """
    global _PREPARED
    if _PREPARED is None:
        prepare()
    guard, _PREPARED = _PREPARED, None
    assert guard is not None

    def report(reason: str) -> None:
        try:
            channel.send("numpy", reason=reason)
            channel.ring()
        finally:
            os._exit(0)

    guard.report = report
    sys.addaudithook(guard.hook())
