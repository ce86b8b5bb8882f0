"""Problems and rollout lines: validated once, then plain frozen data for the rest of the pipeline."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

from .jsonl import DataError, Line

_SIGNATURE = re.compile(r"^\s*def\s+([A-Za-z_]\w*)\s*\(")


@dataclass(frozen=True)
class Case:
    input: str  # keyword-argument list, e.g. "x1=[1, 2], x2=3"
    expected: str  # the label's printed form for this case (a piece of right_exe_result)


@dataclass(frozen=True)
class Problem:
    """One gradable unit: a problem row of a split, or one line of a rollout file."""

    id: str  # e.g. "single_test/0042-amin" or "rollouts/0017"
    split: str
    row: int  # 0-based index in its split (rollouts: the line's index)
    where: str  # "file:line" of its source
    query: str
    cases: tuple[Case, ...]
    entry_point: str | None  # function to check and call; None: the first def of the answer
    signature: str  # the signature line shown to the model ("" for rollouts without one)
    functions: tuple[str, ...]  # selected_functions (NumPy names)
    reference_code: str | None = None  # NumPy reference solution (example_output[0])
    example: Case | None = None  # shown in the prompt (its output is the row's own, maybe inexact)
    response: str | None = None  # rollouts: the answer to grade
    source_line: int | None = None  # rollouts: 0-based line number in the file


def _require(line: Line, field: str, kind: type | tuple[type, ...]) -> Any:
    if field not in line.record:
        raise DataError(f"{line.where}: missing required field '{field}'")
    value = line.record[field]
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise DataError(f"{line.where}: field '{field}' must be {names}, got {type(value).__name__}")
    return value


def _cases(line: Line) -> tuple[Case, ...]:
    test_cases = _require(line, "test_cases", list)
    label = _require(line, "right_exe_result", str)
    if not test_cases:
        raise DataError(f"{line.where}: 'test_cases' is empty")
    inputs = []
    for index, case in enumerate(test_cases):
        if not isinstance(case, dict) or not isinstance(case.get("input"), str):
            raise DataError(f"{line.where}: test_cases[{index}] needs a string 'input'")
        inputs.append(case["input"])
    # The label is right_exe_result split on '#', never the cases' own 'output' fields (they disagree
    # with it in most rows of SE-Bench, and the reference grader ignores them).
    expected = label.split("#")
    if len(expected) != len(inputs):
        raise DataError(f"{line.where}: 'right_exe_result' has {len(expected)} '#'-separated outputs "
                        f"but 'test_cases' has {len(inputs)} cases")
    return tuple(Case(i, e) for i, e in zip(inputs, expected, strict=True))


def entry_point_of(signature: str) -> str | None:
    match = _SIGNATURE.match(signature)
    return match.group(1) if match else None


def _slug(functions: Iterable[str]) -> str:
    return "-".join(re.sub(r"[^A-Za-z0-9_]+", "_", name) for name in functions)


def problem_from_row(line: Line, split: str, row: int) -> Problem:
    query = _require(line, "query", str)
    signature = _require(line, "function_name", str)
    entry = entry_point_of(signature)
    if entry is None:
        raise DataError(f"{line.where}: 'function_name' must be a signature line such as "
                        f"'def solve(x):', got {signature!r}")
    functions = _require(line, "selected_functions", list)
    if not functions or not all(isinstance(name, str) for name in functions):
        raise DataError(f"{line.where}: 'selected_functions' must be a non-empty list of names")
    reference = line.record.get("example_output")
    reference_code = reference[0] if isinstance(reference, list) and reference and isinstance(
        reference[0], str) else None
    return Problem(
        id=f"{split}/{row:04d}-{_slug(functions)}", split=split, row=row, where=line.where,
        query=query, cases=_cases(line), entry_point=entry, signature=signature.strip(),
        functions=tuple(functions), reference_code=reference_code, example=_example(line))


def _example(line: Line) -> Case | None:
    """The row's ``example`` (else its first test case), with the output the row shows for it."""
    example = line.record.get("example")
    if not isinstance(example, dict):
        cases = line.record.get("test_cases")
        example = cases[0] if isinstance(cases, list) and cases and isinstance(cases[0], dict) else None
    if example is None or not isinstance(example.get("input"), str):
        return None
    return Case(example["input"], str(example.get("output", "")))


def problem_from_rollout(line: Line, index: int) -> Problem:
    query = _require(line, "query", str)
    response = _require(line, "response", str)
    signature = line.record.get("function_name")
    entry = None
    if signature is not None:
        if not isinstance(signature, str) or entry_point_of(signature) is None:
            raise DataError(f"{line.where}: 'function_name' must be a signature line such as "
                            f"'def solve(x):', got {signature!r}")
        entry = entry_point_of(signature)
    functions = line.record.get("selected_functions")
    functions = tuple(functions) if isinstance(functions, list) and all(
        isinstance(name, str) for name in functions) else ()
    return Problem(
        id=f"rollouts/{index:04d}", split="rollouts", row=index, where=line.where, query=query,
        cases=_cases(line), entry_point=entry, signature=(signature or "").strip(),
        functions=functions, response=response, source_line=line.number - 1)
