"""Layers without cycles: no module of the plugin imports itself back through a chain of imports, and
neither does any of its sub-packages (``data``, ``prompt``, ``model``, ``execution``, ``grade``, ``gate``,
``report``, ``testing``, the shipped ``sandbox_files``; each top-level module, such as ``plugin``, counts
as a layer of its own).

The imports are read with ``ast``, never executed, so every one of them is seen:

- at module level;
- inside functions: a lazy import hides a tie until the function runs, it does not remove it (the
  module still cannot be understood, tested or moved without the other);
- under ``if TYPE_CHECKING:``, in both graphs: a cycle that exists only for the type checker still ties
  the two modules together for every reader and for mypy, and "import it for typing only" is the usual
  way a real cycle gets hidden. None of the plugin's type-only imports needs a cycle.

Two kinds of tie are left out on purpose: a module's implicit import of its parent package's
``__init__`` (a package that re-exports its own modules, as ``testing`` does, is the normal facade, not a
cycle), and names given as strings (entry points, ``importlib.resources``), which import nothing.
"""

from __future__ import annotations

import ast
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "pytest_sebench"
# Package name -> folder, as pyproject.toml's [tool.setuptools.package-dir] maps them: the sandbox's
# modules ship inside the plugin. They import each other by bare name (``import frames``), because
# they run with their own folder first on sys.path; `flat` says so.
SOURCES = {PACKAGE: REPO / "pytest_sebench", f"{PACKAGE}.sandbox_files": REPO / "sandbox"}
FLAT = {f"{PACKAGE}.sandbox_files"}
SNAPSHOTS = f"{PACKAGE}.model.progress_snapshots"  # what every asking process loads, xdist workers too


@dataclass(frozen=True)
class Import:
    """One import statement's tie from ``source`` to ``target`` (both module names)."""

    source: str
    target: str
    path: Path
    line: int
    where: str  # "", "lazily" (inside a function) or "for typing" (under TYPE_CHECKING)

    def describe(self, root: Path) -> str:
        place = f"{self.path.relative_to(root)}:{self.line}"
        return f"{place} imports {self.target}" + (f" ({self.where})" if self.where else "")


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    is_package: bool  # an __init__.py: its relative imports start from itself
    flat: bool  # bare-name imports may name a sibling (see FLAT)


def find_modules(sources: dict[str, Path]) -> dict[str, Module]:
    modules: dict[str, Module] = {}
    for package, folder in sources.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            name = ".".join([package, *parts])
            modules[name] = Module(name, path, is_package, package in FLAT)
    return modules


class _Imports(ast.NodeVisitor):
    """Every import statement of one module, with where it stands (module level, function, typing)."""

    def __init__(self) -> None:
        self.found: list[tuple[ast.Import | ast.ImportFrom, str]] = []
        self._functions = 0
        self._typing = 0

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._functions += 1
        self.generic_visit(node)
        self._functions -= 1

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
                (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"):
            self._typing += 1
            for child in node.body:
                self.visit(child)
            self._typing -= 1
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.found.append((node, self._where()))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self.found.append((node, self._where()))

    def _where(self) -> str:
        return "for typing" if self._typing else "lazily" if self._functions else ""


def _known(name: str, modules: dict[str, Module]) -> str | None:
    """The module ``import name`` loads last: ``name`` itself, or the longest known prefix of it."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if (candidate := ".".join(parts[:end])) in modules:
            return candidate
    return None


def _targets(module: Module, node: ast.Import | ast.ImportFrom, modules: dict[str, Module]) -> Iterator[str]:
    def absolute(name: str) -> str | None:
        folder = module.name.rpartition(".")[0]
        if module.flat and f"{folder}.{name.split('.')[0]}" in modules:  # a sibling, as on sys.path
            return _known(f"{folder}.{name}", modules)
        return _known(name, modules)

    if isinstance(node, ast.Import):
        for alias in node.names:
            if (target := absolute(alias.name)) is not None:
                yield target
        return
    if node.level:  # ``from ..x import y`` in a.b.c: from a.x; in the package a.b's __init__: from a
        package = module.name if module.is_package else module.name.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = _known(f"{package}.{node.module}" if node.module else package, modules)
    else:
        base = absolute(node.module or "")
    if base is None:
        return
    for alias in node.names:  # ``from . import progress`` names a module, ``from .x import y`` a name
        yield submodule if (submodule := f"{base}.{alias.name}") in modules else base


def read_imports(sources: dict[str, Path] = SOURCES) -> tuple[dict[str, Module], list[Import]]:
    modules = find_modules(sources)
    imports: list[Import] = []
    for module in modules.values():
        visitor = _Imports()
        visitor.visit(ast.parse(module.path.read_text(encoding="utf-8"), str(module.path)))
        for node, where in visitor.found:
            for target in _targets(module, node, modules):
                if target != module.name:
                    imports.append(Import(module.name, target, module.path, node.lineno, where))
    return modules, imports


def layer(name: str) -> str:
    """The sub-package a module belongs to, or the top-level module itself (``pytest_sebench.plugin``)."""
    return ".".join(name.split(".")[:2])


@dataclass(frozen=True)
class Cycle:
    path: list[str]  # one way round: first and last are the same node
    members: list[str]  # every node tied up with it (its strongly connected part)


def cycles(edges: dict[tuple[str, str], Import]) -> list[Cycle]:
    """One cycle in each strongly connected part of the graph with more than one node (Tarjan)."""
    graph: dict[str, list[str]] = {}
    for source, target in sorted(edges):
        graph.setdefault(source, []).append(target)
        graph.setdefault(target, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    parts: list[set[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in graph[node]:
            if successor not in index:
                connect(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            part: set[str] = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                part.add(member)
                if member == node:
                    break
            if len(part) > 1:
                parts.append(part)

    for node in graph:
        if node not in index:
            connect(node)
    return [Cycle(_cycle_in(part, graph), sorted(part)) for part in parts]


def _cycle_in(part: set[str], graph: dict[str, list[str]]) -> list[str]:
    """The shortest way from the part's first node back to itself, staying inside the part."""
    start = min(part)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for successor in graph[node]:
                if successor == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if successor in part and successor not in came_from:
                    came_from[successor] = node
                    following.append(successor)
        frontier = following
    raise AssertionError(f"no cycle in a strongly connected part: {sorted(part)}")


def explain(found: list[Cycle], edges: dict[tuple[str, str], Import], what: str, root: Path) -> str:
    lines = []
    for cycle in found:
        lines.append(f"import cycle between {what}: " + " -> ".join(cycle.path))
        lines += [f"    {edges[pair].describe(root)}" for pair in itertools.pairwise(cycle.path)]
        if len(cycle.members) > len(cycle.path) - 1:  # break this one and the others may still hold
            lines.append(f"    (tied up with it: {', '.join(cycle.members)})")
    return "\n".join(lines)


def module_edges(imports: list[Import]) -> dict[tuple[str, str], Import]:
    edges: dict[tuple[str, str], Import] = {}
    for tie in imports:
        edges.setdefault((tie.source, tie.target), tie)
    return edges


def layer_edges(imports: list[Import]) -> dict[tuple[str, str], Import]:
    edges: dict[tuple[str, str], Import] = {}
    for tie in imports:
        if (pair := (layer(tie.source), layer(tie.target)))[0] != pair[1]:
            edges.setdefault(pair, tie)  # the first one found names the tie in a failure
    return edges


# -- the plugin -----------------------------------------------------------------------------------------

def test_no_module_imports_itself_back():
    _, imports = read_imports()
    edges = module_edges(imports)
    if found := cycles(edges):
        pytest.fail(explain(found, edges, "modules", REPO), pytrace=False)


def test_no_sub_package_imports_itself_back():
    _, imports = read_imports()
    edges = layer_edges(imports)
    if found := cycles(edges):
        pytest.fail(explain(found, edges, "sub-packages", REPO), pytrace=False)


def test_the_reader_sees_the_plugin_whole():
    """A reader that missed the imports would pass the tests above on any code: check it sees some."""
    modules, imports = read_imports()
    assert {"pytest_sebench.plugin", "pytest_sebench.model.broker", "pytest_sebench.sandbox_files.frames",
            "pytest_sebench.testing"} <= set(modules)
    ties = {(tie.source, tie.target, tie.where) for tie in imports}
    assert ("pytest_sebench.items", "pytest_sebench.grading", "for typing") in ties
    assert ("pytest_sebench.plugin", "pytest_sebench.startup", "lazily") in ties
    assert ("pytest_sebench.execution.stream", "pytest_sebench.sandbox_files.frames", "") in ties
    assert ("pytest_sebench.sandbox_files.supervise", "pytest_sebench.sandbox_files.relay", "") in ties


def test_the_snapshot_part_of_the_progress_display_needs_neither_pytest_nor_rich():
    """The asking processes (xdist workers, the broker's thread) write snapshots and the display reads
    them: that part must load without the terminal's libraries, even through the modules it imports."""
    modules, imports = read_imports()
    assert SNAPSHOTS in modules, f"no module {SNAPSHOTS}: the snapshot part is still mixed with the drawing"
    reached: set[str] = set()
    queue = [SNAPSHOTS]
    while queue:
        name = queue.pop()
        if name not in reached:
            reached.add(name)
            queue += [tie.target for tie in imports if tie.source == name]
    for name in sorted(reached):
        tree = ast.parse(modules[name].path.read_text(encoding="utf-8"))
        roots = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names}
        roots |= {(node.module or "").split(".")[0] for node in ast.walk(tree)
                  if isinstance(node, ast.ImportFrom) and not node.level}
        terminal = roots & {"pytest", "_pytest", "rich"}
        assert not terminal, f"{name} imports {sorted(terminal)}"


# -- the reader itself, on a made-up package ------------------------------------------------------------

def _write(root: Path, files: dict[str, str]) -> dict[str, Path]:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return {"pkg": root}


def test_lazy_and_typing_only_imports_close_cycles(tmp_path):
    sources = _write(tmp_path, {
        "__init__.py": "",
        "a/__init__.py": "",
        "a/one.py": "def f():\n    from ..b import two\n",  # lazily
        "b/__init__.py": "",
        "b/two.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a.one import f\n",
        "c.py": "from .a import one\nfrom . import d\n",
        "d.py": "import pkg.c\n",
    })
    _, imports = read_imports(sources)
    edges = module_edges(imports)
    found = cycles(edges)
    assert sorted(cycle.path for cycle in found) == [["pkg.a.one", "pkg.b.two", "pkg.a.one"],
                                                     ["pkg.c", "pkg.d", "pkg.c"]]
    text = explain(found, edges, "modules", tmp_path)
    assert "a/one.py:2 imports pkg.b.two (lazily)" in text
    assert "b/two.py:3 imports pkg.a.one (for typing)" in text
    # c and d are top-level modules, so layers of their own: their cycle is one between layers too
    assert sorted(cycle.path for cycle in cycles(layer_edges(imports))) == [["pkg.a", "pkg.b", "pkg.a"],
                                                                            ["pkg.c", "pkg.d", "pkg.c"]]


def test_a_package_importing_its_own_modules_is_not_a_cycle(tmp_path):
    sources = _write(tmp_path, {
        "__init__.py": "",
        "t/__init__.py": "from .x import y\ndef lazy():\n    from . import z\n",
        "t/x.py": "from .z import w\ny = 1\n",
        "t/z.py": "w = 2\n",
    })
    _, imports = read_imports(sources)
    assert {(tie.source, tie.target) for tie in imports} == {
        ("pkg.t", "pkg.t.x"), ("pkg.t", "pkg.t.z"), ("pkg.t.x", "pkg.t.z")}
    assert cycles(module_edges(imports)) == []
