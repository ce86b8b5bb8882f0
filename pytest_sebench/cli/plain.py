"""Text from a report, made safe to print: a report holds what a model wrote, and a model can write
anything (rich markup, ANSI escapes that clear the screen or retitle the terminal, bidi overrides).

Everything from a report goes to the console as a :class:`rich.text.Text` (never parsed as markup),
its control characters shown as escapes (``\\x1b``) instead of sent to the terminal.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

# C0 controls but tab and newline, DEL, C1 controls; the bidi embeddings, overrides and isolates,
# which reorder what follows them on screen (the code shown would not be the code that ran)
_CONTROLS = [*(c for c in range(0x20) if c not in (0x09, 0x0A)), *range(0x7F, 0xA0),
             *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_VISIBLE = {c: (f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}") for c in _CONTROLS}


def visible(value: Any) -> str:
    """``value`` as text with every control character but tab and newline written as an escape."""
    text = value if isinstance(value, str) else str(value)
    return text.replace("\r\n", "\n").translate(_VISIBLE)


def plain(value: Any, style: str = "") -> Text:
    """A rich Text of ``value``, shown as written: markup is not parsed, controls are escaped."""
    return Text(visible(value), style=style)
