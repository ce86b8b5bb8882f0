"""Each item's prompt, rebuilt from the template its report recorded.

A served model's report keeps the prompt template (``provenance.model.prompt_template``), not the
prompts, and not the docs an open- or full-book prompt carried: the page fills the template with the
item's problem and puts a note naming those docs where they stood.
"""

from __future__ import annotations

import string
from typing import Any, Mapping, Sequence

from ...prompt.templates import example_text
from .fields import mapping


def docs_note(mode: str | None, library: str, functions: Sequence[str]) -> str:
    """What stands for ``{docs}``: which docs the mode showed (their text is not in the report)."""
    if mode == "full":
        return f"[the docs of every function of {library or 'the library'}: not kept in the report]"
    if mode == "open" and functions:
        return f"[the docs of {', '.join(functions)}: not kept in the report]"
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
        if self.template is None:
            return None
        problem = mapping(item.get("problem"))
        functions = [str(name) for name in item.get("library_functions") or item.get("functions") or ()]
        return fill(self.template, {
            "query": str(problem.get("query") or "").strip(), "example": example_text(_pair(problem.get("example"))),
            "signature": str(problem.get("signature") or ""), "library": self.library,
            "docs": docs_note(self.mode, self.library, functions)})
