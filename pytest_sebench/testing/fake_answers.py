"""What the fake model server answers: the request a responder sees, ready-made responders, and the
OpenAI JSON the answers (and errors) travel in, cut at ``max_tokens`` and with any ``<think>`` block
split out as a vLLM reasoning parser would.

A responder is any ``Callable[[Request], str]``. The server calls it once per choice of a completion
request that no fault intercepted; ``Request.n_seen`` tells it how many answers it already gave for the
same messages, so it can vary over samples and still be deterministic.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_ANSWER = "This is the fake model server's answer."


@dataclass(frozen=True)
class Request:
    """One completion request as a responder sees it."""

    messages: list[dict[str, Any]]
    model: str
    temperature: float | None
    max_tokens: int | None
    seed: int | None
    n_seen: int  # answers already given for these exact messages (0 for the first)
    body: dict[str, Any] = field(repr=False)  # the raw JSON body, for anything not lifted above

    @property
    def prompt(self) -> str:
        """The text of the last user message: what the SE-Bench plugin asks, and what responders match."""
        return last_user_text(self.messages)


Responder = Callable[[Request], str]


def message_text(message: Mapping[str, Any]) -> str:
    """A message's text, whether its content is a string or a list of parts (``{"type": "text", ...}``)."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content
                       if isinstance(part, dict) and part.get("type") == "text")
    return ""


def last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return message_text(message)
    return ""


def echo_responder(text: str = DEFAULT_ANSWER) -> Responder:
    """A responder that always answers ``text``, whatever it is asked."""

    def respond(request: Request) -> str:
        return text

    return respond


def first_matching_key(keys: Mapping[str, object], prompt: str) -> str | None:
    """The first key (in the mapping's order) that occurs in ``prompt``.

    First, not longest: with keys ``"task 1"`` and ``"task 10"`` the first also matches the second's
    prompts, so give distinctive keys (whole problem ids, say) or put the longer ones first.
    """
    return next((key for key in keys if key in prompt), None)


def table_responder(answers: Mapping[str, str | list[str]], default: str = "") -> Responder:
    """Answer from a table: the first key found in the last user message gives the answer.

    A list of answers is walked by ``n_seen`` and starts over when exhausted, so sample ``i`` of a
    prompt gets ``answers[key][i % len]``. A prompt that matches no key gets ``default``.
    """
    table = dict(answers)
    for key, answer in table.items():
        if isinstance(answer, list) and not answer:
            raise ValueError(f"table_responder: the answer list for {key!r} is empty")

    def respond(request: Request) -> str:
        key = first_matching_key(table, request.prompt)
        if key is None:
            return default
        answer = table[key]
        return answer[request.n_seen % len(answer)] if isinstance(answer, list) else answer

    return respond


def uniform_draw(seed: int, key: str, n_seen: int) -> float:
    """A number in [0, 1) fixed by (seed, key, n_seen): the same on every run, machine and process."""
    digest = hashlib.sha256(f"{seed}\x00{key}\x00{n_seen}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def probability_responder(correct: Mapping[str, str], wrong: Mapping[str, str],
                          p_correct: Mapping[str, float], seed: int) -> Responder:
    """A model that solves item ``k`` with probability ``p_correct[k]``, sample by sample.

    For a prompt whose first matching key is ``k``, sample ``n_seen`` is ``correct[k]`` when
    ``uniform_draw(seed, k, n_seen) < p_correct[k]`` and ``wrong[k]`` otherwise: the sequence of right
    and wrong answers is fixed by the seed, independent of request order, concurrency or retries
    (faults do not consume samples). A prompt that matches no key is a mistake in the test, so the
    responder raises and the server answers 500 with the reason.
    """
    if not (correct.keys() == wrong.keys() == p_correct.keys()):
        raise ValueError("probability_responder: correct, wrong and p_correct need the same keys")
    for key, p in p_correct.items():
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"probability_responder: p_correct[{key!r}] = {p} is not in [0, 1]")
    right, bad, rate = dict(correct), dict(wrong), dict(p_correct)

    def respond(request: Request) -> str:
        key = first_matching_key(rate, request.prompt)
        if key is None:
            raise LookupError(f"probability_responder: no key occurs in the prompt {request.prompt[:200]!r}")
        return right[key] if uniform_draw(seed, key, request.n_seen) < rate[key] else bad[key]

    return respond


# ---- the OpenAI wire format ------------------------------------------------------------------------

# A completion cut off mid-way: what a crashing proxy or a truncated write looks like.
MALFORMED_BODY = b'{"id": "chatcmpl-fake", "object": "chat.completion", "choices": [{"index": 0, "mess'


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


def json_reply(status: int, payload: object, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    return Reply(status, json.dumps(payload).encode(), headers)


def error_reply(status: int, message: str, error_type: str, code: str | None = None,
                headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    """The error body OpenAI (and vLLM) send: the SDK puts ``message`` into the exception it raises."""
    error = {"message": message, "type": error_type, "param": None, "code": code}
    return json_reply(status, {"error": error}, headers)


def vllm_error_reply(status: int, message: str, error_type: str = "BadRequestError") -> Reply:
    """The flat error body of vLLM's OpenAI server (``"object": "error"``, an integer ``code``, no ``"error"``
    wrapper). The SDK reads such a body as the error itself: ``err.body`` is this dict, ``err.code`` is
    ``str(status)`` and ``err.message`` is ``"Error code: 400 - " + message``."""
    return json_reply(status, {"object": "error", "message": message, "type": error_type, "param": None,
                               "code": status})


def word_count(text: str) -> int:
    return len(text.split())


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """The prompt's size as usage reports it (and the context length checks it): words of every message."""
    return sum(word_count(message_text(message)) for message in messages)


def requested_max_tokens(body: Mapping[str, Any]) -> Any:
    """The request's completion limit: ``max_tokens``, or the newer name ``max_completion_tokens``."""
    value = body.get("max_tokens")
    return value if value is not None else body.get("max_completion_tokens")


def context_length_error(context_length: int | None, prompt: int, max_tokens: int | None) -> str | None:
    """vLLM's message refusing a request that does not fit the context (None: it fits).

    Without ``max_tokens`` vLLM lets the completion fill what is left, so only a prompt leaving no room
    for a single token is refused (with vLLM's other message, comma splice included).
    """
    if context_length is None:
        return None
    if max_tokens is None:
        if prompt < context_length:
            return None
        return (f"This model's maximum context length is {context_length} tokens. However, you requested "
                f"{prompt} tokens in the messages, Please reduce the length of the messages.")
    if prompt + max_tokens <= context_length:
        return None
    return (f"This model's maximum context length is {context_length} tokens. However, you requested "
            f"{prompt + max_tokens} tokens ({prompt} in the messages, {max_tokens} in the completion). "
            f"Please reduce the length of the messages or completion.")


WORD = re.compile(r"\S+")  # the words str.split() finds, with their positions
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


def cut_at_words(text: str, limit: int | None) -> tuple[str, bool]:
    """``text`` cut right after its ``limit``-th word, and whether anything was cut (``finish_reason`` "length").

    What is kept is the original text up to there, newlines and indentation included, so a cut answer
    looks like a real one that ran out of tokens mid-way (an unclosed code fence, say).
    """
    if limit is None:
        return text, False
    words = list(itertools.islice(WORD.finditer(text), limit + 1))  # one past the limit tells if it overflows
    if len(words) <= limit:
        return text, False
    return (text[:words[limit - 1].end()] if limit > 0 else ""), True


def split_reasoning(text: str) -> tuple[str | None, str | None]:
    """(reasoning, content) as a vLLM reasoning parser splits a generation with a leading ``<think>`` block.

    No leading block: no reasoning, the whole text is content. The reasoning is the text between the
    tags, the content what follows ``</think>``, both unstripped; an empty content is ``None``, as vLLM
    sends it, so an answer cut off (max_tokens) inside the block is all reasoning and ``content`` null.
    """
    stripped = text.lstrip()
    if not stripped.startswith(THINK_OPEN):
        return None, text
    reasoning, _, content = stripped[len(THINK_OPEN):].partition(THINK_CLOSE)
    return reasoning, content or None


def completion_payload(completion_id: str, model: str, messages: list[dict[str, Any]], texts: list[str],
                       max_tokens: int | None = None, reasoning_field: str | None = None) -> dict[str, Any]:
    """A chat completion with one choice per text, each cut at ``max_tokens`` words.

    ``completion_tokens`` counts the words of what was generated (the cut texts, think blocks included);
    with a ``reasoning_field`` the think block travels in that message field and its words are also
    reported as ``completion_tokens_details.reasoning_tokens``.
    """
    choices: list[dict[str, Any]] = []
    completion_tokens = reasoning_tokens = 0
    for index, text in enumerate(texts):
        sent, cut = cut_at_words(text, max_tokens)
        completion_tokens += word_count(sent)
        message: dict[str, Any] = {"role": "assistant", "content": sent}
        if reasoning_field is not None:
            reasoning, message["content"] = split_reasoning(sent)
            message[reasoning_field] = reasoning
            reasoning_tokens += word_count(reasoning or "")
        choices.append({"index": index, "message": message, "finish_reason": "length" if cut else "stop",
                        "logprobs": None})
    prompt = prompt_tokens(messages)
    usage: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion_tokens,
                             "total_tokens": prompt + completion_tokens}
    if reasoning_field is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
    return {"id": completion_id, "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": choices, "usage": usage}


def retry_after_header(seconds: float) -> str:
    # Whole seconds are what HTTP specifies; fractions are kept because the SDK parses them as floats.
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)
