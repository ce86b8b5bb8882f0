"""Read one printed expected output (a piece of a label) back into a plain :data:`Value`.

The label is what the reference printed with ``print``: Python literals (``[1, 2.5]``, ``(1+2j)``,
``{'U': ...}``), NumPy's ``str()`` of arrays (``[[1. 2.]\\n [3. 4.]]``) and, inside containers,
NumPy's ``repr()`` (``array([1., 2.], dtype=float32)``, ``np.float64(3.0)``,
``EigResult(eigenvalues=array(...), ...)``). We read all of these with a small tokenizer
(``tokens``) and a recursive-descent parser: nothing is ever evaluated, so a hostile text can at
worst be rejected.

Decisions (the comparison in :mod:`compare` relies on them):

- Arrays become nested lists, exactly like ``ndarray.tolist()``; ``dtype=`` is read and ignored,
  ``shape=`` rebuilds the nesting of an empty array (``shape=(3, 0)`` gives ``[[], [], []]``).
- NumPy scalars (``np.float64(3.0)``, ``np.True_``, ``np.str_('a')``) become the Python scalar;
  ``dtype('float64')`` becomes the string ``'float64'`` (what ``str()`` of a dtype prints).
- A named tuple's repr (``SVDResult(U=..., S=..., Vh=...)``) becomes a tuple of its field values.
- Sets (``{1, 2}``, ``set()``, ``frozenset({...})``) become lists, sorted when their items can be
  ordered: the printed order of a set depends on hashing, not on the answer.
- ``...`` (NumPy summarised a big array) means values are missing: always a :class:`PrintedFormError`.
- Bytes literals, bare words (``print`` of a plain string shows no quotes) and anything else outside
  these forms are rejected; the caller decides what to do with such text.
- Known ambiguity: NumPy pads complex parts (``nan     +infj``), so a real number followed by a
  signed imaginary number is read as ONE complex number. An object array printing a real next to a
  pure imaginary (``[1.0 -2j]``) would be misread; NumPy's numeric arrays never print that way.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from pytest_sebench.grade.tokens import PrintedFormError, Token, tokenize
from pytest_sebench.execution.values import Value

__all__ = ["PrintedFormError", "parse_printed"]

_MAX_EMPTY_LISTS = 100_000


# --------------------------------------------------------------------------------------- parsing

@dataclass(frozen=True)
class _BareName:
    """An unquoted name as a keyword value (``dtype=float64``): only array calls accept it."""

    text: str


_CONSTANTS: dict[str, Value] = {"True": True, "False": False, "None": None, "True_": True, "False_": False}

# NumPy scalar type names (last dotted component) and the Python type their value becomes.
_SCALAR_TYPES: list[tuple[re.Pattern[str], type]] = [
    (re.compile(r"bool_?"), bool),
    (re.compile(r"u?int(8|16|32|64|p|c)?|u?long(long)?|u?short|u?byte"), int),
    (re.compile(r"float(16|32|64|80|96|128)?|half|single|double|longdouble"), float),
    (re.compile(r"complex(64|128|160|192|256)?|csingle|cdouble|clongdouble"), complex),
    (re.compile(r"str_"), str),
]
# Without a module prefix these are Python builtins, whose calls are not printed forms.
_PYTHON_BUILTINS = {"bool", "int", "float", "complex", "str"}


def _is_array_constructor(last_name: str) -> bool:
    # 'array' is NumPy's repr; the renamed libraries print '<Name>Array(...)' (ZWCArray, QELArray).
    return last_name in ("array", "matrix") or (last_name.endswith("Array") and last_name != "Array")


def _empty_of_shape(shape: Value) -> list:
    """``tolist()`` of an empty array of this shape (``(2, 0)`` gives ``[[], []]``)."""
    if not isinstance(shape, tuple) or not all(type(size) is int and size >= 0 for size in shape):
        raise PrintedFormError(f"bad array shape {shape!r}")
    if 0 not in shape:
        raise PrintedFormError(f"array([]) with the non-empty shape {shape!r}")
    # Strings from answers are parsed too: refuse shapes that would build millions of lists.
    if math.prod(shape[: shape.index(0)]) > _MAX_EMPTY_LISTS:
        raise PrintedFormError(f"empty array shape {shape!r} is too large")
    return _nested_empty(shape)


def _nested_empty(shape: tuple[int, ...]) -> list:
    if shape[0] == 0:
        return []
    return [_nested_empty(shape[1:]) for _ in range(shape[0])]


def _as_set_items(items: list[Value]) -> list[Value]:
    try:
        for item in items:
            hash(item)
    except TypeError as error:  # a set of lists: no Python value prints like that
        raise PrintedFormError(f"unhashable set item in {items!r}") from error
    try:
        return sorted(items)  # type: ignore[type-var]
    except TypeError:  # items of mixed or unorderable types: keep the printed order
        return items


def _coerce_scalar(value: Value, target: type, name: str) -> Value:
    if isinstance(value, str) and target is not str:
        value = parse_printed(value)  # np.longdouble('1.5'), np.clongdouble('1+2j')
    if isinstance(value, bool):
        if target is bool:
            return value
    elif isinstance(value, (int, float, complex)):
        if target is int and isinstance(value, int):
            return value
        if target is float and not isinstance(value, complex):
            return float(value)
        if target is complex:
            return complex(value)
    elif target is str and isinstance(value, str):
        return value
    raise PrintedFormError(f"{name}({value!r}) is not a {target.__name__}")


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.index = 0

    # -- token helpers
    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def at(self, punct: str) -> bool:
        return self.current.kind == "punct" and self.current.value == punct

    def expect(self, punct: str) -> None:
        if not self.at(punct):
            raise self.error(f"expected {punct!r}")
        self.advance()

    def error(self, message: str) -> PrintedFormError:
        token = self.current
        found = "end of text" if token.kind == "end" else repr(token.value)
        return PrintedFormError(f"{message} at {token.pos}, found {found}")

    # -- grammar
    def parse_whole(self) -> Value:
        if self.current.kind == "end":
            raise PrintedFormError("empty text")
        value = self.parse_value()
        if self.current.kind != "end":
            raise self.error("unexpected text after the value")
        return value

    def parse_value(self) -> Value:
        token = self.current
        if token.kind == "number":
            return self.parse_number()
        if token.kind == "string":
            return self.advance().value
        if token.kind == "name":
            return self.parse_name()
        if self.at("["):
            return self.parse_list()
        if self.at("("):
            return self.parse_parenthesised()
        if self.at("{"):
            return self.parse_braces()
        raise self.error("expected a value")

    def parse_number(self) -> Value:
        value = self.advance().value
        # NumPy pads the two parts of a complex separately: 'nan     +infj', '1.5  +0.00e+00j'.
        if not isinstance(value, complex) and self.current.signed_imaginary:
            value = complex(value, self.advance().value.imag)
        return value

    def parse_items(self, closing: str, allow_spaces: bool) -> list[Value]:
        """Items up to ``closing``: comma-separated, or (NumPy str form) separated by whitespace."""
        items: list[Value] = []
        separator: str | None = None
        while not self.at(closing):
            if items:
                if self.at(","):
                    if separator == " ":
                        raise self.error("mixed separators")
                    separator = ","
                    self.advance()
                elif allow_spaces and separator != "," and self.current.spaced:
                    separator = " "
                else:
                    raise self.error(f"expected ',' or {closing!r}")
            items.append(self.parse_value())
        self.advance()
        return items

    def parse_list(self) -> list:
        self.expect("[")
        return self.parse_items("]", allow_spaces=True)

    def parse_parenthesised(self) -> Value:
        self.expect("(")
        if self.at(")"):
            self.advance()
            return ()
        first = self.parse_value()
        if self.at(")"):  # a bare group, as around a complex: (1+2j)
            self.advance()
            return first
        self.expect(",")
        return (first, *self.parse_items(")", allow_spaces=False))

    def parse_braces(self) -> Value:
        self.expect("{")
        if self.at("}"):
            self.advance()
            return {}
        first = self.parse_value()
        if not self.at(":"):  # a set
            items = [first]
            if self.at(","):
                self.advance()
                items += self.parse_items("}", allow_spaces=False)
            else:
                self.expect("}")
            return _as_set_items(items)
        result: dict = {}
        key: Value = first
        while True:
            self.expect(":")
            try:
                hash(key)
            except TypeError as error:  # a list as key: no Python value prints like that
                raise PrintedFormError(f"unhashable dict key {key!r}") from error
            result[key] = self.parse_value()
            if self.at("}"):
                self.advance()
                return result
            self.expect(",")
            key = self.parse_value()

    def parse_name(self) -> Value:
        name = self.advance().value
        last = name.rsplit(".", 1)[-1]
        if not self.at("("):
            if last in _CONSTANTS and (last == name or last.endswith("_")):
                return _CONSTANTS[last]
            raise PrintedFormError(f"unknown name {name!r}")
        positional, keywords = self.parse_arguments()
        return self.apply_call(name, last, positional, keywords)

    def parse_arguments(self) -> tuple[list[Value], dict[str, Value | _BareName]]:
        self.expect("(")
        positional: list[Value] = []
        keywords: dict[str, Value | _BareName] = {}
        while not self.at(")"):
            if positional or keywords:
                self.expect(",")
                if self.at(")"):
                    break
            following = self.tokens[self.index + 1]
            is_keyword = self.current.kind == "name" and following.kind == "punct" and following.value == "="
            if is_keyword:
                keyword = self.advance().value
                self.expect("=")
                keywords[keyword] = self.parse_keyword_value()
            elif keywords:
                raise self.error("positional argument after keyword argument")
            else:
                positional.append(self.parse_value())
        self.advance()
        return positional, keywords

    def parse_keyword_value(self) -> Value | _BareName:
        token = self.current
        following = self.tokens[self.index + 1]
        ends_argument = following.kind == "punct" and following.value in (",", ")")
        if token.kind == "name" and token.value not in _CONSTANTS and ends_argument:
            self.advance()
            return _BareName(token.value)
        return self.parse_value()

    def apply_call(self, name: str, last: str, positional: list, keywords: dict) -> Value:
        if _is_array_constructor(last):
            if len(positional) != 1 or any(isinstance(value, _BareName) for value in positional):
                raise PrintedFormError(f"{name}(...) needs exactly one data argument")
            data = positional[0]
            if "shape" in keywords and data == []:
                return _empty_of_shape(keywords["shape"])
            return data
        if any(isinstance(value, _BareName) for value in keywords.values()):
            raise PrintedFormError(f"unquoted name as argument of {name}(...)")
        if last == "list" and len(positional) == 1 and not keywords:  # object arrays: list([1, 2])
            return positional[0]
        if last == "dtype" and len(positional) == 1 and isinstance(positional[0], str):
            return positional[0]
        if last in ("set", "frozenset") and len(positional) <= 1 and not keywords:
            items = positional[0] if positional else []
            if not isinstance(items, list):
                raise PrintedFormError(f"{name}(...) of {items!r}")
            return _as_set_items(items)
        for pattern, target in _SCALAR_TYPES:
            if pattern.fullmatch(last) and name not in _PYTHON_BUILTINS:
                if len(positional) != 1 or keywords:
                    raise PrintedFormError(f"{name}(...) needs exactly one argument")
                return _coerce_scalar(positional[0], target, name)
        if keywords and not positional and last[:1].isupper():  # a named tuple's repr
            return tuple(keywords.values())
        raise PrintedFormError(f"unknown call {name}(...)")


def parse_printed(text: str) -> Value:
    """Parse one printed value (a label piece) into a plain value; raise PrintedFormError if unreadable."""
    try:
        return _Parser(text).parse_whole()
    except RecursionError as error:
        raise PrintedFormError("nesting too deep") from error
