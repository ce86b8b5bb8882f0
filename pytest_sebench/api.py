"""The plugin's loader and grader as a library, for code that is not a pytest run (a training loop, a
notebook, a reward function).

    from pytest_sebench.api import Grader, compare, evaluate, load_benchmark

    benchmark = load_benchmark(data="path/to/sebench", splits=["single_test"])
    with Grader(benchmark, sandbox="local", workers=8) as grader:
        verdict = grader.grade("single_test/0000-...", response_text)
        verdicts = grader.grade_many([(problem, text) for problem, text in answers])

    report = evaluate("ckpt", base_url="http://gpu:8000/v1", model_revision="step-1200",
                      baseline="best.json", max_drop=5, report="step-1200.json")
    logger.log(report.metrics())   # and report.passed: every gate passed, no item regressed

A verdict here is the one a pytest run gives the same answer: both call
:func:`pytest_sebench.grade.verdict.judge` with a sandbox from the same registry, under the same limits.
Expected outputs never reach the sandbox: it gets the code and the case inputs, and the returned values
are compared with the labels here, on the host.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable, Sequence

from .data import benchmark as _loader
from .data.benchmark import Benchmark
from .data.sources import user_cache_dir
from .data.jsonl import DataError
from .data.library import Library
from .data.problems import Case, Problem
from .execution.base import Limits, Sandbox, SandboxOptions, SandboxUnavailable
from .evaluate import EvaluationError, GateOutcome, Report, compare, evaluate
from .execution.registry import backend_for, create_backend, expected_choices
from .grade.taxonomy import classify
from .grade.verdict import (CATEGORIES, CORRECT, ERROR, EXE_ERROR, NUMPY, RESULT_ERROR, WITHOUT_LIBRARY,
                            CaseVerdict, Verdict, infrastructure_error, judge)
from .settings.parsers import SettingError, split_list
from .settings.table import DEFAULT_HUB_DATASET, DEFAULT_SPLITS

__all__ = ["load_benchmark", "Grader", "evaluate", "compare", "Report", "GateOutcome", "EvaluationError",
           "default_cache_dir", "Benchmark", "Problem", "Case", "Library",
           "Verdict", "CaseVerdict", "DataError", "SandboxUnavailable", "CATEGORIES", "CORRECT",
           "RESULT_ERROR", "EXE_ERROR", "WITHOUT_LIBRARY", "NUMPY", "ERROR", "DEFAULT_HUB_DATASET",
           "DEFAULT_SPLITS"]

PathText = str | os.PathLike[str]
ProblemRef = Problem | str
_MIN_MEMORY = 256 * 1024**2  # the plugin's floor: below it NumPy itself fails, whatever the answer
_MIN_OUTPUT = 4096
_log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """Where downloads are kept between processes (the hub dataset's api_doc): the user's cache folder,
    ``$XDG_CACHE_HOME/pytest-sebench`` or ``~/.cache/pytest-sebench``."""
    return user_cache_dir()


def load_benchmark(data: PathText = DEFAULT_HUB_DATASET, docs: PathText | None = None,
                   splits: str | Sequence[str] | None = None, *, cache_dir: PathText | None = None) -> Benchmark:
    """Load problems and their library exactly as the plugin's ``--sebench-data`` does.

    Args:
        data: a hub dataset id (default ``jintailin/SE-Bench``), a checkout of the SE-Bench repository,
            or a folder of ``<split>.jsonl`` files (with ``api_doc.jsonl`` beside them).
        docs: the ``api_doc.jsonl`` holding the library's names, when ``data`` has none. The hub has
            none: without ``docs`` it is downloaded once from the reference repository into
            ``cache_dir``.
        splits: the splits to load (``single_test``, ``multiple_test``, ``train``), a list or a comma
            list. Not given: ``single_test`` and ``multiple_test``, or those of them ``data`` has (the
            benchmark's ``warnings`` then say what was missing); given: each must be there.
        cache_dir: where downloads are kept; default :func:`default_cache_dir`.

    Returns:
        The :class:`Benchmark`: ``problems`` in file order, ``by_id``, ``library``, ``data_source``.

    Raises:
        DataError: the data is missing or malformed; the message names the file and line at fault.
        ValueError: an unknown split name.
    """
    chosen = DEFAULT_SPLITS if splits is None else _split_names(splits)
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    try:
        return _loader.load_benchmark(data=os.fspath(data), docs=None if docs is None else os.fspath(docs),
                                      splits=chosen, splits_explicit=splits is not None, rollouts=None,
                                      cache_dir=cache)
    except DataError as error:
        raise DataError(_in_our_words(str(error))) from None


def _split_names(splits: str | Sequence[str]) -> tuple[str, ...]:
    raw = splits if isinstance(splits, str) else ",".join(splits)
    try:
        return split_list(raw)
    except SettingError as error:
        raise ValueError(f"splits={splits!r}: {error}") from None


def _in_our_words(message: str) -> str:
    """The loader speaks of the plugin's options; a caller of this function passed arguments."""
    for flag, argument in (("--sebench-data=", "data="), ("--sebench-docs=", "docs="),
                           ("--sebench-split", "splits")):
        message = message.replace(flag, argument)
    return message


class _SandboxPool:
    """At most ``size`` sandboxes, each lent to one thread at a time (a backend's sandbox runs one job
    at a time), built when first needed and replaced after one failed."""

    def __init__(self, build: Callable[[], Sandbox], size: int) -> None:
        self._build = build
        self._size = size
        self._idle: list[Sandbox] = []
        self._count = 0  # built and not discarded: idle or lent
        self._closed = False
        self._changed = threading.Condition()

    @property
    def started(self) -> int:
        return self._count

    def acquire(self) -> Sandbox:
        with self._changed:
            while True:
                if self._closed:
                    raise RuntimeError("this Grader is closed")
                if self._idle:
                    return self._idle.pop()  # the most recently used: warm, and fewer sandboxes under light load
                if self._count < self._size:
                    self._count += 1
                    break
                self._changed.wait()
        try:
            return self._build()  # outside the lock: a container may take seconds to start
        except BaseException:
            self._forget()
            raise

    def release(self, sandbox: Sandbox) -> None:
        with self._changed:
            if not self._closed:
                self._idle.append(sandbox)
                self._changed.notify()
                return
        self.discard(sandbox)  # lent when the grader closed: closed by whoever hands it back

    def discard(self, sandbox: Sandbox) -> None:
        """Close a sandbox that failed (or is no longer wanted); the next acquire builds a new one."""
        self._forget()
        try:
            sandbox.close()
        except Exception as error:  # a dead sandbox may fail to close as well; it is gone either way
            _log.warning("closing a failed %s sandbox: %s", getattr(sandbox, "name", "?"), error)

    def close(self) -> None:
        with self._changed:
            self._closed = True
            idle, self._idle = self._idle, []
            self._changed.notify_all()
        for sandbox in idle:
            self.discard(sandbox)

    def _forget(self) -> None:
        with self._changed:
            self._count -= 1
            self._changed.notify()


class Grader:
    """Grades answers as the plugin does, on a pool of warm sandboxes; a context manager.

    Args:
        benchmark_or_library: a :class:`Benchmark` (then problems may be given by id) or the
            :class:`Library` the answers use.
        sandbox: where answers run, as ``--sebench-sandbox`` takes it: ``"local"`` (warm processes on
            this machine), ``"docker"`` (containers of the project's image) or the URL of a remote
            sandbox service; or a backend another package registers.
        workers: how many sandboxes run answers at once (default: ``os.cpu_count()``).
        timeout: wall-clock seconds per answer (its cases together), as ``--sebench-timeout``.
        memory: bytes of memory per answer (at least 256 MiB), as ``--sebench-memory``.
        output_limit: bytes an answer may print or return, as ``--sebench-output-limit``.
        python: the interpreter of a local sandbox (default: this one).

    Raises:
        ValueError: an unknown ``sandbox``, ``workers`` below 1, or a limit out of range.

    ``with Grader(...)`` (or :meth:`start`) checks the backend (a Docker engine, a service that
    answers) and starts one sandbox, so a sandbox that cannot start at all is one
    :class:`SandboxUnavailable` there; the others start when the load needs them. Later, a sandbox that
    fails under an answer is closed and replaced, and the answer runs once more on the new one; if that
    fails too, its verdict is an infrastructure error (category ``error``), never an exception. Leaving
    the ``with`` block (or :meth:`close`) ends every sandbox. Any number of threads may call
    :meth:`grade` and :meth:`grade_many` at once: each sandbox serves one of them at a time.
    """

    def __init__(self, benchmark_or_library: Benchmark | Library, sandbox: str = "local",
                 workers: int | None = None, timeout: float = 10.0, memory: int = 2 * 1024**3,
                 output_limit: int = 1024**2, python: str | None = None) -> None:
        if isinstance(benchmark_or_library, Benchmark):
            self.benchmark: Benchmark | None = benchmark_or_library
            self.library = benchmark_or_library.library
        elif isinstance(benchmark_or_library, Library):
            self.benchmark, self.library = None, benchmark_or_library
        else:
            raise TypeError(f"expected a Benchmark or a Library, got {type(benchmark_or_library).__name__}")
        backend = backend_for(sandbox.strip()) if isinstance(sandbox, str) else None
        if backend is None:
            raise ValueError(f"sandbox={sandbox!r}: expected {expected_choices()}")
        workers = (os.cpu_count() or 1) if workers is None else workers
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers={workers!r}: expected a whole number of at least 1")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < math.inf:
            raise ValueError(f"timeout={timeout!r}: expected a positive, finite number of seconds")
        _check_size("memory", memory, _MIN_MEMORY)
        _check_size("output_limit", output_limit, _MIN_OUTPUT)
        self.sandbox = sandbox.strip()
        self.workers = workers
        self.limits = Limits(timeout_seconds=float(timeout), memory_bytes=memory, output_bytes=output_limit)
        self._backend = backend
        self._options = SandboxOptions(python=python)
        self._pool = _SandboxPool(lambda: create_backend(self.sandbox, self.limits, self._options), workers)
        self._state = threading.Lock()
        self._started = self._closed = False
        self._executor: ThreadPoolExecutor | None = None

    def __enter__(self) -> Grader:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"Grader(library={self.library.name!r}, sandbox={self.sandbox!r}, workers={self.workers}, "
                f"started={self._pool.started}{', closed' if self._closed else ''})")

    def start(self) -> Grader:
        """Check the backend and start one sandbox (done by the first grading call if not before).

        Raises:
            SandboxUnavailable: the sandbox cannot start here (no engine, no image, no service, no
                interpreter); the message says how to fix it.
        """
        with self._state:
            if self._closed:
                raise RuntimeError("this Grader is closed")
            if self._started:
                return self
            prefix = f"sandbox={self.sandbox!r} cannot start"
            try:
                self._backend.preflight(self.sandbox)
                first = self._pool.acquire()
            except SandboxUnavailable as error:
                raise SandboxUnavailable(f"{prefix}: {error}") from None
            try:
                first.hello()  # starts its process or container now, not under the first answer
            except BaseException as error:
                self._pool.discard(first)
                if isinstance(error, SandboxUnavailable):
                    raise SandboxUnavailable(f"{prefix}: {error}") from None
                raise
            self._pool.release(first)
            self._started = True
        return self

    def grade(self, problem: ProblemRef, response: str) -> Verdict:
        """The verdict on one answer: ``response`` is the model's whole text (the last fenced Python
        block is the code), ``problem`` a :class:`Problem` or, with a benchmark, its id."""
        target, text = self._resolve(problem), _text(response)
        self.start()
        return self._judge(target, text)

    def grade_many(self, pairs: Iterable[tuple[ProblemRef, str]]) -> list[Verdict]:
        """Verdicts on many answers, in the order given, run on up to ``workers`` sandboxes at once.

        Every pair is checked before any runs (a bad problem id is a ValueError, nothing graded)."""
        jobs = [(self._resolve(problem), _text(response)) for problem, response in pairs]
        if not jobs:
            return []
        self.start()
        executor = self._running_executor()
        futures = [executor.submit(self._judge, problem, text) for problem, text in jobs]
        return [future.result() for future in futures]

    def taxonomy(self, verdict: Verdict) -> str | None:
        """Why a failed answer failed, one level below its category (``hallucinated_name``,
        ``array_habit``, ``numpy_use``, ``no_code``, ``wrong_value``, ``timeout``, ``exception``), as
        the plugin's report says; None for a correct answer or an infrastructure error."""
        return classify(verdict.to_record(), self.library.name)

    def close(self) -> None:
        """Wait for the answers being graded, then end every sandbox. Idempotent."""
        with self._state:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        self._pool.close()

    def _running_executor(self) -> ThreadPoolExecutor:
        with self._state:
            if self._closed:
                raise RuntimeError("this Grader is closed")
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="sebench-grader")
            return self._executor

    def _judge(self, problem: Problem, response: str) -> Verdict:
        failure = ""
        for _attempt in range(2):  # a sandbox that died is replaced, and the answer gets one more run
            try:
                sandbox = self._pool.acquire()
            except SandboxUnavailable as error:
                failure = str(error)
                continue
            try:
                verdict = judge(problem, response, self.library, sandbox)
            except SandboxUnavailable as error:
                self._pool.discard(sandbox)
                failure = str(error)
                continue
            except BaseException:
                self._pool.discard(sandbox)  # interrupted mid-job: its state is unknown, never lend it again
                raise
            self._pool.release(sandbox)
            return verdict
        _log.warning("%s: sandbox unavailable twice, graded as an infrastructure error: %s", problem.id, failure)
        return infrastructure_error(f"sandbox unavailable: {failure}")

    def _resolve(self, problem: ProblemRef) -> Problem:
        if isinstance(problem, Problem):
            return problem
        if not isinstance(problem, str):
            raise TypeError(f"expected a Problem or a problem id, got {type(problem).__name__}")
        if self.benchmark is None:
            raise ValueError(f"problem {problem!r} is given by id, but this Grader was made from a Library: "
                             "make it from the Benchmark, or pass the Problem")
        found = self.benchmark.by_id.get(problem)
        if found is None:
            example = self.benchmark.problems[0].id
            raise ValueError(f"no problem {problem!r} in {self.benchmark.data_source} (ids look like {example!r})")
        return found


def _text(response: object) -> str:
    if not isinstance(response, str):
        raise TypeError(f"a response is the model's text, got {type(response).__name__}")
    return response


def _check_size(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}={value!r}: expected a whole number of bytes of at least {minimum}")
