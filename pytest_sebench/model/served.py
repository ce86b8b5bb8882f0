"""A served model (any OpenAI-compatible server) as an answer source: prompts, cache keys, the broker."""

from __future__ import annotations

import asyncio
import math
import re
from dataclasses import dataclass
from typing import Any, Sequence

from ..data.library import Library
from ..data.problems import Problem
from ..prompt.templates import PromptBuilder
from .broker import AnswerBroker, AnswerRequest, run_stop_cause
from .cache import AnswerCache, answer_key
from .client import ChatClient, Counters, Refused, Sampling, ServerUnusable, endpoint_label
from .identity import ServedWeights, undistinguished_warning
from .pacing import START_WINDOW, EndpointClock, Window

# Words of a refusal that say the request does not fit the server's context (vLLM, SGLang, llama.cpp,
# OpenAI): the fix is ours to make, with --sebench-max-tokens.
_CONTEXT_WORDS = ("context length", "context window", "maximum context", "max_tokens",
                  "max_completion_tokens", "too many tokens", "exceeds the", "n_ctx")
# vLLM's (and llama-cpp-python's) wording: "maximum context length is 4096 tokens. However, you
# requested 8392 tokens (200 in the messages, 8192 in the completion)"
_CONTEXT_SIZES = re.compile(r"context length is (?P<context>\d+) tokens.*?\((?P<messages>\d+) in the "
                            r"messages, (?P<completion>\d+) in the completion\)", re.DOTALL)


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
        self._counters = Counters()
        # names the model in the header, the summary and the report, as a baseline names it
        self.label = f"{settings.model}@{settings.revision}" if settings.revision else settings.model
        self._weights: ServedWeights | None = None
        self._clock = EndpointClock(cache.run_folder("endpoints"))
        self._workers = max(1, workers)
        self._broker: AnswerBroker | None = None  # made when first needed: the controller never is

    @property
    def broker(self) -> AnswerBroker:
        """The prefetching broker of a process that grades items (an xdist worker, or -n0)."""
        if self._broker is None:
            # xdist workers share the ceiling and the first window: a serial server gets two requests
            # at first whatever the number of workers (at least one per worker)
            self._broker = AnswerBroker(self._client, self.cache, math.ceil(self.settings.concurrency / self._workers),
                                        self._counters, advice=self.advice,
                                        start_window=math.ceil(START_WINDOW / self._workers))
        return self._broker

    @property
    def counters(self) -> Counters:
        if self._broker is not None:
            self._broker.note_window()  # the window's figures, as they are now
        return self._counters

    @property
    def samples(self) -> int:
        return self.settings.samples

    def _client(self, window: Window | None = None) -> ChatClient:
        s = self.settings
        return ChatClient(base_urls=s.base_urls, api_key=s.api_key, model=s.model, sampling=s.sampling,
                          timeout=s.request_timeout, retries=s.retries, backoff=s.backoff,
                          counters=self._counters, window=window, clock=self._clock)

    def advice(self, refusal: Refused) -> str:
        """What to change when the server refuses every request the same way."""
        serve_longer = ("serve a longer context (vLLM: --max-model-len, SGLang: --context-length, "
                        "llama.cpp: -c / --n_ctx)")
        sizes = _CONTEXT_SIZES.search(refusal.message)
        if sizes is not None and int(sizes["messages"]) >= int(sizes["context"]):
            return (f"The prompt alone is longer than the server's context of {sizes['context']} "
                    f"tokens: {serve_longer}, or use shorter prompts (--sebench-mode, --sebench-prompt)")
        if sizes is not None or any(words in refusal.message.lower() for words in _CONTEXT_WORDS):
            room = f" (at most {int(sizes['context']) - int(sizes['messages'])} for that prompt)" if sizes else ""
            return (f"Lower --sebench-max-tokens (now {self.settings.sampling.max_tokens}){room} so that "
                    f"the prompt and the answer fit the server's context, or {serve_longer}")
        return ("Check the request settings against what the server accepts: --sebench-model, "
                "--sebench-max-tokens, --sebench-temperature")

    def identify(self) -> ServedWeights:
        """Ask the server which weights it serves (once per process): a new checkpoint, new answers.
        Raises ServerUnusable when it cannot be reached or refuses the key."""
        if self._weights is None:
            async def ask() -> ServedWeights:
                client = self._client()
                try:
                    return await client.served_weights()
                finally:
                    await client.aclose()
            self._weights = asyncio.run(ask())
        return self._weights

    def start_notes(self) -> list[str]:
        """A server that cannot be used, or that does not tell its checkpoints apart."""
        try:
            weights = self.identify()
        except ServerUnusable as error:
            return [f"{error}: every item will be an ERROR with this cause"]
        if weights.identity(self.settings.model):
            return []
        return [undistinguished_warning(self.settings.model, self.settings.revision,
                                        endpoint_label(self.settings.base_urls[0]))]

    def prepare(self, problems: Sequence[Problem]) -> None:
        """Start prefetching every sample of the selected problems."""
        try:
            self.identify()
        except ServerUnusable as error:
            self.broker.declare_unusable(str(error))
            return
        self.broker.start([self.request(problem, sample) for problem in problems
                            for sample in range(self.samples)])

    def request(self, problem: Problem, sample: int) -> AnswerRequest:
        prompt = self.prompts.build(problem, self.library)
        weights = self._weights.identity(self.settings.model) if self._weights is not None else {}
        fields: dict[str, Any] = {"model": self.settings.model, "weights": weights,
                                  "revision": self.settings.revision, "prompt": prompt,
                                  "sample": sample, **self.settings.sampling.key_fields()}
        return AnswerRequest(answer_key(fields), prompt, f"{problem.id}#{sample}")

    def respond(self, problem: Problem, sample: int = 0) -> tuple[str, dict[str, Any]]:
        answer = self.broker.get(self.request(problem, sample))
        completion = answer.completion
        return completion.text, {"served_model": completion.served_model,
                                 "prompt_tokens": completion.prompt_tokens,
                                 "completion_tokens": completion.completion_tokens,
                                 "reasoning_tokens": completion.reasoning_tokens,
                                 "latency": round(completion.latency, 4), "attempts": completion.attempts,
                                 "reused": answer.reused, "finish_reason": completion.finish_reason,
                                 "reasoning": completion.reasoning}

    def stop_cause(self) -> str | None:
        return self._broker.stop_cause() if self._broker is not None else run_stop_cause(self.cache)

    def describe(self) -> dict[str, Any]:
        try:
            weights = self.identify().to_json()  # asked once already, at start
        except ServerUnusable:
            weights = None
        # the template's text too: the reports show each item's prompt (the docs it names are not kept)
        return {**self.facts(), "weights": weights, "prompt_template": self.prompts.template}

    def facts(self) -> dict[str, Any]:
        s = self.settings
        return {"name": s.model, "revision": s.revision,
                "endpoints": [endpoint_label(url) for url in s.base_urls], "mode": self.prompts.mode,
                "prompt": self.prompts.source, "prompt_hash": self.prompts.fingerprint,
                "samples": s.samples, **s.sampling.key_fields()}

    def close(self) -> None:
        if self._broker is not None:
            self._broker.close()
