"""The sandbox template: a warm process that forks a fresh, isolated child per answer (PROTOCOL.md).

Started as ``python -I template.py [--hide PATH]... [--no-isolation] [--exclusive-uid]``. It imports
NumPy and our sandbox modules once, enters its namespaces (``isolate``), says ``hello`` and then reads
jobs from stdin, one at a time, answering each with events on stdout, always ending with
``finished``. Each library is built once (cached by its spec) in this trusted process, which never
runs answer code; children are forked from it ahead of their jobs (``SPARES``) and wait, fully
isolated, for one. Each child starts from that pristine state, so nothing an answer changes (the
library, files, its memory) reaches the next answer.

``--hide PATH``: a folder or file the answers must not see (home, project, data, caches); the
interpreter's own folders stay visible read-only. ``--no-isolation``: use no namespace or uid layer
(for tests of the fallback). ``--exclusive-uid``: this template's uid is its own (a container), so
every other process of that uid may be killed after each answer. Standard library and NumPy only.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import sysconfig
import warnings
from collections import OrderedDict, deque
from typing import Any

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)  # our siblings; the folder leaves sys.path before any answer runs
try:
    import encode
    import frames
    import guard
    import isolate
    import supervise
    from libruntime import build_library
finally:
    sys.path.remove(_HERE)

JOB_FRAME_LIMIT = 256 * 1024**2  # code and inputs; labels never come
LIBRARY_CACHE = 4
# Children forked ahead: with two, one sets itself up while the other runs an answer, so neither
# the fork nor the layers are on the answer's path even when jobs come back to back.
SPARES = 2


class _Output:
    """Frames to the host on a descriptor of our own (fd 1 is pointed at stderr: a stray print
    from NumPy or from us cannot corrupt the stream)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def send(self, message: dict[str, Any]) -> None:
        self.send_all([message])

    def send_all(self, messages: list[dict[str, Any]]) -> None:
        data = memoryview(b"".join(frames.encode_frame(message) for message in messages))
        while data:
            data = data[os.write(self.fd, data):]


class _Libraries:
    """Libraries built in this process, by spec: built once, reused by every child."""

    def __init__(self) -> None:
        self._built: OrderedDict[tuple, tuple[Any, list[str]]] = OrderedDict()

    def get(self, spec: dict[str, Any], key: tuple) -> tuple[Any, list[str]]:
        """``key`` is ``_library_key(spec)``."""
        if key not in self._built:
            with warnings.catch_warnings(record=True):  # skipped names go to the host in "ready"
                self._built[key] = build_library(spec["name"], spec["linalg_name"], spec["main"], spec["linalg"])
            while len(self._built) > LIBRARY_CACHE:
                self._built.popitem(last=False)
        self._built.move_to_end(key)
        return self._built[key]


def _library_key(spec: dict[str, Any]) -> tuple:
    # Exact (no hash collision can pick the wrong library) and cheaper than serialising the spec.
    return (spec["name"], spec["linalg_name"], tuple(spec["main"].items()), tuple(spec["linalg"].items()))


def _protocol_streams() -> tuple[int, int]:
    proto_in, proto_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(2, 1)
    os.close(null)
    return proto_in, proto_out


def _interpreter_folders() -> list[str]:
    """What the children need to see even inside a hidden folder: the interpreter and its libraries."""
    folders = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
               os.path.dirname(os.path.realpath(sys.executable))}
    folders.update(path for path in sysconfig.get_paths().values() if path)
    folders.add(os.path.dirname(os.path.abspath(__file__)))  # our own modules, should a child need one
    return sorted(folder for folder in folders if os.path.isdir(folder))


def _load_numpy() -> str:
    """Import NumPy once, for every child to inherit; prepare what uses it. Returns its version."""
    import numpy  # kept out of our globals (an answer can read them)

    guard.prepare()
    encode.numpy_types()
    return numpy.__version__


def _job(message: dict[str, Any]) -> dict[str, Any]:
    """The job's fields, checked before a child is forked (a malformed job is the host's bug)."""
    job = {key: message[key] for key in ("library", "code", "entry_point", "inputs", "limits")}
    if not (isinstance(job["code"], str) and isinstance(job["entry_point"], str)
            and isinstance(job["inputs"], list) and all(isinstance(text, str) for text in job["inputs"])):
        raise ValueError("code, entry_point and inputs must be text")
    limits = job["limits"]
    for name in ("memory_bytes", "output_bytes", "elements", "cpu_seconds", "timeout_seconds"):
        if not isinstance(limits.get(name), (int, float)) or limits[name] <= 0:
            raise ValueError(f"limit {name} missing or not positive")
    return job


def _serve(proto_in: int, output: _Output, layers: isolate.Layers, exclusive_uid: bool) -> None:
    libraries = _Libraries()
    reader = frames.FrameReader(JOB_FRAME_LIMIT)
    spares: deque[supervise.Child] = deque()  # forked ahead for the next jobs
    try:
        while True:
            chunk = os.read(proto_in, 1024**2)
            if not chunk:
                return  # the host closed the stream: nothing more to do
            for message in reader.feed(chunk):
                job_id = message.get("id")
                try:
                    job = _job(message)
                    library_key = _library_key(job["library"])
                    library, skipped = libraries.get(job["library"], library_key)
                except Exception as error:  # noqa: BLE001  (a malformed job is reported, not fatal)
                    output.send(_bad_job(job_id, error))
                    continue
                key = (library_key, tuple(sorted(job["limits"].items())))
                chosen = _child_for(spares, library, layers, job["limits"], key, exclusive_uid)
                # The host needs the events only once the job is over: sent in one write, they cost it
                # one wake-up instead of one per case.
                events: list[dict[str, Any]] = []
                reaped = supervise.supervise(job_id, job, chosen, skipped, events.append)
                output.send_all(events)
                supervise.retire(chosen, reaped, layers, exclusive_uid)
                # The next jobs most likely have the same library and limits: their children start
                # now, while the host looks at this one's results.
                while len(spares) < SPARES:
                    spares.append(supervise.fork_child(library, layers, job["limits"], key))
    finally:
        while spares:
            supervise.discard(spares.popleft(), layers, exclusive_uid)
        supervise.settle(layers)


def _child_for(spares: deque[supervise.Child], library: Any, layers: isolate.Layers, limits: dict[str, Any],
               key: tuple, exclusive_uid: bool) -> supervise.Child:
    """The oldest spare child when it fits the job and is still there; otherwise a new one."""
    while spares:
        spare = spares.popleft()
        if spare.key == key and supervise.alive(spare):
            return spare
        supervise.discard(spare, layers, exclusive_uid)
    return supervise.fork_child(library, layers, limits, key)


def _bad_job(job_id: Any, error: Exception) -> dict[str, Any]:
    return {"event": "finished", "id": job_id, "skipped": [], "stdout": "", "stderr": "", "seconds": 0.0,
            "ended": {"type": "SandboxError", "message": f"bad job: {type(error).__name__}: {error}"}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="template.py")
    parser.add_argument("--hide", action="append", default=[])
    parser.add_argument("--no-isolation", action="store_true")
    parser.add_argument("--exclusive-uid", action="store_true")
    options = parser.parse_args(argv)
    proto_in, proto_out = _protocol_streams()
    output = _Output(proto_out)
    os.chdir("/")  # our old folder may be one the answers must not see
    layers = isolate.prepare_template(options.hide, _interpreter_folders(), not options.no_isolation)
    version = _load_numpy()
    output.send({"event": "hello", "numpy": version, "python": platform.python_version(),
                 "pid": os.getpid(), "layers": layers.describe()})
    # As root each answer has a uid of its own; killing "every other process of our uid" would then
    # reach the whole system, so the option only holds for an unprivileged template.
    exclusive_uid = options.exclusive_uid and os.geteuid() != 0
    try:
        _serve(proto_in, output, layers, exclusive_uid)
    except (BrokenPipeError, frames.FrameError) as error:
        sys.stderr.write(f"sandbox template stops: {error}\n")


if __name__ == "__main__":
    main()
