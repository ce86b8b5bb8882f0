"""The remote half of the ``url`` backend: runs inside the remote service's fresh interpreter.

It lives with the sandbox's modules because it runs where they run, not in the plugin: the host
(``pytest_sebench/execution/backends/url.py``) ships this file's text in every program as the driver,
next to the text of the other modules of this folder and one job, and imports it only for
:data:`MARKER`. Standard library only. Here it:

1. makes this process non-dumpable (prctl), so no other process of our uid can open
   ``/proc/<us>/fd/1`` (the result channel) or ``/proc/<us>/mem``;
2. loads the sandbox modules from memory (no files on the remote) and runs the template
   (``sandbox/template.py``) in this very process on the one job: the template forks the answer's child
   exactly as the local backend does (own process group, stdout/stderr in capped capture files, every
   other descriptor closed, limits, the NumPy guard, the isolation layers the remote permits) and
   holds the answer's clock;
3. adds a seccomp filter to each child (where the machine has one): the answer cannot signal us, our
   parent or any group but its own, nor leave its process group, nor ptrace;
4. prints the template's frames, once the child is gone, as ONE result on the real stdout::

       sebench-result 1 <length of body> <sha256 of body>\\n<body>\\n

   body = base64(zlib(the template's frames, sandbox/PROTOCOL.md, then a last ``remote`` frame)).

Why that cannot be forged into a pass: sandbox/PROTOCOL.md, "Remote sandboxes (url backend)".
"""

from __future__ import annotations

import base64
import ctypes
import hashlib
import importlib.util
import io
import json
import os
import platform
import struct
import sys
import tempfile
import time
import zlib
from typing import Any

MARKER = "sebench-result"
# Set before NumPy is imported: one BLAS thread, as in the local template's environment.
_ENVIRONMENT = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                "PYTHONDONTWRITEBYTECODE": "1"}
_PR_SET_DUMPABLE, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, _PR_SET_NO_NEW_PRIVS = 4, 22, 2, 38
# Audit arch -> (system calls refused outright, calls that send a signal to the pid in their first
# argument). Refused: ptrace, process_vm_readv/writev, pidfd_send_signal, pidfd_getfd, setpgid, setsid
# (so every process of the answer stays in the group the template kills).
_SYSCALLS = {
    0xC000003E: ((101, 310, 311, 424, 438, 109, 112), (62, 200, 234, 129, 297)),  # x86_64
    0xC00000B7: ((117, 270, 271, 424, 438, 154, 157), (129, 130, 131, 138, 240)),  # aarch64
}
_MACHINES = {"x86_64": 0xC000003E, "amd64": 0xC000003E, "aarch64": 0xC00000B7, "arm64": 0xC00000B7}
_LD, _JEQ, _JGE, _RET = 0x20, 0x15, 0x35, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, BPF_JMP|JGE|K, BPF_RET|K
_ALLOW, _EPERM = 0x7FFF0000, 0x00050001  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | EPERM


def main(runtime: dict[str, Any], job: dict[str, Any] | None) -> None:
    # The result channel, kept on a descriptor of its own: the template points fd 1 at stderr, and
    # every child closes this one before any answer code runs (isolate.own_descriptors).
    channel = os.dup(1)
    started = time.monotonic()
    protections: dict[str, Any] = {}
    output, error = b"", None
    try:
        protections["not_dumpable"] = _not_dumpable()
        os.environ.update(_ENVIRONMENT)
        _buffered_streams()
        template = _load(runtime["root"], runtime["modules"])
        protections["seccomp"] = _arm_seccomp(sys.modules["isolate"])
        output, error = _run_template(template, list(runtime["argv"]), job)
    except BaseException as failure:  # whatever happens, the host gets one frame
        error = f"{type(failure).__name__}: {failure}"
    trailer = {"event": "remote", "error": error, "protections": protections,
               "seconds": round(time.monotonic() - started, 6)}
    _emit(channel, output + _frame(trailer))


def _frame(message: dict[str, Any]) -> bytes:
    """The template's own framing (sandbox/frames.py), for our last frame."""
    body = json.dumps(message, allow_nan=False, separators=(",", ":")).encode("utf-8")
    return struct.pack(">I", len(body)) + body


def _emit(fd: int, frames: bytes) -> None:
    """The one write to the result channel; nothing else in this process writes there."""
    body = base64.b64encode(zlib.compress(frames, 6))
    data = f"{MARKER} 1 {len(body)} {hashlib.sha256(body).hexdigest()}\n".encode("ascii") + body + b"\n"
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.close(fd)


def _not_dumpable() -> bool | str:
    """True, or why not. Without /proc (macOS) there is no descriptor path to protect."""
    if not sys.platform.startswith("linux"):
        return f"no prctl on {sys.platform}"
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_DUMPABLE, ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)):
        return os.strerror(ctypes.get_errno())
    return True


def _buffered_streams() -> None:
    """sys.stdout/stderr as an interpreter without PYTHONUNBUFFERED (or -u) and without a terminal
    makes them, as the local template's are (its environment is clean): the service's environment
    must not change when an answer's output hits the output cap."""
    for name, fd, errors, line_buffering in (("stdout", 1, None, False), ("stderr", 2, "backslashreplace", True)):
        old = getattr(sys, name)
        setattr(sys, name, io.TextIOWrapper(open(fd, "wb", closefd=False),  # noqa: SIM115  (for the process's life)
                                            encoding=getattr(old, "encoding", None) or "utf-8",
                                            errors=errors or getattr(old, "errors", None) or "strict",
                                            line_buffering=line_buffering))


# -- the sandbox's modules, from memory ------------------------------------------------------------

class _Sources:
    """A meta path finder and loader for our modules' text. Their file names lie in ``root`` (a
    folder that need not exist): the NumPy guard trusts code from its own folder, as in the template."""

    def __init__(self, root: str, modules: dict[str, str]) -> None:
        self.root, self.modules = root, modules

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name not in self.modules:
            return None
        # typeshed's LoaderProtocol asks for load_module(), which the import system has not needed
        # since Python 3.4: exec_module() below is what it calls.
        return importlib.util.spec_from_file_location(name, f"{self.root}/{name}.py",
                                                      loader=self)  # type: ignore[arg-type]

    def create_module(self, spec: Any) -> None:
        return None

    def exec_module(self, module: Any) -> None:
        code = compile(self.modules[module.__name__], module.__file__, "exec")
        exec(code, module.__dict__)

    def get_source(self, name: str) -> str:  # tracebacks show our lines
        return self.modules[name]


def _load(root: str, modules: dict[str, str]) -> Any:
    sources = _Sources(root, modules)
    sys.meta_path.insert(0, sources)  # first: a module of the same name on the remote's path loses
    try:
        import template  # and with it encode, frames, guard, isolate, supervise, ...
    finally:
        sys.meta_path.remove(sources)
    return template


# -- the seccomp filter for each child ---------------------------------------------------------------

def _filter(arch: int, own: int, protected: tuple[int, ...]) -> bytes:
    """A BPF program: the refused calls fail with EPERM; a signal may go to our own group (-own), or
    to any single process but the protected ones; never to another group or to everyone (-1)."""
    refused, signalling = _SYSCALLS[arch]
    ops: list[tuple[int, Any, Any, int]] = [(_LD, None, None, 4), (_JEQ, None, "deny", arch),
                                            (_LD, None, None, 0), (_JGE, "deny", None, 0x40000000)]
    ops += [(_JEQ, "deny", None, number) for number in refused]
    ops += [(_JEQ, "signal", None, number) for number in signalling]
    labels = {"signal": len(ops) + 1}
    ops += [(_RET, None, None, _ALLOW), (_LD, None, None, 16),  # the low half of the first argument
            (_JEQ, "allow", None, -own & 0xFFFFFFFF), (_JGE, "deny", None, 0x80000000)]
    ops += [(_JEQ, "deny", None, pid) for pid in protected]
    labels["allow"], labels["deny"] = len(ops), len(ops) + 1
    ops += [(_RET, None, None, _ALLOW), (_RET, None, None, _EPERM)]
    return b"".join(struct.pack("HBBI", code, 0 if yes is None else labels[yes] - index - 1,
                                0 if no is None else labels[no] - index - 1, value)
                    for index, (code, yes, no, value) in enumerate(ops))


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _install(code: bytes) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    buffer = ctypes.create_string_buffer(code, len(code))
    program = _Program(len(code) // 8, ctypes.addressof(buffer))
    if libc.prctl(_PR_SET_SECCOMP, ctypes.c_ulong(_SECCOMP_MODE_FILTER), ctypes.byref(program),
                  ctypes.c_ulong(0), ctypes.c_ulong(0)):
        raise OSError(ctypes.get_errno(), f"seccomp: {os.strerror(ctypes.get_errno())}")


def _arm_seccomp(isolate: Any) -> bool | str:
    """Wrap ``isolate.no_way_back`` (the child's last step before its job, after no_new_privs) so it
    also installs the filter. Tried first in a throwaway child: True, or why there is none."""
    machine = platform.machine()
    arch = _MACHINES.get(machine.lower()) if sys.platform.startswith("linux") else None
    if arch is None or not callable(getattr(isolate, "no_way_back", None)):
        return f"no seccomp filter for {sys.platform} {machine}"
    service, group = os.getppid(), os.getpgid(0)
    probe = os.fork()
    if probe == 0:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_NO_NEW_PRIVS, ctypes.c_ulong(1), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))
            _install(_filter(arch, os.getpid(), (service,)))
            os._exit(0)
        except BaseException:
            os._exit(1)
    if os.waitpid(probe, 0)[1] != 0:
        return "the kernel refused a seccomp filter here"
    original = isolate.no_way_back

    def no_way_back() -> None:
        original()
        own, parent = os.getpid(), os.getppid()
        protected = tuple(pid for pid in {parent, service, group} if pid > 1)
        _install(_filter(arch, own, protected))

    isolate.no_way_back = no_way_back
    return True


# -- one job through the template ----------------------------------------------------------------------

def _scratch(name: str) -> int:
    """A file without a path: the template reads its job from one and writes its frames to another
    (a file, not a pipe: nothing waits for a reader)."""
    if hasattr(os, "memfd_create"):
        return os.memfd_create(name, 0)
    handle, path = tempfile.mkstemp(prefix=name)
    os.unlink(path)
    return handle


def _run_template(template: Any, argv: list[str], job: dict[str, Any] | None) -> tuple[bytes, str | None]:
    """The template's frames for ``job`` (its hello alone when there is none), and its failure if any."""
    job_fd, out_fd = _scratch("sebench-job"), _scratch("sebench-frames")
    data = memoryview(_frame(job) if job is not None else b"")
    while data:
        data = data[os.write(job_fd, data):]
    os.lseek(job_fd, 0, os.SEEK_SET)
    os.dup2(job_fd, 0)  # the template takes its stdin and stdout as the protocol stream
    os.dup2(out_fd, 1)
    os.close(job_fd)
    error = None
    try:
        template.main(argv)
    except BaseException as failure:  # SystemExit included: we report, the host decides
        error = f"{type(failure).__name__}: {failure}"
    return os.pread(out_fd, os.fstat(out_fd).st_size, 0), error
