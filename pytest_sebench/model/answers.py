"""Where an item's answers come from: the built-in reference model, a rollout file, or a served model.

Every source answers ``respond(problem, sample) -> (text, metadata)``; ``prepare`` is told the
selected problems once collection is final (a served model starts prefetching there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, Sequence

from ..data.library import Library
from ..data.problems import Problem
from .reference import reference_response

if TYPE_CHECKING:
    from .client import Counters


class AnswerSource(Protocol):
    # Read-only: a served model computes some of them.
    @property
    def label(self) -> str:
        """Names the model in summaries and reports."""
        ...

    @property
    def samples(self) -> int:
        """Answers per problem."""
        ...

    @property
    def counters(self) -> Counters | None:
        """A served model's request counters, else None."""
        ...

    def prepare(self, problems: Sequence[Problem]) -> None: ...

    def respond(self, problem: Problem, sample: int = 0) -> tuple[str, dict[str, Any]]: ...

    def describe(self) -> dict[str, Any]: ...

    def facts(self) -> dict[str, Any]:
        """What ``describe`` says that needs no request to the server (for checks at start)."""
        ...

    def start_notes(self) -> list[str]:
        """What the user must know before the run starts (the controller asks once)."""
        ...

    def stop_cause(self) -> str | None:
        """Why the model stopped being asked before the end, if it did."""
        ...

    def close(self) -> None: ...


class _Instant:
    """Sources that answer from what they already hold: nothing to prepare, count or release."""

    label: str  # set by each subclass
    samples = 1
    counters = None

    def prepare(self, problems: Sequence[Problem]) -> None:
        pass

    def describe(self) -> dict[str, Any]:
        return {"name": self.label, "samples": self.samples}

    def facts(self) -> dict[str, Any]:
        return self.describe()

    def start_notes(self) -> list[str]:
        return []

    def stop_cause(self) -> str | None:
        return None

    def close(self) -> None:
        pass


class ReferenceModel(_Instant):
    label = "reference"

    def __init__(self, library: Library, samples: int = 1) -> None:
        self.library = library
        self.samples = samples

    def respond(self, problem: Problem, sample: int = 0) -> tuple[str, dict[str, Any]]:
        return reference_response(problem, self.library), {}


class RolloutAnswers(_Instant):
    label = "rollouts"

    def respond(self, problem: Problem, sample: int = 0) -> tuple[str, dict[str, Any]]:
        if problem.response is None:
            raise ValueError(f"{problem.where}: a rollout line without a response")
        return problem.response, {}
