"""The template's check of a child's events: each line the child writes is untrusted input.

The answer shares the child's memory and descriptors, so it can write lines of its own on the event
pipe. Each must be one JSON object with a known event; ``ready`` must come first (a second one is
ignored), case numbers must belong to the job, the whole must stay under a byte limit. Lines that
pass go to the host with the job's id; the first that does not is a protocol problem (the template
then stops the child and trusts none of its cases). ``ready`` and ``finished`` to the host are only
ever the template's: a child's line can make neither. Standard library only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

Emit = Callable[[dict[str, Any]], None]

_FROM_CHILD = {"ready", "loaded", "load_error", "case", "numpy", "done"}


@dataclass
class Relay:
    """Checks the child's lines and passes them on to the host with the job id."""

    job_id: Any
    emit: Emit
    skipped: list[str]
    limit: int
    cases: int
    ready: bool = False
    done: bool = False
    numpy: str | None = None
    received: int = 0
    buffer: bytes = b""
    problem: str | None = field(default=None)

    def feed(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if self.received > self.limit:
            self.problem = f"the answer's results exceeded {self.limit} bytes"
            return
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            if self.problem or self.done or self.numpy:
                return
            self._line(line)

    def _line(self, line: bytes) -> None:
        try:
            event = json.loads(line, parse_constant=_no_constants)
            kind = event.pop("event")
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            self.problem = "unreadable message on the result channel"
            return
        if kind not in _FROM_CHILD or (kind != "ready" and not self.ready):
            self.problem = f"unexpected message {str(kind)[:40]!r} on the result channel"
        elif kind == "ready":
            if not self.ready:  # a second "ready" can only come from the answer: ignored
                self.ready = True
                self.emit({"event": "ready", "id": self.job_id, "skipped": self.skipped})
        elif kind == "done":
            self.done = True
        elif kind == "case" and not (type(event.get("index")) is int and 0 <= event["index"] < self.cases):
            self.problem = "a case result outside the job on the result channel"
        elif kind == "numpy":
            self.numpy = str(event.get("reason", "reached NumPy"))[:500]
            self.emit({"event": "numpy", "id": self.job_id, "reason": self.numpy})
        else:
            self.emit({**event, "event": kind, "id": self.job_id})


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not JSON")
