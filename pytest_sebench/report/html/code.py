"""Code highlighting for the page: Pygments tokens as data, drawn in the browser, styled by Pygments' CSS.

Highlighted HTML for thousands of samples would not fit the page's size budget, so the page carries each
distinct code once as text plus its token classes as run lengths; the page's script wraps each run in a
``<span>`` whose class is Pygments' own short name and whose text is set with ``textContent``.
"""

from __future__ import annotations

import functools

from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer
from pygments.token import STANDARD_TYPES, Token, _TokenType

from .numbering import Numbering

STYLE = "default"
CODE_CLASS = "code"  # the CSS scope of the highlighted blocks


class TokenClasses:
    """Pygments' CSS class of each token type the page uses, numbered in order of first use."""

    def __init__(self) -> None:
        self._classes = Numbering()

    @property
    def names(self) -> list[str]:
        return self._classes.values

    def number(self, kind: _TokenType) -> int:
        return self._classes.number(_css_class(kind))


@functools.lru_cache(maxsize=1)
def _lexer() -> PythonLexer:
    # the tokens must add up to the code exactly: no stripped or added newlines
    return PythonLexer(stripnl=False, ensurenl=False)


def _css_class(kind: _TokenType) -> str:
    """The class Pygments' HtmlFormatter would give (a subtype without its own falls back to its parent)."""
    while kind not in STANDARD_TYPES and kind.parent is not None:
        kind = kind.parent
    return STANDARD_TYPES.get(kind, "")


def _utf16_length(text: str) -> int:
    # the browser slices the code by JavaScript string indices, which count UTF-16 units
    return len(text.encode("utf-16-le")) // 2


def highlight(code: str, classes: TokenClasses) -> tuple[str, list[int]]:
    """The code as Pygments reads it (newlines normalised to LF) and its runs: class number, length,
    class number, length, ... (neighbouring tokens of one class merged)."""
    text_parts: list[str] = []
    runs: list[int] = []
    for kind, value in _lexer().get_tokens(code):
        if not value:
            continue
        text_parts.append(value)
        number = classes.number(kind if kind is not Token.Text.Whitespace else Token.Text)
        if runs and runs[-2] == number:
            runs[-1] += _utf16_length(value)
        else:
            runs += [number, _utf16_length(value)]
    return "".join(text_parts), runs


def style_sheet() -> str:
    """Pygments' colours for the token classes, scoped to the page's code blocks."""
    return str(HtmlFormatter(style=STYLE).get_style_defs(f".{CODE_CLASS}"))
