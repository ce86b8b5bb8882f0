"""Where an item's answer comes from: the built-in reference model, or a rollout file's response."""

from __future__ import annotations

from typing import Protocol

from ..data.library import Library
from ..data.problems import Problem
from .reference import reference_response


class AnswerSource(Protocol):
    label: str  # names the model in summaries and reports

    def respond(self, problem: Problem) -> str: ...


class ReferenceModel:
    label = "reference"

    def __init__(self, library: Library) -> None:
        self.library = library

    def respond(self, problem: Problem) -> str:
        return reference_response(problem, self.library)


class RolloutAnswers:
    label = "rollouts"

    def respond(self, problem: Problem) -> str:
        if problem.response is None:
            raise ValueError(f"{problem.where}: a rollout line without a response")
        return problem.response
