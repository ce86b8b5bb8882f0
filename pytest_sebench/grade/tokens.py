"""The tokens of a printed value (see ``printed``): numbers as NumPy and Python print them, quoted
strings, names, punctuation; each knows whether whitespace came before it. Nothing is evaluated.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

__all__ = ["PrintedFormError", "Token", "tokenize"]


class PrintedFormError(ValueError):
    """The text is not a printed value we can read (or it is a truncated array)."""


# One unsigned real as Python or NumPy print it: 3, 3., .5, 1e-09, 1.e-05, 1.00000000e+00, inf, nan.
_UNSIGNED = r"(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|inf|nan)"
# A whole number token: a real, an imaginary (2j, -infj) or real+imag without spaces (1.+2.j,
# -0-1j, nan+nanj). The look-ahead keeps 'info' or '1.5.3' from being read as numbers.
_NUMBER = rf"(?P<real>[+-]?{_UNSIGNED})(?:(?P<j>[jJ])|(?P<imag>[+-]{_UNSIGNED})[jJ])?(?![A-Za-z0-9_.])"
_INTEGER = re.compile(r"[+-]?\d+")
_NAME = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
# Every token but strings in one pattern, tried in this order (a number before a name: 'inf' is a
# number, 'info' a name): one match per token instead of one attempt per kind.
_TOKEN = re.compile(rf"(?P<space>\s+)|(?P<number>{_NUMBER})|(?P<name>{_NAME})|(?P<punct>[\[\](){{}},:=])")

_SIMPLE_ESCAPES = {
    "\\": "\\", "'": "'", '"': '"', "n": "\n", "r": "\r", "t": "\t",
    "a": "\a", "b": "\b", "f": "\f", "v": "\v",
}
_HEX_ESCAPE_DIGITS = {"x": 2, "u": 4, "U": 8}


class Token(NamedTuple):
    kind: str  # "number", "string", "name", "punct" or "end"
    value: Any
    pos: int
    spaced: bool  # whitespace came right before it (NumPy separates array items that way)
    signed_imaginary: bool = False  # like '+0.j' or '-infj': may be the 2nd half of a padded complex


def _number_value(match: re.Match[str]) -> int | float | complex:
    real = match.group("real")
    if match.group("j"):
        return complex(0.0, float(real))
    if match.group("imag") is not None:
        return complex(float(real), float(match.group("imag")))
    if not _INTEGER.fullmatch(real):
        return float(real)
    try:
        return int(real)
    except ValueError as error:  # beyond Python's digit limit for int(): print() cannot show it either
        raise PrintedFormError(f"integer of {len(real)} digits is too long") from error


def _read_string(text: str, start: int) -> tuple[str, int]:
    """Read a quoted Python string literal starting at ``start``; return it and the index after it."""
    quote = text[start]
    chars: list[str] = []
    pos = start + 1
    while pos < len(text):
        char = text[pos]
        if char == quote:
            return "".join(chars), pos + 1
        if char == "\n":
            break
        if char != "\\":
            chars.append(char)
            pos += 1
            continue
        escape = text[pos + 1 : pos + 2]
        if escape in _SIMPLE_ESCAPES:
            chars.append(_SIMPLE_ESCAPES[escape])
            pos += 2
        elif escape in _HEX_ESCAPE_DIGITS:
            width = _HEX_ESCAPE_DIGITS[escape]
            digits = text[pos + 2 : pos + 2 + width]
            if len(digits) != width or not re.fullmatch(r"[0-9a-fA-F]+", digits):
                raise PrintedFormError(f"bad \\{escape} escape at {pos}")
            try:
                chars.append(chr(int(digits, 16)))
            except (ValueError, OverflowError) as error:
                raise PrintedFormError(f"bad \\{escape} escape at {pos}") from error
            pos += 2 + width
        elif re.fullmatch(r"[0-7]", escape):
            octal = re.match(r"[0-7]{1,3}", text[pos + 1 :])
            assert octal is not None
            chars.append(chr(int(octal.group(), 8)))
            pos += 1 + len(octal.group())
        else:  # Python keeps an unknown escape as it is, backslash included
            chars.append("\\")
            pos += 1
    raise PrintedFormError(f"unterminated string starting at {start}")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos, spaced, size = 0, False, len(text)
    match_token = _TOKEN.match
    while pos < size:
        match = match_token(text, pos)
        kind = match.lastgroup if match else None
        if kind == "space":
            pos, spaced = match.end(), True  # type: ignore[union-attr]
            continue
        if kind == "number":
            real = match.group("real")  # type: ignore[union-attr]
            imaginary_only = match.group("j") is not None  # type: ignore[union-attr]
            tokens.append(Token("number", _number_value(match), pos, spaced,  # type: ignore[arg-type]
                                 imaginary_only and real[0] in "+-"))
        elif kind == "name" or kind == "punct":
            tokens.append(Token(kind, match.group(), pos, spaced))  # type: ignore[union-attr]
        elif text.startswith("...", pos):
            raise PrintedFormError("the array was summarised with '...': its values are not all printed")
        elif text[pos] in "'\"":
            value, end = _read_string(text, pos)
            tokens.append(Token("string", value, pos, spaced))
            pos, spaced = end, False
            continue
        else:
            raise PrintedFormError(f"unexpected character {text[pos]!r} at {pos}")
        pos, spaced = match.end(), False  # type: ignore[union-attr]
    tokens.append(Token("end", None, size, spaced))
    return tokens
