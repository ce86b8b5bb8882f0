"""The sandbox template: a warm process that forks a fresh, isolated child per answer (PROTOCOL.md).

Started as ``python -I template.py [--hide PATH]... [--no-isolation] [--exclusive-uid] [--own-tmp]
[--spares N]``.
It imports NumPy and our sandbox modules once, enters its namespaces (``isolate``), says ``hello`` and then reads
jobs from stdin, one at a time, answering each with events on stdout, always ending with
``finished``. Each library is built once (cached by its spec) in this trusted process, which never
runs answer code; children are forked from it ahead of their jobs (``SPARES``) and wait, fully
isolated, for one. Each child starts from that pristine state, so nothing an answer changes (the
library, files, its memory) reaches the next answer.

``--hide PATH``: a folder or file the answers must not see (home, project, data, caches); the
interpreter's own folders stay visible read-only. ``--no-isolation``: use no namespace or uid layer
(for tests of the fallback). ``--exclusive-uid``: this template's uid is its own (a container), so
every other process of that uid may be killed after each answer. ``--own-tmp`` (with it): so is the
temporary folder, emptied after each answer. Standard library and NumPy only.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import sys
import sysconfig
import tempfile
import warnings
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)  # our siblings; the folder leaves sys.path before any answer runs
try:
    import child
    import cleanup
    import encode
    import frames
    import guard
    import isolate
    import runner
    import supervise
    from libruntime import build_library
finally:
    sys.path.remove(_HERE)

JOB_FRAME_LIMIT = 256 * 1024**2  # code and inputs; labels never come
LIBRARY_CACHE = 4
# Children forked ahead, so that neither the fork nor the layers are on an answer's path, and in
# batches of SPARES when none is left: every fork makes all of the template's memory copy-on-write
# again, and the template then copies each page it writes while it handles a job (some hundreds);
# a batch pays for those copies once instead of once per answer. The spares set themselves up at
# idle priority, all but the next in line (``supervise.line_up``).
SPARES = 4
# Runs of our own job through the runner once a library is built, so that the interpreter has
# specialised the code every answer runs before the children are forked (in a child, the first runs
# of a function write into its code object, a page copied on the answer's clock otherwise).
REHEARSALS = 12
REHEARSED = ("cumsum", "sum", "mean", "max", "abs")  # NumPy functions of one array a rehearsal may call


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


@dataclass(frozen=True)
class _Built:
    module: Any
    skipped: list[str]


class _Libraries:
    """Libraries built in this process, by spec: built once, reused by every child."""

    def __init__(self) -> None:
        self._built: OrderedDict[Any, _Built] = OrderedDict()

    def get(self, spec: dict[str, Any], key: Any) -> _Built:
        """``key`` identifies ``spec`` (``_Specs.resolve``)."""
        if key not in self._built:
            with warnings.catch_warnings(record=True):  # skipped names go to the host in "ready"
                module, skipped = build_library(spec["name"], spec["linalg_name"], spec["main"], spec["linalg"])
            rehearsal = next((own for target in REHEARSED for own, name in spec["main"].items()
                              if name == target and own in module.__all__), None)
            runner.rehearse(module, rehearsal, times=REHEARSALS)
            self._built[key] = _Built(module, skipped)
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
    child.sandbox_modules()  # every one of ours is loaded by now
    return numpy.__version__


class _Specs:
    """Library specs the host named by a digest (PROTOCOL.md): it sends a spec once per template, and
    afterwards only its digest, so that neither side encodes or parses it again for every answer.
    Remembered for the template's life (a session uses a few libraries)."""

    def __init__(self) -> None:
        self._by_digest: dict[str, dict[str, Any]] = {}

    def resolve(self, message: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        """The job's library spec, and the key its built library is cached by."""
        digest, spec = message.get("library_digest"), message.get("library")
        if not isinstance(digest, str):
            return message["library"], _library_key(message["library"])
        if spec is None:
            if digest not in self._by_digest:
                raise ValueError(f"unknown library digest {digest[:40]!r}")
            return self._by_digest[digest], digest
        self._by_digest[digest] = spec
        return spec, digest


def _job(message: dict[str, Any], specs: _Specs) -> tuple[dict[str, Any], Any]:
    """The job's fields, checked before a child is forked (a malformed job is the host's bug), and the
    key of its library."""
    spec, library_key = specs.resolve(message)
    job = {key: message[key] for key in ("code", "entry_point", "inputs", "limits")}
    job["library"] = spec
    if not (isinstance(job["code"], str) and isinstance(job["entry_point"], str)
            and isinstance(job["inputs"], list) and all(isinstance(text, str) for text in job["inputs"])):
        raise ValueError("code, entry_point and inputs must be text")
    text_cases = message.get("text_cases")  # absent: every case's printed text is sent
    if text_cases is not None:
        if not (isinstance(text_cases, list) and all(type(index) is int for index in text_cases)):
            raise ValueError("text_cases must be a list of case numbers")
        job["text_cases"] = text_cases
    limits = job["limits"]
    for name in ("memory_bytes", "output_bytes", "elements", "cpu_seconds", "timeout_seconds"):
        if not isinstance(limits.get(name), (int, float)) or limits[name] <= 0:
            raise ValueError(f"limit {name} missing or not positive")
    return job, library_key


def _serve(proto_in: int, output: _Output, layers: isolate.Layers, batch: int) -> None:
    """``batch``: spares forked at a time (0: none ahead, a child per job when it comes)."""
    libraries, specs = _Libraries(), _Specs()
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
                    job, library_key = _job(message, specs)
                    library = libraries.get(job["library"], library_key)
                except Exception as error:  # a malformed job is reported, not fatal
                    output.send(_bad_job(job_id, error))
                    continue
                key = (library_key, tuple(sorted(job["limits"].items())))
                # The host needs the events only once the job is over: sent in one write, they cost it
                # one wake-up instead of one per case.
                events, chosen, reaped = _run_job(job_id, job, library, key, spares, layers)
                try:
                    output.send_all(events)
                finally:  # also when the host is gone: the answer's processes go with it
                    supervise.retire(chosen, reaped, layers)
                # The next jobs most likely have the same library and limits: their children start
                # now, while the host looks at this one's results.
                if not spares:
                    while len(spares) < batch:
                        spares.append(supervise.fork_child(library.module, layers, job["limits"], key))
                    supervise.line_up(spares)
    finally:
        while spares:
            supervise.discard(spares.popleft(), layers)
        supervise.settle(layers)


def _run_job(job_id: Any, job: dict[str, Any], library: _Built, key: tuple, spares: deque[supervise.Child],
             layers: isolate.Layers) -> tuple[list[dict[str, Any]], supervise.Child, bool]:
    """The job's events, the child that ran it and whether it was reaped (to retire it once the host
    has the events). A spare that dies before its answer starts (an answer sharing its uid may kill
    it: a container) is replaced once: no answer code ran yet."""
    attempts = 2
    while True:
        chosen = _child_for(spares, library, layers, job["limits"], key)
        handed = supervise.hand_over(chosen, job)
        events: list[dict[str, Any]] = []
        reaped = supervise.supervise(job_id, job, chosen, library.skipped, events.append, handed, layers)
        attempts -= 1
        if not attempts or any(event["event"] == "ready" for event in events):
            return events, chosen, reaped
        supervise.retire(chosen, reaped, layers)


def _child_for(spares: deque[supervise.Child], library: _Built, layers: isolate.Layers, limits: dict[str, Any],
               key: tuple) -> supervise.Child:
    """The oldest spare child when it fits the job and is still there; otherwise a new one."""
    while spares:
        spare = spares.popleft()
        supervise.line_up(spares)
        if spare.key == key and supervise.alive(spare):
            return spare
        supervise.discard(spare, layers)
    return supervise.fork_child(library.module, layers, limits, key)


def _bad_job(job_id: Any, error: Exception) -> dict[str, Any]:
    return {"event": "finished", "id": job_id, "skipped": [], "stdout": "", "stderr": "", "seconds": 0.0,
            "ended": {"type": "SandboxError", "message": f"bad job: {type(error).__name__}: {error}"}}


def _own(layers: isolate.Layers, exclusive_uid: bool, own_tmp: bool) -> None:
    """What the options say this template owns alone. As root each answer has a uid of its own, and
    "every other process of our uid" would be the whole system: the options only hold for an
    unprivileged template. The temporary folder is emptied after an answer once its processes are
    gone, so only with the uid; a private filesystem has a fresh one per answer already."""
    layers.exclusive_uid = exclusive_uid and os.geteuid() != 0
    temporary = os.path.realpath(tempfile.gettempdir())
    layers.own_tmp = own_tmp and layers.exclusive_uid and not layers.mounts and temporary != "/"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="template.py")
    parser.add_argument("--hide", action="append", default=[])
    parser.add_argument("--no-isolation", action="store_true")
    parser.add_argument("--exclusive-uid", action="store_true")
    parser.add_argument("--own-tmp", action="store_true")
    parser.add_argument("--spares", type=int, default=SPARES)
    options = parser.parse_args(argv)
    proto_in, proto_out = _protocol_streams()
    output = _Output(proto_out)
    os.chdir("/")  # our old folder may be one the answers must not see
    # Python's own SIGINT handler would let an answer sharing our uid (a container) stop us with
    # KeyboardInterrupt; the host ends us by closing our stdin. Children restore it for the answers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    isolate.not_dumpable()  # an answer sharing our uid (a container) can then neither ptrace nor rewrite us
    layers = isolate.prepare_template(options.hide, _interpreter_folders(), not options.no_isolation)
    if layers.user:  # before NumPy: the sweeper is forked from a small process
        layers.sweeper = cleanup.Sweeper()
    _own(layers, options.exclusive_uid, options.own_tmp)
    version = _load_numpy()
    isolate.clean_environment()  # the answers' (NumPy has read ours: OPENBLAS_CORETYPE and friends)
    output.send({"event": "hello", "numpy": version, "python": platform.python_version(),
                 "pid": os.getpid(), "layers": layers.describe(), "library_digests": True})
    try:
        _serve(proto_in, output, layers, options.spares)
    except (BrokenPipeError, frames.FrameError) as error:
        sys.stderr.write(f"sandbox template stops: {error}\n")


if __name__ == "__main__":
    main()
