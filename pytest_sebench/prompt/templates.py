"""The prompt a model sees: closed book (the benchmark), open book, or full doc; ours or the user's.

A user template is a text file with ``str.format`` fields: ``{query}``, ``{example}``,
``{signature}``, ``{docs}``, ``{library}`` (literal braces doubled), so the paper's exact prompt can be
reproduced. Unknown fields are refused when the run starts, naming the file.
"""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..data.library import Library
from ..data.problems import Problem

FIELDS = ("query", "example", "signature", "docs", "library")

_INSTRUCTIONS = (
    "Solve the following problem in Python with the library `{library}`. Use `{library}`'s own "
    "functions (`import {library}`); do not import numpy or any other numerical library.\n\n"
    "Problem:\n{query}\n\n"
    "Example (its output may not be exact):\n{example}\n\n"
)
_ANSWER = ("Complete this function and give the whole code in one ```python block:\n{signature}\n")
CLOSED_BOOK = _INSTRUCTIONS + _ANSWER
WITH_DOCS = _INSTRUCTIONS + "Documentation of the `{library}` functions you may need:\n\n{docs}\n\n" + _ANSWER


class TemplateError(ValueError):
    pass


@dataclass(frozen=True)
class PromptBuilder:
    mode: str
    template: str
    source: str  # "built-in <mode>" or the template file's path

    @classmethod
    def create(cls, mode: str, template_path: str | None) -> "PromptBuilder":
        if mode not in MODES:
            raise TemplateError(f"unknown mode {mode!r}; the modes are {', '.join(MODES)}")
        if template_path is None:
            return cls(mode, CLOSED_BOOK if mode == "closed" else WITH_DOCS, f"built-in {mode}-book")
        path = Path(template_path).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise TemplateError(f"{path}: cannot read the prompt template ({error})") from None
        check_template(text, str(path))
        return cls(mode, text, str(path))

    @property
    def fingerprint(self) -> str:
        """Identifies the template text (reports and comparability checks use it)."""
        return hashlib.sha256(self.template.encode()).hexdigest()[:16]

    def build(self, problem: Problem, library: Library) -> str:
        return self.template.format(
            query=problem.query.strip(), example=_example(problem), signature=problem.signature,
            docs=self._docs(problem, library), library=library.name)

    def _docs(self, problem: Problem, library: Library) -> str:
        names = MODES[self.mode](problem, library)
        # Each doc under its full name: some rewritten docs never say what they document.
        return "\n\n".join(f"## {name}\n{library.docs[name].strip()}" for name in dict.fromkeys(names)
                           if name in library.docs)


def _no_docs(problem: Problem, library: Library) -> list[str]:
    return []


def _docs_of_the_problem(problem: Problem, library: Library) -> list[str]:
    return [name for function in problem.functions for name in library.resolve(function, problem.reference_code or "")]


def _all_docs(problem: Problem, library: Library) -> list[str]:
    return list(library.docs)


# The prompt modes (--sebench-mode), each with the docs its prompt shows; a new mode is a new entry.
MODES: dict[str, Callable[[Problem, Library], list[str]]] = {
    "closed": _no_docs,  # the benchmark: the model must have internalized the library
    "open": _docs_of_the_problem,  # the docs of the functions the reference solution uses
    "full": _all_docs,  # every doc of the library
}


def _example(problem: Problem) -> str:
    example = problem.example
    return example_text(None if example is None else (example.input, example.expected))


def example_text(example: tuple[str, str] | None) -> str:
    """The ``{example}`` field from an (input, output) pair (``sebench show`` rebuilds prompts from
    the problem a report keeps)."""
    if example is None:
        return "(none)"
    return f"Input: {example[0]}\nOutput: {example[1]}"


def check_template(text: str, where: str) -> None:
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as error:
        raise TemplateError(f"{where}: not a valid template ({error}); write literal braces as {{{{ }}}}") from None
    unknown = sorted({name for name in fields if name not in FIELDS})
    if unknown:
        raise TemplateError(f"{where}: unknown field(s) {', '.join('{' + n + '}' for n in unknown)}; "
                            f"the fields are {', '.join('{' + n + '}' for n in FIELDS)}")
