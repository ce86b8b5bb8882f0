"""A served model (any OpenAI-compatible server) as an answer source: prompts, cache keys, the broker."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any, Sequence

from ..data.library import Library
from ..data.problems import Problem
from ..prompt.templates import PromptBuilder
from .broker import AnswerBroker, AnswerRequest
from .cache import AnswerCache, answer_key
from .client import ChatClient, Counters, Sampling, ServerUnusable, endpoint_label


@dataclass(frozen=True)
class ServerSettings:
    model: str
    base_urls: tuple[str, ...]
    api_key: str | None
    revision: str | None
    sampling: Sampling
    samples: int
    concurrency: int
    request_timeout: float
    retries: int
    backoff: float


class ServedModel:
    """Answers from a model server; one instance per process, sharing the cache folder with the others."""

    def __init__(self, settings: ServerSettings, library: Library, prompts: PromptBuilder,
                 cache: AnswerCache, workers: int = 1) -> None:
        self.settings = settings
        self.library = library
        self.prompts = prompts
        self.cache = cache
        self.counters = Counters()
        self.label = settings.model
        self._served_model: str | None = None
        self._broker = AnswerBroker(self._client, cache, math.ceil(settings.concurrency / max(1, workers)),
                                    self.counters)

    @property
    def samples(self) -> int:
        return self.settings.samples

    def _client(self) -> ChatClient:
        s = self.settings
        return ChatClient(base_urls=s.base_urls, api_key=s.api_key, model=s.model, sampling=s.sampling,
                          timeout=s.request_timeout, retries=s.retries, backoff=s.backoff,
                          counters=self.counters)

    def _identify(self) -> str | None:
        """Ask the server which model it serves (once, at start): a new checkpoint means new answers."""
        async def ask() -> str | None:
            client = self._client()
            try:
                return await client.served_model_id()
            finally:
                await client.aclose()
        return asyncio.run(ask())

    def prepare(self, problems: Sequence[Problem]) -> None:
        """Start prefetching every sample of the selected problems."""
        try:
            self._served_model = self._identify()
        except ServerUnusable as error:
            self._broker.cache.fail("server-unusable", str(error))
            return
        self._broker.start([self.request(problem, sample) for problem in problems
                            for sample in range(self.samples)])

    def request(self, problem: Problem, sample: int) -> AnswerRequest:
        prompt = self.prompts.build(problem, self.library)
        fields: dict[str, Any] = {"model": self.settings.model, "served_model": self._served_model,
                                  "revision": self.settings.revision, "prompt": prompt,
                                  "sample": sample, **self.settings.sampling.key_fields()}
        return AnswerRequest(answer_key(fields), prompt, f"{problem.id}#{sample}")

    def respond(self, problem: Problem, sample: int = 0) -> tuple[str, dict[str, Any]]:
        answer = self._broker.get(self.request(problem, sample))
        completion = answer.completion
        self.counters.cached += answer.cached
        return completion.text, {"served_model": completion.served_model,
                                 "prompt_tokens": completion.prompt_tokens,
                                 "completion_tokens": completion.completion_tokens,
                                 "latency": round(completion.latency, 4), "attempts": completion.attempts,
                                 "cached": answer.cached}

    def describe(self) -> dict[str, Any]:
        if self._served_model is None:  # the xdist controller never prepared: ask once for the record
            try:
                self._served_model = self._identify()
            except ServerUnusable:
                pass
        return {**self.facts(), "served_model": self._served_model}

    def facts(self) -> dict[str, Any]:
        s = self.settings
        return {"name": s.model, "revision": s.revision,
                "endpoints": [endpoint_label(url) for url in s.base_urls], "mode": self.prompts.mode,
                "prompt": self.prompts.source, "prompt_hash": self.prompts.fingerprint,
                "samples": s.samples, **s.sampling.key_fields()}

    def close(self) -> None:
        self._broker.close()
