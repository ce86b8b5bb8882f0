"""Run one answer on its cases, inside the sandbox process.

Started by the host as ``python -I runner.py RESULT_FD`` with the job (library spec, code, entry point,
case inputs: never the expected outputs) as JSON on stdin. Reports events as JSON lines on RESULT_FD:
``ready`` (library built, limits set: the answer's clock starts), ``loaded`` or ``load_error``, one
``case`` per case (a tagged value or an error), ``done``. What the answer prints goes to stdout/stderr,
which the host captures and caps. Standard library and NumPy only.
"""

from __future__ import annotations

import builtins
import json
import os
import resource
import sys
import traceback
from typing import Any

ANSWER_FILENAME = "<answer>"
PRINTED_LIMIT = 65536


class Channel:
    def __init__(self, fd: int) -> None:
        self._file = os.fdopen(fd, "w", encoding="utf-8", closefd=True)

    def send(self, event: str, **fields: Any) -> None:
        self._file.write(json.dumps({"event": event, **fields}, allow_nan=False) + "\n")
        self._file.flush()


def _set_limits(limits: dict[str, int]) -> None:
    """Limits are set after NumPy is imported, so they measure the answer, not our start-up."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["output_bytes"], limits["output_bytes"]))
    cpu = limits["cpu_seconds"]
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"], limits["memory_bytes"]))


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


def _import_siblings() -> tuple[Any, Any]:
    """Our own modules beside this file; the folder leaves sys.path again before the answer runs."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    try:
        import encode
        import libruntime
    finally:
        sys.path.remove(here)
    return libruntime, encode.encode


def _array_type(library: Any) -> type:
    return getattr(library, library.__name__.upper() + "Array")


def run(job: dict[str, Any], channel: Channel) -> None:
    import warnings

    libruntime, encode = _import_siblings()
    spec = job["library"]
    with warnings.catch_warnings(record=True):  # skipped names are reported in the ready event
        library, skipped = libruntime.build_library(spec["name"], spec["linalg_name"], spec["main"],
                                                    spec["linalg"])
    libruntime.install_library(library)
    array_type = _array_type(library)
    _set_limits(job["limits"])
    channel.send("ready", skipped=skipped)

    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    load_error = _load(job["code"], job["entry_point"], namespace)
    if load_error is not None:
        channel.send("load_error", error=load_error)
        channel.send("done")  # the runner finished normally: no case can run
        return
    function = namespace[job["entry_point"]]
    channel.send("loaded")

    input_globals = {"__builtins__": builtins, library.__name__: library}
    for index, text in enumerate(job["inputs"]):
        try:
            arguments = eval(f"dict({text})", input_globals)  # the dataset's inputs, inside the sandbox
            value = function(**arguments)
            encoded = encode(value, array_type, job["limits"]["elements"])
            channel.send("case", index=index, value=encoded, printed=_printed(value))
        except BaseException as exc:
            channel.send("case", index=index, error=_error(exc))
        finally:
            _flush_output()
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


def _flush_output() -> None:
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


def main() -> None:
    channel = Channel(int(sys.argv[1]))
    job = json.loads(sys.stdin.buffer.read())
    sys.stdin.close()
    try:
        run(job, channel)
    finally:
        _flush_output()


if __name__ == "__main__":
    main()
