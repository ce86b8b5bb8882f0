"""Item and sample records: what a run keeps of each item, typed, with one JSON form.

A record is made where the item ran (an xdist worker) and crosses to the controller as JSON in
``report.user_properties`` (plain builtins: xdist serialises nothing else); the controller spools the
full record to disk and keeps only its :meth:`ItemRecord.light` form, so its memory does not grow
with the answers' text; the JSON report holds the full records, and a baseline is read back as
:class:`ItemCounts`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from ..grade.verdict import CORRECT, ERROR, CaseVerdict

RESPONSE_FIELDS = ("response", "reasoning")  # the model's own text in a sample's ``answer``
# what the controller keeps of a sample's ``answer`` (the figures, the progress and the requests line)
LIGHT_ANSWER_FIELDS = ("truncated", "reused", "finish_reason")


class RecordError(ValueError):
    """A record that does not have the shape of one; the message says which field."""


@dataclass(frozen=True)
class ItemCounts:
    """How one item fared in one run: correct samples out of samples, and whether our side failed."""

    correct: int
    samples: int
    error: bool = False  # an infrastructure error in some sample: the item says nothing about the model

    @property
    def rate(self) -> float:
        return self.correct / self.samples if self.samples else 0.0

    @property
    def solved(self) -> bool:
        return self.correct > 0

    @classmethod
    def from_categories(cls, categories: list[str]) -> "ItemCounts":
        categories = categories or [ERROR]  # no sample at all: our failure, never the model's
        return cls(correct=categories.count(CORRECT), samples=len(categories), error=ERROR in categories)

    def text(self) -> str:
        return f"{self.correct}/{self.samples}"


@dataclass(frozen=True)
class SampleRecord:
    sample: int
    category: str
    reason: str
    code: str = ""
    cases: tuple[CaseVerdict, ...] = ()
    seconds: float = 0.0
    stderr: str = ""
    skipped_names: tuple[str, ...] = ()
    answer: Mapping[str, Any] = field(default_factory=dict)  # the model side: tokens, latency, response...
    taxonomy: str | None = None

    @property
    def passed(self) -> bool:
        return self.category == CORRECT

    @property
    def truncated(self) -> bool:
        return bool(self.answer.get("truncated"))

    @property
    def reused(self) -> bool:
        return bool(self.answer.get("reused"))

    def without_response(self) -> "SampleRecord":
        return replace(self, answer=answer_without_response(self.answer))

    def light(self) -> "SampleRecord":
        """What the controller keeps: the verdict and the facts the figures need, no text."""
        return SampleRecord(self.sample, self.category, self.reason, taxonomy=self.taxonomy,
                            answer=light_answer(self.answer))

    def to_json(self) -> dict[str, Any]:
        return {"category": self.category, "reason": self.reason, "code": self.code,
                "cases": [case_json(case) for case in self.cases], "seconds": self.seconds,
                "stderr": self.stderr, "skipped_names": list(self.skipped_names), "sample": self.sample,
                "answer": dict(self.answer), "passed": self.passed, "taxonomy": self.taxonomy}

    @classmethod
    def from_json(cls, data: Any, *, light: bool = False) -> "SampleRecord":
        """``light``: only what :meth:`light` keeps (the text is not even parsed into objects)."""
        if not isinstance(data, dict) or not isinstance(data.get("category"), str):
            raise RecordError("a sample needs a 'category'")
        answer = data.get("answer")
        if light:
            return cls(int(data.get("sample") or 0), data["category"], str(data.get("reason", "")),
                       taxonomy=data.get("taxonomy"), answer=light_answer(answer if isinstance(answer, dict) else {}))
        return cls(sample=int(data.get("sample") or 0), category=data["category"],
                   reason=str(data.get("reason", "")), code=str(data.get("code") or ""),
                   cases=tuple(case_from_json(case) for case in data.get("cases") or ()),
                   seconds=float(data.get("seconds") or 0.0), stderr=str(data.get("stderr") or ""),
                   skipped_names=tuple(data.get("skipped_names") or ()),
                   answer=answer if isinstance(answer, dict) else {}, taxonomy=data.get("taxonomy"))


def light_answer(answer: Mapping[str, Any]) -> dict[str, Any]:
    """What the controller keeps of a sample's ``answer`` facts."""
    return {key: answer[key] for key in LIGHT_ANSWER_FIELDS if key in answer}


def answer_without_response(answer: Mapping[str, Any]) -> dict[str, Any]:
    """A sample's ``answer`` facts without the model's own text (--sebench-report-responses)."""
    return {key: value for key, value in answer.items() if key not in RESPONSE_FIELDS}


def case_json(case: CaseVerdict) -> dict[str, Any]:
    return {"input": case.input, "expected": case.expected, "got": case.got, "passed": case.passed,
            "error": case.error, "detail": case.detail}


def case_from_json(data: Any) -> CaseVerdict:
    if not isinstance(data, dict):
        raise RecordError("a case must be an object")
    return CaseVerdict(input=str(data.get("input", "")), expected=str(data.get("expected", "")),
                       got=data.get("got"), passed=bool(data.get("passed")), error=data.get("error"),
                       detail=data.get("detail"))


@dataclass(frozen=True)
class ProblemText:
    """What the problem said (the reports show it next to the answers; the cases are in the samples)."""

    query: str = ""
    signature: str = ""
    example: tuple[str, str] | None = None  # (input, output) as the prompt showed them

    def to_json(self) -> dict[str, Any]:
        example = None if self.example is None else {"input": self.example[0], "output": self.example[1]}
        return {"query": self.query, "signature": self.signature, "example": example}

    @classmethod
    def from_json(cls, data: Any) -> "ProblemText":
        if not isinstance(data, dict):
            return cls()  # a report written before the problem was kept
        example = data.get("example")
        pair = (str(example.get("input", "")), str(example.get("output", ""))) if isinstance(example, dict) else None
        return cls(str(data.get("query") or ""), str(data.get("signature") or ""), pair)


@dataclass(frozen=True)
class ItemRecord:
    id: str
    split: str
    row: int | None
    functions: tuple[str, ...]
    library_functions: tuple[str, ...]  # full library names (zwc.rfx.quvohe), for the forgetting map
    where: str
    samples: tuple[SampleRecord, ...]
    source_line: int | None = None  # the line of a rollout file
    stopped_run: str | None = None  # why the run stopped after this item (the server refuses all)
    problem: ProblemText = field(default_factory=ProblemText)

    @property
    def counts(self) -> ItemCounts:
        return ItemCounts.from_categories([sample.category for sample in self.samples])

    def light(self) -> "ItemRecord":
        return replace(self, samples=tuple(sample.light() for sample in self.samples), problem=ProblemText())

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "split": self.split, "row": self.row,
                                "functions": list(self.functions), "library_functions": list(self.library_functions),
                                "where": self.where, "problem": self.problem.to_json(),
                                "samples": [sample.to_json() for sample in self.samples]}
        if self.source_line is not None:
            data["source_line"] = self.source_line
        if self.stopped_run is not None:
            data["stopped_run"] = self.stopped_run
        return data

    @classmethod
    def from_json(cls, data: Any, *, light: bool = False) -> "ItemRecord":
        """``light``: the samples as :meth:`light` keeps them."""
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise RecordError("an item needs an 'id'")
        samples = data.get("samples")
        if not isinstance(samples, list):
            raise RecordError(f"item {data['id']}: 'samples' must be a list of graded samples")
        try:
            parsed = tuple(SampleRecord.from_json(sample, light=light) for sample in samples)
        except RecordError as error:
            raise RecordError(f"item {data['id']}: {error}") from None
        return cls(id=data["id"], split=str(data.get("split", "")), row=data.get("row"),
                   functions=tuple(data.get("functions") or ()),
                   library_functions=tuple(data.get("library_functions") or ()), where=str(data.get("where", "")),
                   samples=parsed, source_line=data.get("source_line"), stopped_run=data.get("stopped_run"),
                   problem=ProblemText() if light else ProblemText.from_json(data.get("problem")))
