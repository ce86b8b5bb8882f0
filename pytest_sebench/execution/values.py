"""The value domain shared by both sides of a comparison.

Expected outputs (parsed from the label's printed text) and the answer's return values (decoded from
the sandbox's wire format) both become these plain Python values, so comparing them needs no NumPy
and never evaluates anything:

- ``None``, ``bool``, ``int``, ``float`` (nan and inf included), ``complex``, ``str``;
- ``list`` and ``tuple`` of values (arrays become nested lists: the reference grader does not tell an
  array from a list, and neither do we);
- ``dict`` with ``str``/``int``/``float``/``bool``/``tuple`` keys;
- :class:`Opaque` for what has no faithful plain form (an object the sandbox could not encode, a
  printed form we could not parse): it carries text and equals nothing but an identical Opaque.

It lives here, with the sandbox interface, because executions are made of these values: ``grade``
(which parses the labels into them and compares) builds on ``execution``, never the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Opaque:
    """Something we can only show, not compare by value (``text`` is what it printed or its repr)."""

    text: str
    type_name: str = ""


Value = None | bool | int | float | complex | str | list | tuple | dict | Opaque


def render(value: Value, limit: int = 400) -> str:
    """A short, readable form of a value for failure messages and reports."""
    text = value.text if isinstance(value, Opaque) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
