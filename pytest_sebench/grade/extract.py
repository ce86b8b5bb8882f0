"""Find the code in a model's answer: the last fenced Python block, as the reference grader takes it."""

from __future__ import annotations

import re

# ```python / ```py / ```python3 (any case), then the body up to the closing fence.
_FENCE = re.compile(r"```[ \t]*(?:python3|python|py)[ \t]*\n(.*?)```", re.IGNORECASE | re.DOTALL)
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)


def extract_code(response: str) -> str:
    """The last fenced Python block, or "" when there is none (graded as not using the library)."""
    text = response.replace("\r\n", "\n").replace("\r", "\n")
    # A reasoning model's scratch work may hold code blocks of its own; the answer follows it.
    text = _THINK.sub("", text)
    blocks = _FENCE.findall(text)
    return blocks[-1] if blocks else ""


def shorten(code: str, max_lines: int = 30) -> str:
    lines = code.rstrip().splitlines()
    if len(lines) <= max_lines:
        return "\n".join(lines)
    head = max_lines - 5
    return "\n".join(lines[:head] + [f"    ... ({len(lines) - head - 4} lines omitted) ..."] + lines[-4:])
