"""Run one answer on its cases, inside the forked child (after ``isolate`` has set up its layers).

The child reports to the template over a private pipe, one JSON line per event: ``loaded`` or
``load_error``, one ``case`` per case (a tagged value or an error), ``done``. The template checks each
line and relays it to the host; it sends ``ready`` and ``finished`` itself. What the answer prints goes
to stdout/stderr, which the template captures and caps. The job holds the library spec, the code, the
entry point and the case inputs: never the expected outputs. Standard library and NumPy only.
"""

from __future__ import annotations

import builtins
import json
import os
import sys
import traceback
import types
from typing import Any, Callable

from encode import encode

ANSWER_FILENAME = "<answer>"
PRINTED_LIMIT = 65536


class Channel:
    """The result pipe: one JSON line per event, written at once (no buffer of ours to flush).

    Nobody waits on that pipe while the answer runs (the template reads it now and then), so a line
    wakes nobody up; the bell, rung after the last one (by the child, or the guard), does.
    """

    def __init__(self, fd: int, bell: int) -> None:
        self._fd = fd
        self._bell = bell

    def send(self, event: str, **fields: Any) -> None:
        data = memoryview((json.dumps({"event": event, **fields}, allow_nan=False) + "\n").encode())
        while data:
            data = data[os.write(self._fd, data):]

    def ring(self) -> None:
        try:
            os.write(self._bell, b"!")
        except OSError:
            pass  # the template stops reading only once it gave up on us


def _error(exc: BaseException) -> dict[str, str]:
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__)
              if frame.filename == ANSWER_FILENAME]
    where = "".join(traceback.format_list(frames[-3:]))
    try:
        message = str(exc)
    except BaseException:  # an exception class of the answer's own may break str()
        message = "<message unavailable>"
    return {"type": type(exc).__name__, "message": message[:2000], "where": where[-2000:]}


def _printed(value: Any) -> str | None:
    try:
        text = str(value)
    except BaseException:
        return None
    return text if len(text) <= PRINTED_LIMIT else None


def _array_type(library: Any) -> type:
    return getattr(library, library.__name__.upper() + "Array")


def run(job: dict[str, Any], library: Any, channel: Channel, compiled: Callable[[], list[Any]]) -> None:
    """``library`` is the module the template built (and the child installed) for ``job``;
    ``compiled()`` gives its inputs compiled (None for one to compile here)."""
    # The answer's module is __main__, as for a script (the template's own left sys.modules).
    main: Any = types.ModuleType("__main__")  # Any: typeshed's ModuleType has no __builtins__
    main.__builtins__ = builtins
    sys.modules["__main__"] = main
    _run(job, library, channel, main.__dict__, compiled)


class _Discard:
    def send(self, event: str, **fields: Any) -> None:
        json.dumps({"event": event, **fields}, allow_nan=False)

    def ring(self) -> None:
        pass


def rehearse(library: Any, function: str | None, times: int = 1) -> None:
    """Run a job of our own the way ``run`` runs an answer, sending nothing.

    In the template, repeated, it lets the interpreter specialise the code every answer runs (its
    first runs write into the code objects); in a child, it copies the pages an answer's run writes
    first (shared with the template since the fork). Either way before the answer's clock, not on
    it. ``function``: the name of a library function that takes one array (or None).
    """
    array = f"{library.__name__}.{_array_type(library).__name__}([1.5, -2.0, 3.25])"
    body = f"{library.__name__}.{function}(x)" if function else "x"
    job = {"code": f"def f(x):\n    return {body}\n", "entry_point": "f", "inputs": [f"x={array}"],
           "limits": {"elements": 1000}, "text_cases": []}
    for _ in range(times):
        _run(job, library, _Discard(), {"__name__": "__main__", "__builtins__": builtins,
                                         library.__name__: library})


def _run(job: dict[str, Any], library: Any, channel: Any, namespace: dict[str, Any],
         compiled: Callable[[], list[Any]] | None = None) -> None:
    array_type = _array_type(library)
    load_error = _load(job["code"], job["entry_point"], namespace)
    if load_error is not None:
        channel.send("load_error", error=load_error)
        channel.send("done")  # the runner finished normally: no case can run
        return
    function = namespace[job["entry_point"]]
    channel.send("loaded")

    input_globals = {"__builtins__": builtins, library.__name__: library}
    text_cases = job.get("text_cases")
    text_wanted = set(range(len(job["inputs"])) if text_cases is None else text_cases)
    codes = compiled() if compiled is not None else [None] * len(job["inputs"])
    for index, (text, code) in enumerate(zip(job["inputs"], codes, strict=True)):
        try:
            # The dataset's inputs, evaluated inside the sandbox (compiled by the template).
            arguments = eval(f"dict({text})" if code is None else code, input_globals)
            value = function(**arguments)
            encoded = encode(value, array_type, job["limits"]["elements"])
            channel.send("case", index=index, value=encoded,
                         printed=_printed(value) if index in text_wanted else None)
        except BaseException as exc:
            channel.send("case", index=index, error=_error(exc))
        finally:
            flush_output()
    channel.send("done")


def _load(code: str, entry_point: str, namespace: dict[str, Any]) -> dict[str, str] | None:
    """Run the answer's module code; the error (its own, or a missing entry function), or None."""
    try:
        exec(compile(code, ANSWER_FILENAME, "exec"), namespace)
    except BaseException as exc:  # whatever the module code raises is the answer's load error
        return _error(exc)
    if entry_point not in namespace:
        return {"type": "NameError", "where": "", "message": f"the answer defines no function {entry_point!r}"}
    if not callable(namespace[entry_point]):
        return {"type": "TypeError", "where": "", "message": f"{entry_point} is not a function"}
    return None


def flush_output() -> None:
    """Push what the answer printed to the host's capture files.

    Past the output cap a flush raises (File too large) and the unwritten rest stays buffered, so it
    would raise again after every later case: the answer's output is what fails, never the runner.
    The answer may also have replaced or closed the streams.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
