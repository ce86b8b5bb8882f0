"""Rewards for RL trainers from the plugin's own verdicts: 1.0 for a ``correct`` answer, else 0.0.

- :func:`compute_score`: verl's custom reward function (``custom_reward_function.name=compute_score``,
  verl's default ``naive`` reward manager); :func:`compute_score_batch` the same for verl's ``batch``
  reward manager, which hands over a whole batch (graded on all sandboxes at once).
- :func:`trl_reward`: for TRL's ``GRPOTrainer(reward_funcs=trl_reward)``.

verl loads a reward function from a file path (``custom_reward_function.path``, executed as a module
named ``custom_module``): give it this file,
``custom_reward_function.path=$(python -c 'import pytest_sebench.rewards as r; print(r.__file__)')``,
or a file of your own that imports these functions. The imports below are absolute so that this file
works when loaded that way. verl's ``custom_reward_function.reward_kwargs`` arrive as keyword
arguments and are ignored.

Each process grades with one :class:`~pytest_sebench.api.Grader`, started by the first reward it
computes, reused by every later one, closed at exit (or by :func:`close`). It is configured from the
environment as it is at that first call:

- ``SEBENCH_REWARD_SANDBOX``: ``local`` (default), ``docker`` or a sandbox service's URL;
- ``SEBENCH_REWARD_WORKERS``: sandboxes at once (default: the machine's cores; several reward
  processes on one machine should share them);
- ``SEBENCH_REWARD_TIMEOUT`` (seconds, default 10) and ``SEBENCH_REWARD_MEMORY`` (e.g. ``2GiB``,
  the default): limits per answer, as the plugin's options;
- ``SEBENCH_REWARD_DOCS``: the ``api_doc.jsonl`` that names the library (``zwc``) and its functions;
- ``SEBENCH_REWARD_DATA``: a data folder or hub id as ``--sebench-data`` takes it; its api_doc names
  the library (unless SEBENCH_REWARD_DOCS is set) and its problems are those a row's ``sebench_id``
  names when the row has no cases of its own (default: the hub dataset, loaded for the first such
  row). With neither variable, the library comes from the hub dataset's api_doc, downloaded once
  into the user's cache, as the plugin does;
- ``SEBENCH_REWARD_DETAILS=1``: :func:`compute_score` returns a dict (see there).

A setup that cannot work (no library, a sandbox that cannot start, a bad variable) is one clear error
at the first call. A malformed row is not: it scores 0.0 and a warning is logged, so one bad row never
stops a training step. Expected outputs never enter the sandbox: it gets the code and the case inputs;
the values it returns are compared with the labels in this process.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import os
import threading
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from pytest_sebench.api import (CORRECT, Benchmark, DataError, Grader, Library, Problem, Verdict,
                                default_cache_dir)
from pytest_sebench.data import benchmark as loader
from pytest_sebench.data import sources
from pytest_sebench.data.jsonl import Line
from pytest_sebench.data.library import load_library
from pytest_sebench.data.problems import problem_from_rollout
from pytest_sebench.execution.registry import backend_for, expected_choices
from pytest_sebench.settings import parsers
from pytest_sebench.settings.table import DEFAULT_HUB_DATASET

__all__ = ["compute_score", "compute_score_batch", "trl_reward", "close", "ENV_SANDBOX", "ENV_WORKERS",
           "ENV_TIMEOUT", "ENV_MEMORY", "ENV_DOCS", "ENV_DATA", "ENV_DETAILS", "MALFORMED"]

ENV_SANDBOX = "SEBENCH_REWARD_SANDBOX"
ENV_WORKERS = "SEBENCH_REWARD_WORKERS"
ENV_TIMEOUT = "SEBENCH_REWARD_TIMEOUT"
ENV_MEMORY = "SEBENCH_REWARD_MEMORY"
ENV_DOCS = "SEBENCH_REWARD_DOCS"
ENV_DATA = "SEBENCH_REWARD_DATA"
ENV_DETAILS = "SEBENCH_REWARD_DETAILS"
MALFORMED = "malformed"  # the category reported for a row that could not be read
DETAILS_KEY = "sebench_details"  # in verl's extra_info: ask compute_score for a dict
ID_COLUMN = "sebench_id"
_ROW_FIELDS = ("test_cases", "right_exe_result", "function_name", "query", ID_COLUMN)
_log = logging.getLogger("pytest_sebench.rewards")


class _Process:
    """The process's grader. A forked child gets none: its parent's sandboxes are not its own."""

    lock = threading.Lock()
    grader: Grader | None = None
    benchmark: Benchmark | None = None  # SEBENCH_REWARD_DATA's, for sebench_id
    exit_hook = False


def _forget_after_fork() -> None:
    _Process.lock = threading.Lock()  # it may have been held by another thread at the fork
    _Process.grader = _Process.benchmark = None


os.register_at_fork(after_in_child=_forget_after_fork)


def close() -> None:
    """End this process's sandboxes (also done at exit). The next reward starts a new grader, from the
    environment as it is then."""
    with _Process.lock:
        grader, _Process.grader, _Process.benchmark = _Process.grader, None, None
    if grader is not None:
        grader.close()


def _grader() -> Grader:
    with _Process.lock:
        if _Process.grader is None:
            settings = {"sandbox": _env(ENV_SANDBOX, _sandbox_choice, "local"),  # before a slow download
                        "workers": _env(ENV_WORKERS, parsers.count(1), os.cpu_count() or 1),
                        "timeout": _env(ENV_TIMEOUT, parsers.positive_number, 10.0),
                        "memory": _env(ENV_MEMORY, parsers.at_least(256 * 1024**2, "a memory limit"), 2 * 1024**3)}
            benchmark, source = _load_library_source()
            grader = Grader(source, **settings)
            grader.start()  # a sandbox that cannot start is an error now, not a 0.0 for every answer
            _Process.grader, _Process.benchmark = grader, benchmark
            if not _Process.exit_hook:
                atexit.register(close)
                _Process.exit_hook = True
        return _Process.grader


def _load_library_source() -> tuple[Benchmark | None, Benchmark | Library]:
    """(the benchmark of SEBENCH_REWARD_DATA or None, what the grader is made from)."""
    docs, data = os.environ.get(ENV_DOCS) or None, os.environ.get(ENV_DATA) or None
    try:
        if data is not None:
            benchmark = loader.load_benchmark(data=data, docs=docs, splits=parsers.KNOWN_SPLITS,
                                              splits_explicit=False, rollouts=None, cache_dir=default_cache_dir())
            return benchmark, benchmark
        if docs is not None:
            return None, load_library(_existing_file(docs))
        return None, load_library(sources.fetch_hub_docs(default_cache_dir()))
    except DataError as error:
        raise DataError(f"pytest_sebench.rewards cannot read the library ({error}). Its names come from "
                        f"{ENV_DOCS}=PATH/api_doc.jsonl, or {ENV_DATA}=a data folder holding one, else from "
                        f"the api_doc of the hub dataset {DEFAULT_HUB_DATASET}") from None


def _existing_file(path: str) -> Path:
    found = Path(path).expanduser()
    if not found.is_file():
        raise DataError(f"{ENV_DOCS}={path}: no such file")
    return found


def _env(name: str, parse: Callable[[str], Any], default: Any) -> Any:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return parse(raw)
    except ValueError as error:  # the parsers' SettingError is one
        raise ValueError(f"{name}={raw!r}: {error}") from None


def _sandbox_choice(raw: str) -> str:
    if backend_for(raw) is None:
        raise ValueError(f"expected {expected_choices()}")
    return raw


# -- rows ---------------------------------------------------------------------------------------------

def _as_list(value: Any) -> Any:
    """Parquet hands nested lists over as NumPy arrays (no NumPy import needed to take them back)."""
    return value.tolist() if hasattr(value, "tolist") and not isinstance(value, (str, bytes)) else value


def _by_id(fields: Mapping[str, Any]) -> bool:
    """Does the row name its problem by ``sebench_id`` alone? A row with cases of its own is graded from
    them (``sebench export`` writes both: its rows need no data)."""
    return fields.get(ID_COLUMN) is not None and fields.get("test_cases") is None


def _problem(fields: Mapping[str, Any], where: str, number: int) -> Problem:
    """The problem of a row: SE-Bench's own columns, ``test_cases`` ({"input", "output"} each; the
    outputs are not the label), ``right_exe_result`` (the label: every case's expected output, joined
    by '#') and, optionally, ``function_name`` (a signature line; without it the answer's first
    function is called, as for the reference's rollout files); or, without cases, the problem its
    ``sebench_id`` names. Raises DataError for a malformed row."""
    if _by_id(fields):
        benchmark = _Process.benchmark
        found = benchmark.by_id.get(str(fields[ID_COLUMN])) if benchmark is not None else None
        if found is None:
            raise DataError(f"{where}:{number}: no problem {fields[ID_COLUMN]!r} in "
                            f"{benchmark.data_source if benchmark is not None else 'the data'}")
        return found
    test_cases = _as_list(fields.get("test_cases"))
    if isinstance(test_cases, list):
        test_cases = [dict(case) if isinstance(case, Mapping) else case for case in test_cases]
    record: dict[str, Any] = {"query": str(fields.get("query") or ""), "response": "", "test_cases": test_cases,
                              "right_exe_result": fields.get("right_exe_result")}
    if fields.get("function_name") is not None:
        record["function_name"] = fields["function_name"]
    problem = problem_from_rollout(Line(where, number, record), number)  # the rollout line's checks
    return dataclasses.replace(problem, id=f"{where}:{number}", split="reward")


def _verl_fields(ground_truth: Any, extra_info: Any, number: int) -> Mapping[str, Any]:
    if not isinstance(extra_info, Mapping):
        raise DataError(f"verl row:{number}: extra_info must be a dict holding test_cases and right_exe_result "
                        f"(SE-Bench's layout), got {type(extra_info).__name__}")
    fields = dict(extra_info)
    label = fields.get("right_exe_result")
    if label is None:
        fields["right_exe_result"] = ground_truth
    elif ground_truth is not None and str(ground_truth) != str(label):
        raise DataError(f"verl row:{number}: ground_truth and extra_info['right_exe_result'] differ: which is "
                        "the label?")
    return fields


def _row_number(extra_info: Any, default: int = 0) -> int:
    index = extra_info.get("index") if isinstance(extra_info, Mapping) else None
    return index if isinstance(index, int) and not isinstance(index, bool) else default


def _completion_text(completion: Any) -> str:
    """A standard completion is text; a conversational one a list of messages, whose last assistant
    message is the answer (its content text, or text parts)."""
    if isinstance(completion, str):
        return completion
    messages = [completion] if isinstance(completion, Mapping) else _as_list(completion)
    if isinstance(messages, list):
        answers = [message for message in messages if isinstance(message, Mapping)
                   and message.get("role", "assistant") == "assistant"]
        if answers:
            content = _as_list(answers[-1].get("content"))
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return "".join(part.get("text") or "" for part in content if isinstance(part, Mapping))
    raise DataError(f"a completion must be text or a list of chat messages with an assistant message, "
                    f"got {type(completion).__name__}")


def _load_ids(needed: bool) -> None:
    """Rows that name their problem by id alone need the data it comes from: SEBENCH_REWARD_DATA, else
    the hub dataset (the plugin's default), loaded once, by the first call that has such a row. Data
    that cannot be loaded is an error of the setup, raised there."""
    with _Process.lock:
        if not needed or _Process.benchmark is not None:
            return
        data = os.environ.get(ENV_DATA) or DEFAULT_HUB_DATASET
        try:
            _Process.benchmark = loader.load_benchmark(
                data=data, docs=os.environ.get(ENV_DOCS) or None, splits=parsers.KNOWN_SPLITS,
                splits_explicit=False, rollouts=None, cache_dir=default_cache_dir())
        except DataError as error:
            raise DataError(f"rows name their problem by {ID_COLUMN} alone, and {data} cannot be loaded "
                            f"({error}); set {ENV_DATA} to the data they come from") from None


# -- scores -------------------------------------------------------------------------------------------

def _details_wanted(extra_info: Any) -> bool:
    asked = isinstance(extra_info, Mapping) and bool(extra_info.get(DETAILS_KEY))
    return asked or _env(ENV_DETAILS, parsers.boolean, False)


def _score(verdict: Verdict | None, grader: Grader, details: bool) -> float | dict[str, Any]:
    score = 1.0 if verdict is not None and verdict.category == CORRECT else 0.0
    if not details:
        return score
    if verdict is None:
        return {"score": score, "category": MALFORMED, "taxonomy": ""}
    return {"score": score, "category": verdict.category, "taxonomy": grader.taxonomy(verdict) or ""}


def _read_rows(rows: Sequence[Callable[[], tuple[Problem, str]]]) -> list[tuple[Problem, str] | None]:
    read: list[tuple[Problem, str] | None] = []
    for row in rows:
        try:
            read.append(row())
        except Exception as error:  # whatever is wrong with one row's data, it costs that row only
            _log.warning("SE-Bench reward 0.0 for a malformed row: %s", error)
            read.append(None)
    return read


def _grade_rows(grader: Grader, rows: list[tuple[Problem, str] | None]) -> list[Verdict | None]:
    graded = iter(grader.grade_many([row for row in rows if row is not None]))
    return [next(graded) if row is not None else None for row in rows]


def _text(solution: Any) -> str:
    if not isinstance(solution, str):
        raise DataError(f"the solution must be text, got {type(solution).__name__}")
    return solution


def compute_score(data_source: Any, solution_str: str, ground_truth: Any, extra_info: Any = None,
                  **kwargs: Any) -> float | dict[str, Any]:
    """verl's custom reward function: ``compute_score(data_source, solution_str, ground_truth,
    extra_info)``, called by keyword for each response.

    ``extra_info`` is SE-Bench's own verl layout: ``test_cases`` (a list of {"input": str,
    "output": str}) and ``right_exe_result`` (the label: the expected outputs joined by '#', the
    reference grader's ground truth; ``ground_truth``, verl's ``reward_model.ground_truth``, is the
    same string and stands in for it when it is missing); optionally ``function_name`` (else the
    answer's first function is called). A row without cases may name its problem by ``sebench_id``
    (a problem of SEBENCH_REWARD_DATA). Rows written by ``sebench export --format verl`` have both.
    ``data_source`` is not read: every row is graded as SE-Bench.

    Returns 1.0 for a ``correct`` answer, else 0.0. With ``extra_info["sebench_details"]`` true (or
    SEBENCH_REWARD_DETAILS=1) it returns ``{"score": float, "category": str, "taxonomy": str}``:
    verl takes ``score`` as the reward and logs the other keys (give every row the same choice, as
    verl gathers the keys per batch). A malformed row scores 0.0 (category ``malformed``) with a
    logged warning. Setup errors (see the module's documentation) raise at the first call.
    """
    return compute_score_batch([data_source], [solution_str], [ground_truth], [extra_info])[0]


def compute_score_batch(data_sources: Sequence[Any], solution_strs: Sequence[str], ground_truths: Sequence[Any],
                        extra_infos: Sequence[Any] | None = None, **kwargs: Any) -> list[float | dict[str, Any]]:
    """:func:`compute_score` for a whole batch, as verl's ``batch`` reward manager calls it (by keyword:
    ``data_sources``, ``solution_strs``, ``ground_truths``, ``extra_infos``); one score per row, the
    answers graded on all the grader's sandboxes at once."""
    grader = _grader()
    infos = list(extra_infos) if extra_infos is not None else [None] * len(solution_strs)
    if not len(solution_strs) == len(ground_truths) == len(infos):
        raise ValueError(f"solution_strs, ground_truths and extra_infos differ in length "
                         f"({len(solution_strs)}, {len(ground_truths)}, {len(infos)})")
    _load_ids(any(isinstance(info, Mapping) and _by_id(info) for info in infos))

    def row(index: int) -> Callable[[], tuple[Problem, str]]:
        number = _row_number(infos[index], index)
        return lambda: (_problem(_verl_fields(ground_truths[index], infos[index], number), "verl row", number),
                        _text(solution_strs[index]))

    verdicts = _grade_rows(grader, _read_rows([row(index) for index in range(len(infos))]))
    return [_score(verdict, grader, _details_wanted(info)) for verdict, info in zip(verdicts, infos, strict=True)]


def trl_reward(completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """A reward function for TRL's ``GRPOTrainer(reward_funcs=trl_reward)``: one reward per completion.

    TRL calls it with ``prompts``, ``completions``, ``completion_ids``, ``trainer_state`` and every
    dataset column but ``prompt`` as keyword lists, one value per completion. A completion is text
    (standard format) or a list of messages (conversational: the last assistant message is the answer).
    The problem comes from SE-Bench's columns ``test_cases`` and ``right_exe_result`` (optionally
    ``function_name``), or, for a row without cases, from a ``sebench_id`` column naming a problem of
    SEBENCH_REWARD_DATA (``sebench export --format trl`` writes all of them).
    All completions of a call are graded at once. Returns 1.0 per ``correct`` answer, else 0.0;
    a malformed row scores 0.0 with a logged warning. Where TRL passes ``log_extra``, each answer's
    category is logged in the completions table as ``sebench_category``.
    """
    grader = _grader()
    count = len(completions)
    columns = {key: _as_list(kwargs[key]) for key in _ROW_FIELDS if kwargs.get(key) is not None}
    if ID_COLUMN not in columns and not {"test_cases", "right_exe_result"} <= set(columns):
        given = sorted(key for key in kwargs if key != "trainer_state")
        raise ValueError("trl_reward needs the dataset columns test_cases and right_exe_result (SE-Bench's "
                         f"layout), or {ID_COLUMN}; it was given {given}")
    wrong = [key for key, values in columns.items() if not isinstance(values, list) or len(values) != count]
    if wrong:
        raise ValueError(f"columns {wrong} do not hold one value per completion ({count})")
    rows = [{key: values[index] for key, values in columns.items()} for index in range(count)]
    _load_ids(any(_by_id(fields) for fields in rows))

    def row(index: int) -> Callable[[], tuple[Problem, str]]:
        return lambda: (_problem(rows[index], "trl_reward completion", index), _completion_text(completions[index]))

    verdicts = _grade_rows(grader, _read_rows([row(index) for index in range(count)]))
    log_extra = kwargs.get("log_extra")
    if callable(log_extra):
        log_extra("sebench_category", [verdict.category if verdict is not None else MALFORMED
                                       for verdict in verdicts])
    return [1.0 if verdict is not None and verdict.category == CORRECT else 0.0 for verdict in verdicts]
