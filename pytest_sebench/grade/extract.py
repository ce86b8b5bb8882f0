"""Find the code in a model's answer: the last fenced Python block, as the reference grader takes it."""

from __future__ import annotations

import re

# ```python / ```py / ```python3 (any case), then the body up to the closing fence.
_FENCE = re.compile(r"```[ \t]*(?:python3|python|py)[ \t]*\n(.*?)```", re.IGNORECASE | re.DOTALL)
_THINK = re.compile(r"<think>(.*?)(?:</think>|\Z)", re.DOTALL)  # unclosed: cut while thinking
_STRAY_CLOSE = re.compile(r"^(.*?)</think>", re.DOTALL)  # a template that opened <think> itself


def split_reasoning(response: str) -> tuple[str, str]:
    """The answer and the reasoning of a response with inline ``<think>`` blocks.

    A reasoning model's scratch work may hold code blocks of its own; the answer is what is outside
    it. An unclosed block (the answer was cut at max_tokens while thinking) is all reasoning; a
    ``</think>`` with no opening (some chat templates open the block in the prompt) closes reasoning
    that began the response.
    """
    text = response.replace("\r\n", "\n").replace("\r", "\n")
    thoughts: list[str] = []
    if "</think>" in text and "<think>" not in text.split("</think>", 1)[0]:
        stray = _STRAY_CLOSE.match(text)
        if stray is not None:
            thoughts.append(stray.group(1).strip())
            text = text[stray.end():]
    thoughts += [match.strip() for match in _THINK.findall(text)]
    return _THINK.sub("", text).strip("\n"), "\n\n".join(thought for thought in thoughts if thought)


def extract_code(response: str) -> str:
    """The last fenced Python block of the answer (reasoning left out), or "" when there is none
    (graded as not using the library)."""
    blocks = _FENCE.findall(split_reasoning(response)[0])
    return blocks[-1] if blocks else ""


def head_and_tail(text: str, lines: int = 8, width: int = 160) -> str:
    """The start and the end of a long text (why an answer had no code: prose, a cut, a refusal)."""
    rows = [row if len(row) <= width else row[: width - 3] + "..." for row in text.strip().splitlines()]
    if len(rows) <= 2 * lines:
        return "\n".join(rows)
    return "\n".join([*rows[:lines], f"... ({len(rows) - 2 * lines} lines omitted) ...", *rows[-lines:]])


def shorten(code: str, max_lines: int = 30) -> str:
    lines = code.rstrip().splitlines()
    if len(lines) <= max_lines:
        return "\n".join(lines)
    head = max_lines - 5
    return "\n".join([*lines[:head], f"    ... ({len(lines) - head - 4} lines omitted) ...", *lines[-4:]])
