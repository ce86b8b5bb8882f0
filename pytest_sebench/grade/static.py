"""What can be decided from the code alone: does the entry function use the library, does it reach NumPy.

The library check follows the reference grader's rules: the harness adds ``import <lib>`` to every
answer; the entry function must contain a call through the library (``lib.f(...)``,
``lib.sub.f(...)``, or a name imported from it), more than a lone array constructor, and a ``return``
with a value. The NumPy check catches the reference's import forms plus the other routes we can see
in the code (``importlib``, ``sys.modules``, a library function's ``__globals__``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

_NUMPY = "numpy"
# Attributes that lead from a library function to the module it closes over.
_INTERNALS = {"__globals__", "__closure__", "__code__", "__builtins__", "__dict__", "__wrapped__"}


@dataclass(frozen=True)
class StaticFindings:
    entry_point: str | None  # the function that will be called (None: the code defines none)
    library_problem: str | None  # why the code does not count as using the library, or None
    numpy_use: str | None  # how the code reaches NumPy, or None


@dataclass
class _Module:
    """What one walk of the module finds (``ast.walk`` order, as the checks were written against)."""

    functions: list[ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=list)
    imports: list[ast.Import | ast.ImportFrom] = field(default_factory=list)
    numpy_use: str | None = None  # the first way to NumPy found

    @classmethod
    def walk(cls, tree: ast.Module) -> "_Module":
        found = cls()
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.functions.append(node)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                found.imports.append(node)
            if found.numpy_use is None:
                found.numpy_use = _numpy_use(node)
        return found

    def first_function(self) -> str | None:
        """The first ``def`` in the text, as the reference grader picks it (a helper first breaks it)."""
        if not self.functions:
            return None
        return min(self.functions, key=lambda node: (node.lineno, node.col_offset)).name

    def function(self, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        return next((node for node in self.functions if node.name == name), None)

    def library_names(self, library: str) -> set[str]:
        """Names that refer to the library or something imported from it (the harness's import included)."""
        names = {library}
        for node in self.imports:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == library or alias.name.startswith(library + "."):
                        names.add(alias.asname or alias.name.split(".")[0])
            elif node.module and (node.module == library or node.module.startswith(library + ".")):
                names.update(alias.asname or alias.name for alias in node.names)
        return names


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _called_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _library_problem(module: _Module, entry: str | None, library: str, constructor: str | None) -> str | None:
    if entry is None:
        return "the code defines no function"
    function = module.function(entry)
    if function is None:
        return f"the code does not define {entry}()"
    names = module.library_names(library)
    calls, returns_value = [], False
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and _root_name(node.func) in names:
            calls.append(node)
        elif isinstance(node, ast.Return) and node.value is not None:
            returns_value = True
    if not calls:
        return f"{entry}() makes no call through {library}"
    if len(calls) == 1 and constructor and _called_name(calls[0]) == constructor:
        return f"{entry}()'s only {library} call is the array constructor {constructor}()"
    if not returns_value:
        return f"{entry}() returns no value"
    return None


def _is_numpy_text(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and (
        node.value == _NUMPY or node.value.startswith(_NUMPY + "."))


def _numpy_use(node: ast.AST) -> str | None:
    """How this one node reaches NumPy, or None."""
    if isinstance(node, ast.Import) and any(
            alias.name == _NUMPY or alias.name.startswith(_NUMPY + ".") for alias in node.names):
        return f"line {node.lineno}: imports numpy"
    if isinstance(node, ast.ImportFrom) and node.module and (
            node.module == _NUMPY or node.module.startswith(_NUMPY + ".")):
        return f"line {node.lineno}: imports from numpy"
    if isinstance(node, ast.Call) and node.args and _is_numpy_text(node.args[0]):
        return f"line {node.lineno}: {_called_name(node) or 'a call'}() loads numpy by name"
    if isinstance(node, ast.Subscript) and _is_numpy_text(node.slice):
        return f"line {node.lineno}: looks numpy up by name"
    if isinstance(node, ast.Attribute) and node.attr in _INTERNALS:
        return f"line {node.lineno}: reaches into {node.attr} (a way around the library to NumPy)"
    return None


def analyse(code: str, library: str, entry_point: str | None, constructor: str | None) -> StaticFindings:
    """``entry_point`` None means: the first function the code defines (rollouts without a signature)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError) as error:
        reason = f"the code does not parse: {getattr(error, 'msg', error)}"
        lineno = getattr(error, "lineno", None)
        return StaticFindings(entry_point, reason + (f" (line {lineno})" if lineno else ""), None)
    module = _Module.walk(tree)
    entry = entry_point or module.first_function()
    return StaticFindings(entry, _library_problem(module, entry, library, constructor), module.numpy_use)
