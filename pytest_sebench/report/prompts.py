"""Each item's prompt, rebuilt from the template its report recorded.

A served model's report keeps the prompt template (``provenance.model.prompt_template``), not the
prompts, and not the docs an open- or full-book prompt carried: the HTML page and ``sebench show``
fill the template with the item's problem and put a note naming those docs where they stood.
"""

from __future__ import annotations

import string
from typing import Any, Mapping, Sequence

from ..prompt.templates import example_text


def docs_note(mode: str | None, library: str, functions: Sequence[str]) -> str:
    """What stands for ``{docs}``: which docs the mode showed (their text is not in the report)."""
    if mode == "full":
        return f"[the docs of every function of {library or 'the library'}: not kept in the report]"
    if mode == "open":
        return f"[the docs of {', '.join(functions) or 'the functions of the problem'}: not kept in the report]"
    if mode not in (None, "closed"):
        return f"[the docs the {mode} mode shows: not kept in the report]"
    return ""  # closed book shows none


def fill(template: str, values: Mapping[str, str]) -> str:
    """``template`` with its plain ``{field}`` fields replaced, as ``str.format`` would for these values.

    Not ``str.format`` itself: a report's template is data, and a format spec such as ``{query:>999999999}``
    or a field such as ``{query.__class__}`` must not run here; such fields stay as they are written."""
    parts: list[str] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        return template  # not a template the plugin could have used: shown as it is
    for literal, name, spec, conversion in parsed:
        parts.append(literal)
        if name is None:
            continue
        if name in values and not spec and not conversion:
            parts.append(values[name])
        else:
            parts.append("{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}")
    return "".join(parts)


def _pair(example: Any) -> tuple[str, str] | None:
    if not isinstance(example, dict):
        return None
    return str(example.get("input", "")), str(example.get("output", ""))


class PromptMaker:
    """Fills one run's template for each of its items (None when the run asked no model: the reference
    model, a rollout file)."""

    def __init__(self, provenance: Mapping[str, Any], library: str) -> None:
        model = provenance.get("model")
        template = model.get("prompt_template") if isinstance(model, dict) else None
        self.template = template if isinstance(template, str) else None
        mode = provenance.get("mode")
        self.mode = mode if isinstance(mode, str) else None
        self.library = library

    def prompt(self, item: Mapping[str, Any]) -> str | None:
        """The prompt of a report's item (its JSON form)."""
        problem = item.get("problem")
        problem = problem if isinstance(problem, dict) else {}
        functions = [str(name) for name in item.get("library_functions") or item.get("functions") or ()]
        return self.fill_in(str(problem.get("query") or ""), _pair(problem.get("example")),
                            str(problem.get("signature") or ""), functions)

    def fill_in(self, query: str, example: tuple[str, str] | None, signature: str, functions: Sequence[str],
                docs: str | None = None) -> str | None:
        """The template filled with one problem; ``docs`` stands for the docs (default: the note)."""
        if self.template is None:
            return None
        return fill(self.template, {
            "query": query.strip(), "example": example_text(example), "signature": signature,
            "library": self.library, "docs": self.docs_note(functions) if docs is None else docs})

    def docs_note(self, functions: Sequence[str]) -> str:
        return docs_note(self.mode, self.library, functions)
