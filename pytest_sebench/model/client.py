"""Ask an OpenAI-compatible server (vLLM, SGLang, llama.cpp, ...) for one completion, surviving its
hiccups.

Retries are ours (the SDK's are turned off) so that every fault class is handled in one place:
429 waits for ``Retry-After``; 5xx, timeouts, dropped connections and malformed bodies back off
exponentially with full jitter; other 4xx answers are final. An empty completion is an answer.
Several base URLs share the load round-robin. The API key is never logged or stored.

Each attempt takes a place in the process's concurrency window and is timed by the endpoint's clock
(``pacing.py``): the SDK's own timeout is off for completions, so that time spent queued inside the
server behind our own earlier requests is not counted against a request.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import re
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

from .identity import ServedWeights, weights_from
from .pacing import IN_ORDER, EndpointClock, Window

MAX_BACKOFF_SECONDS = 60.0
PUSHBACK_STATUSES = (429, 503)  # the server says it has too much: the window halves


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.6
    max_tokens: int = 8192

    def key_fields(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "max_tokens": self.max_tokens}


@dataclass(frozen=True)
class Completion:
    text: str  # the message content as the server sent it (inline <think> blocks included)
    prompt_tokens: int | None
    completion_tokens: int | None
    latency: float  # seconds for the successful attempt
    attempts: int
    endpoint: str  # host:port that answered (never the key)
    served_model: str | None
    finish_reason: str | None = None  # "stop"; "length" when cut at max_tokens
    reasoning: str | None = None  # a reasoning parser's separate field (vLLM, SGLang), if any
    reasoning_tokens: int | None = None  # as the server counts them (usage.completion_tokens_details)
    run: str | None = None  # the run that asked for it (an answer cache outlives runs)

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "latency": round(self.latency, 4),
                "attempts": self.attempts, "endpoint": self.endpoint, "served_model": self.served_model,
                "finish_reason": self.finish_reason, "reasoning": self.reasoning,
                "reasoning_tokens": self.reasoning_tokens, "run": self.run}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Completion":
        return cls(str(data["text"]), data.get("prompt_tokens"), data.get("completion_tokens"),
                   float(data.get("latency", 0.0)), int(data.get("attempts", 1)),
                   str(data.get("endpoint", "")), data.get("served_model"), data.get("finish_reason"),
                   data.get("reasoning"), data.get("reasoning_tokens"), data.get("run"))


class RequestFailed(Exception):
    """This request cannot be answered (retries used up, or a final error such as 400)."""


class ServerUnusable(RequestFailed):
    """No request can be answered: unreachable, or refusing us (401/403/404). Stop asking."""


class ServerRefusesAll(ServerUnusable):
    """The server refuses every request the same way (say, prompt + max_tokens exceed its context):
    a setting of ours must change, so the run stops with one message instead of an error per item."""


class Refused(RequestFailed):
    """A final 4xx answer to one request (400 and the like), with the server's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"the model server rejected the request ({status}): {_short(message)}")
        self.status = status
        self.message = message

    def pattern(self) -> str:
        """The message with its numbers blanked: one prompt's token count differs from the next's."""
        return f"{self.status}:" + re.sub(r"\d+", "#", self.message)


@dataclass
class Counters:
    """What the closing ``requests:`` line says about this run's requests; each asking process counts
    its own, and the controller adds them up (``add``), so every request is counted once."""

    answered: int = 0  # requests answered
    retried: int = 0  # attempts made again (after a 429, 5xx, timeout, dropped connection, bad body)
    failed: int = 0  # requests given up (retries used up, or refused)
    abandoned: int = 0  # attempts given up after --sebench-request-timeout (then retried)
    limit: int = 0  # the concurrency window where it settled (summed over processes)
    ceiling: int = 0  # its ceiling (summed: --sebench-concurrency)
    peak: int = 0  # most requests in flight at once (summed over processes: an upper bound)

    def add(self, other: dict[str, int]) -> None:
        """Add another process's ``to_json()``."""
        for name, value in self.to_json().items():
            setattr(self, name, value + int(other.get(name, 0)))

    def to_json(self) -> dict[str, int]:
        return asdict(self)

    def line(self, reused: int = 0, stopped: str | None = None) -> str:
        """``reused``: answers the items took from an earlier run's cache; ``stopped``: why the
        requests stopped (the server could not be used)."""
        sent = self.answered + self.failed
        if not sent and stopped:
            text = f"requests: none sent: {stopped}"
        else:
            text = (f"requests: {sent} sent: {self.answered} answered, {self.failed} failed; {self.retried} "
                    f"retries, {self.abandoned} abandoned after a timeout")
        if reused:
            text += f"; {reused} answers reused from an earlier run's cache"
        if self.ceiling and sent:
            text += f"; concurrency settled at {self.limit} of at most {self.ceiling} (peak {self.peak})"
        return text


def endpoint_label(base_url: str) -> str:
    from urllib.parse import urlparse

    parsed = urlparse(base_url)
    return f"{parsed.hostname}:{parsed.port}" if parsed.port else str(parsed.hostname)


class ChatClient:
    """One model behind one or more OpenAI-compatible base URLs."""

    def __init__(self, *, base_urls: tuple[str, ...], api_key: str | None, model: str,
                 sampling: Sampling, timeout: float, retries: int, backoff: float,
                 counters: Counters | None = None, sleep: Callable[[float], Any] = asyncio.sleep,
                 window: Window | None = None, clock: EndpointClock | None = None) -> None:
        import openai  # heavy: only when a served model is really asked

        self.openai = openai
        self.model = model
        self.sampling = sampling
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.counters = counters or Counters()
        self.window = window or Window(ceiling=1_000_000)
        self.clock = clock or EndpointClock(None)
        self._sleep = sleep
        self.sends = 0  # completion requests that went out (see until_sent)
        self._sent: asyncio.Event | None = None
        # The SDK's timeout covers the short calls (the model list); completions are timed by the clock.
        self._clients = [openai.AsyncOpenAI(
            base_url=url, api_key=api_key or "EMPTY", timeout=timeout, max_retries=0,
            http_client=openai.DefaultAsyncHttpxClient(timeout=timeout, event_hooks={"request": [self._on_send]}))
            for url in base_urls]
        self._labels = [endpoint_label(url) for url in base_urls]
        self._next = itertools.cycle(range(len(self._clients)))

    async def aclose(self) -> None:
        for client in self._clients:
            await client.close()

    async def _on_send(self, request: Any) -> None:
        """httpx calls this as a request goes out (after the SDK built it, before the connection)."""
        if str(request.url.path).endswith("/chat/completions"):
            self.sends += 1
            self._signal().set()

    def _signal(self) -> asyncio.Event:
        if self._sent is None:
            self._sent = asyncio.Event()
        return self._sent

    async def until_sent(self, after: int, task: asyncio.Future[Any]) -> None:
        """Return once more than ``after`` completion requests went out, or ``task`` ended.

        Two requests handed out together race to the server (the first one of a client is the
        slowest to leave: the SDK builds its headers, httpx opens a connection), and a queueing server
        answers in arrival order; so the next one is handed out only once this one is on its way.
        """
        while self.sends <= after and not task.done():
            signal = self._signal()
            signal.clear()
            waiting = asyncio.ensure_future(signal.wait())
            try:
                await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiting.cancel()

    async def served_weights(self) -> ServedWeights:
        """What the first endpoint reports about the weights it serves (see identity.py)."""
        try:
            page = await self._clients[0].models.list()
        except self.openai.APIConnectionError as error:
            raise ServerUnusable(f"cannot reach the model server at {self._labels[0]}: "
                                 f"{_cause(error)}") from None
        except self.openai.APIStatusError as error:
            if error.status_code in (401, 403):
                raise ServerUnusable(f"the model server at {self._labels[0]} refused the API key "
                                     f"({error.status_code})") from None
            page = None  # some servers do not list models; the name alone then keys the cache
        return weights_from(list(page.data) if page is not None else [], self.model, await self._model_info())

    async def _model_info(self) -> Any:
        """SGLang's ``GET /get_model_info`` beside ``/v1``; None where the server has none."""
        base = str(self._clients[0].base_url).rstrip("/")
        root = base[: -len("/v1")] if base.endswith("/v1") else base
        try:
            return await self._clients[0].get(f"{root}/get_model_info", cast_to=object)
        except Exception:  # 404 from servers other than SGLang, or anything odd: nothing reported
            return None

    async def complete(self, prompt: str, priority: int = IN_ORDER) -> Completion:
        last_error = "no attempt made"
        unreachable = True  # every attempt failed to connect: the server is gone, not busy
        for attempt in range(self.retries + 1):
            index = next(self._next)
            try:
                return await self._attempt(prompt, index, attempt + 1, priority)
            except Exception as error:  # classified below; anything unknown is retried
                wait, last_error = self._classify(error, attempt)
                unreachable = unreachable and isinstance(error, self.openai.APIConnectionError) and not \
                    isinstance(error, self.openai.APITimeoutError)
            if attempt < self.retries:
                self.counters.retried += 1
                await self._sleep(wait)
        if unreachable:
            raise ServerUnusable(f"cannot reach the model server ({', '.join(self._labels)}) after "
                                 f"{self.retries + 1} attempts: {last_error}")
        raise RequestFailed(f"gave up after {self.retries + 1} attempts: {last_error}")

    async def _attempt(self, prompt: str, index: int, attempts: int, priority: int) -> Completion:
        """One request in one place of the window, abandoned when its endpoint's clock runs out."""
        label = self._labels[index]
        await self.window.acquire(priority)
        sent_with, started = self.window.in_flight, time.monotonic()
        task = asyncio.ensure_future(self._clients[index].chat.completions.create(
            model=self.model, messages=[{"role": "user", "content": prompt}],
            temperature=self.sampling.temperature, max_tokens=self.sampling.max_tokens, timeout=None))
        try:
            if not await self.clock.wait(task, label, self.timeout):
                task.cancel()
                self.counters.abandoned += 1
                raise _Abandoned(f"no answer from {label} for {self.timeout:g} s")
            response = task.result()
            self.clock.answered(label)
            completion = self._completion(response, time.monotonic() - started, attempts, index)
        except BaseException:
            if not task.done():
                task.cancel()
            raise
        finally:
            self.window.release()
        self.window.answered(completion.latency, completion.completion_tokens, sent_with)
        return completion

    def _completion(self, response: Any, latency: float, attempts: int, index: int) -> Completion:
        choices = getattr(response, "choices", None)
        if not choices or getattr(choices[0], "message", None) is None:
            raise _Malformed("the response has no choices[0].message")
        message, usage = choices[0].message, getattr(response, "usage", None)
        details = getattr(usage, "completion_tokens_details", None)
        # vLLM's reasoning parsers: "reasoning_content" (older releases), "reasoning" (newer); SGLang
        # uses the first. The SDK keeps fields it does not know as attributes.
        reasoning = getattr(message, "reasoning_content", None) or getattr(message, "reasoning", None)
        return Completion(text=message.content or "",
                          prompt_tokens=getattr(usage, "prompt_tokens", None),
                          completion_tokens=getattr(usage, "completion_tokens", None),
                          latency=latency, attempts=attempts, endpoint=self._labels[index],
                          served_model=getattr(response, "model", None),
                          finish_reason=getattr(choices[0], "finish_reason", None),
                          reasoning=reasoning if isinstance(reasoning, str) and reasoning else None,
                          reasoning_tokens=getattr(details, "reasoning_tokens", None))

    def _classify(self, error: Exception, attempt: int) -> tuple[float, str]:
        """How long to wait before the next attempt, and what went wrong; raises when it is final."""
        openai = self.openai
        backoff = random.uniform(0, min(MAX_BACKOFF_SECONDS, self.backoff * 2 ** attempt))
        if isinstance(error, _Abandoned):
            self.window.pushed_back()
            return backoff, f"the request timed out ({error})"
        if isinstance(error, openai.RateLimitError):
            self.window.pushed_back()
            return _retry_after(error) or backoff, "rate limited (429)"
        if isinstance(error, openai.APITimeoutError):
            return backoff, "the request timed out"
        if isinstance(error, openai.APIConnectionError):
            return backoff, f"connection failed: {_cause(error)}"
        if isinstance(error, openai.APIStatusError):
            status = error.status_code
            if status in PUSHBACK_STATUSES:
                self.window.pushed_back()
            if status >= 500:
                return _retry_after(error) or backoff, f"server error ({status})"
            if status in (401, 403, 404):
                raise ServerUnusable(f"the model server refused the request ({status}): "
                                     f"{_short(error.message)}") from None
            raise Refused(status, _server_message(error)) from None
        return backoff, f"malformed response: {_short(str(error)) or type(error).__name__}"


class _Abandoned(Exception):
    """Our own timeout of one attempt (see EndpointClock)."""


class _Malformed(Exception):
    pass


def _server_message(error: Any) -> str:
    """The server's own words (the SDK's ``message`` prefixes "Error code: 400 - " and a dump)."""
    body = getattr(error, "body", None)
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    return str(getattr(error, "message", "") or error)


def _retry_after(error: Any) -> float | None:
    response = getattr(error, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return min(MAX_BACKOFF_SECONDS, max(0.0, float(value))) if value is not None else None
    except ValueError:
        return None


def _cause(error: BaseException) -> str:
    root = error
    while root.__cause__ is not None:
        root = root.__cause__
    return _short(str(root) or type(root).__name__)


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
