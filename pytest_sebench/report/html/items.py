"""The run's items on the page: one compact row each (rendered by the template) and their details in a
data island (drawn by the page's script when an item is opened).

Items are read one at a time; each row keeps only what the list and its filters show, and each item's
details go at once into a gzip stream, so neither a report's text nor the uncompressed island is ever
held whole. Within an item, what repeats is kept once: identical code (and its tokens), the case
inputs and expected outputs all samples share, identical case results (the same code gives the same).
"""

from __future__ import annotations

import base64
import json
import math
import zlib
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from ...gate.outcomes import REGRESSION
from ...grade.taxonomy import CLASSES
from ...grade.verdict import CATEGORIES
from .code import TokenClasses, highlight
from .numbering import Numbering
from .fields import mapping, samples_of
from ..prompts import PromptMaker

ISLAND_VERSION = 1
# A reasoning model writes thousands of words per sample: 699 items x 5 samples of it would make a page
# of tens of MB. The page keeps about this much reasoning over all samples (each sample's share between
# the bounds below, its beginning and its end); the JSON report keeps every word.
REASONING_BUDGET = 2_000_000
REASONING_PER_SAMPLE = (1_000, 20_000)
RESPONSE_LIMIT = 8_000  # a response longer than this (one that ran on until max_tokens) is cut the same way
# One letter per category in a row's sample marks (the colour says it too; the title names it).
MARKS = {"correct": "✓", "result_error": "R", "exe_error": "E", "without_zwc": "Z", "numpy": "N", "error": "!"}


class Vocabulary(Numbering):
    """Names numbered in order of first use (seeded with the known ones): rows carry the numbers in
    their data attributes, so a filter value is never text from a report."""

    def __init__(self, known: Iterable[str] = ()) -> None:
        super().__init__()
        for name in known:
            self.number(name)

    @property
    def names(self) -> list[str]:
        return self.values

    def options(self) -> list[tuple[int, str]]:
        """(number, name) by name, for a filter's choices."""
        return sorted(enumerate(self.names), key=lambda pair: pair[1])


@dataclass(frozen=True)
class ItemRow:
    index: int  # the item's place in the data island (run order)
    id: str
    split: str
    result: str  # pass | fail | xfail
    label: str  # solved, regression, known_gap, ...
    flaky: bool
    marks: tuple[tuple[str, str, str], ...]  # per sample: its style (a known category or "other"), category, letter
    taxonomy: tuple[str, ...]
    functions: tuple[str, ...]
    keys: Mapping[str, str]  # filter attribute -> space-separated numbers

    @property
    def style(self) -> str:
        """The outcome's CSS class: a known outcome only (a report's text never names a class)."""
        return self.result if self.result in ("pass", "fail", "xfail") else "other"

    @property
    def first(self) -> int:
        """Regressions first, then flaky items, then the rest (run order within each)."""
        return 0 if self.label == REGRESSION else 1 if self.flaky else 2


@dataclass
class ItemsView:
    rows: list[ItemRow]  # in display order
    island: str  # base64 of the gzip-compressed JSON details
    island_bytes: int  # the JSON's size before compression
    vocabularies: dict[str, Vocabulary]  # split, category, taxonomy, function

    @property
    def count(self) -> int:
        return len(self.rows)


class _GzipText:
    """Text compressed as it is written, into a gzip member (the browser's DecompressionStream reads it)."""

    def __init__(self) -> None:
        # wbits 31: the gzip container; zlib writes a zero mtime, so the same data gives the same bytes
        self._compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
        self._chunks: list[bytes] = []
        self.size = 0

    def write(self, text: str) -> None:
        data = text.encode("utf-8")
        self.size += len(data)
        self._chunks.append(self._compressor.compress(data))

    def close(self) -> bytes:
        self._chunks.append(self._compressor.flush())
        return b"".join(self._chunks)


def _compact(value: Any) -> str:
    # ASCII escapes: a lone surrogate in a model's text cannot break the UTF-8 the browser decodes
    return json.dumps(value, ensure_ascii=True, allow_nan=False, separators=(",", ":"))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _number(value: Any) -> float | None:
    """A finite number or None: the island is strict JSON (a hand-edited report may hold NaN)."""
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def finite(value: Any) -> Any:
    """``value`` with every non-finite number replaced by None, at any depth."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [finite(inner) for inner in value]
    return value


def reasoning_limit(samples: int) -> int:
    """Characters of reasoning the page keeps per sample, for a run of this many samples."""
    low, high = REASONING_PER_SAMPLE
    return max(low, min(high, REASONING_BUDGET // max(samples, 1)))


def clip(text: str | None, limit: int) -> str | None:
    """The text's beginning and end, with what was left out said where it was (None stays None)."""
    if text is None or len(text) <= limit:
        return text
    head = limit * 3 // 4
    return (text[:head] + f"\n[... {len(text) - limit:,} characters left out here; the JSON report keeps the "
            "whole text ...]\n" + text[len(text) - (limit - head):])


def item_details(item: Mapping[str, Any], prompts: PromptMaker, classes: TokenClasses,
                 reasoning: int = REASONING_PER_SAMPLE[1]) -> dict[str, Any]:
    """What the page shows when the item is opened, with repeats stored once (``reasoning``: the
    characters of reasoning kept per sample)."""
    problem = mapping(item.get("problem"))
    example = problem.get("example")
    # an item's distinct values, each stored once; samples refer to them by number
    codes, case_sets, results = (Numbering(key=_compact) for _ in range(3))
    highlighted: dict[str, int] = {}
    samples = []
    for sample in samples_of(item):
        code = str(sample.get("code") or "")
        if code and code not in highlighted:
            highlighted[code] = codes.number(list(highlight(code, classes)))
        cases = sample.get("cases")
        cases = [case for case in cases if isinstance(case, dict)] if isinstance(cases, list) else []
        answer = mapping(sample.get("answer"))
        samples.append({
            "n": sample.get("sample"), "cat": _text(sample.get("category")), "tax": _text(sample.get("taxonomy")),
            "why": str(sample.get("reason") or ""), "code": highlighted.get(code),
            "cases": case_sets.number([[_text(case.get("input")), _text(case.get("expected"))] for case in cases]),
            "got": results.number([[_text(case.get("got")), bool(case.get("passed")), _text(case.get("error")),
                                    _text(case.get("detail"))] for case in cases]),
            "resp": clip(_text(answer.get("response")), RESPONSE_LIMIT),
            "think": clip(_text(answer.get("reasoning")), reasoning),
            "stderr": str(sample.get("stderr") or ""), "finish": _text(answer.get("finish_reason")),
            "cut": bool(answer.get("truncated")), "sec": _number(sample.get("seconds")),
            "tokens": [_number(answer.get(key)) for key in ("prompt_tokens", "completion_tokens", "reasoning_tokens")]})
    return {"id": item["id"], "query": str(problem.get("query") or ""), "sig": str(problem.get("signature") or ""),
            "ex": [_text(example.get("input")), _text(example.get("output"))] if isinstance(example, dict) else None,
            "prompt": prompts.prompt(item), "codes": codes.values, "caseSets": case_sets.values,
            "results": results.values, "samples": samples}


def _mark(category: str) -> tuple[str, str, str]:
    return (category, category, MARKS[category]) if category in MARKS else ("other", category, "?")


def _row(index: int, item: Mapping[str, Any], vocabularies: dict[str, Vocabulary]) -> ItemRow:
    outcome = mapping(item.get("outcome"))
    samples = samples_of(item)
    categories = [str(sample.get("category")) for sample in samples]
    taxonomy = tuple(dict.fromkeys(str(sample["taxonomy"]) for sample in samples if sample.get("taxonomy")))
    functions = tuple(dict.fromkeys(str(name) for name in item.get("library_functions") or item.get("functions") or ()))
    split = str(item.get("split") or "")

    def numbers(kind: str, names: Iterable[str]) -> str:
        return " ".join(str(vocabularies[kind].number(name)) for name in dict.fromkeys(names))

    keys = {"split": numbers("split", [split]), "category": numbers("category", categories),
            "taxonomy": numbers("taxonomy", taxonomy), "function": numbers("function", functions)}
    return ItemRow(index, str(item["id"]), split, str(outcome.get("outcome") or ""), str(outcome.get("label") or ""),
                   bool(outcome.get("flaky")), tuple(_mark(category) for category in categories),
                   taxonomy, functions, keys)


def items_view(items: Iterable[Mapping[str, Any]], prompts: PromptMaker, figures: Mapping[str, Any],
               samples: int = 0) -> ItemsView:
    """Rows for the list and the data island, from the run's items (read once, in run order).
    ``figures`` go into the island too (the run's summary, gates and comparison counts); ``samples``,
    the run's count of samples, decides how much of each reasoning is kept."""
    reasoning = reasoning_limit(samples)
    vocabularies = {"split": Vocabulary(), "category": Vocabulary(CATEGORIES), "taxonomy": Vocabulary(CLASSES),
                    "function": Vocabulary()}
    classes = TokenClasses()
    island = _GzipText()
    island.write(f'{{"version":{ISLAND_VERSION},"items":[')
    rows = []
    for index, item in enumerate(items):
        rows.append(_row(index, item, vocabularies))
        island.write(("," if index else "") + _compact(item_details(item, prompts, classes, reasoning)))
    island.write(f'],"tokenClasses":{_compact(classes.names)},"figures":{_compact(finite(figures))}}}')
    data = island.close()
    rows.sort(key=lambda row: row.first)  # stable: run order within each group
    return ItemsView(rows, base64.b64encode(data).decode("ascii"), island.size, vocabularies)


def decode_island(text: str) -> dict[str, Any]:
    """The island's JSON from its base64 text (what the page's script does; the tests use it)."""
    decoded: dict[str, Any] = json.loads(zlib.decompress(base64.b64decode(text), 31))
    return decoded
