"""The built-in ``reference`` model: each problem's NumPy reference, translated into the library's names.

It needs no server and answers instantly, so it is the offline demo and the harness's own check: a
faithful runtime and grader pass most translations, and the ones that fail point at blocked array
methods or at labels the row's own reference does not reproduce.
"""

from __future__ import annotations

import re

from ..data.library import Library
from ..data.problems import Problem

_NUMPY_IMPORT = re.compile(r"^[ \t]*import[ \t]+numpy(?:[ \t]+as[ \t]+(\w+))?[ \t]*(?:#.*)?$", re.M)
_FROM_NUMPY = re.compile(r"^[ \t]*from[ \t]+numpy\b.*$", re.M)
_TOLIST = re.compile(r"\.tolist\(\)")


def _aliases(code: str) -> set[str]:
    return {match.group(1) or "numpy" for match in _NUMPY_IMPORT.finditer(code)} | {"np"}


def translate(code: str, library: Library) -> str:
    """Rewrite ``np.X`` / ``np.linalg.X`` into library names; unmapped names are left for the grader."""
    aliases = "|".join(sorted(map(re.escape, _aliases(code)), key=len, reverse=True))
    linalg = re.compile(rf"\b(?:{aliases})\.linalg\.(\w+)")
    main = re.compile(rf"\b(?:{aliases})\.(\w+)")

    def linalg_name(match: re.Match[str]) -> str:
        target = library.linalg.get(match.group(1))
        return f"{library.name}.{library.linalg_name}.{target}" if target else match.group(0)

    def main_name(match: re.Match[str]) -> str:
        target = library.main.get(match.group(1))
        return f"{library.name}.{target}" if target else match.group(0)

    body = _FROM_NUMPY.sub("", _NUMPY_IMPORT.sub("", code))
    body = main.sub(main_name, linalg.sub(linalg_name, body))
    body = _TOLIST.sub("", body)
    return f"import {library.name}\n{body.strip()}\n"


def reference_response(problem: Problem, library: Library) -> str:
    """The answer text, fenced as a chat model would write it."""
    if problem.reference_code is None:
        return "This problem row has no NumPy reference solution (example_output) to translate."
    return f"```python\n{translate(problem.reference_code, library)}```\n"
