"""How the fake model server decides its reply to one request, before any waiting is done.

A completion request is checked in the order a real server would check it (API key, JSON body,
``messages``, ``model``, ``stream``, ``n``, ``max_tokens``, the context length); a request refused
there is answered at once and never takes a fault or a generation slot. A valid one takes the next
injected fault, if any (``fake_faults``), else the responder's answers (``Answerer``). The
``Decision`` says what to send, how long to hold a slot first and what to record; the server object
(``fake_model_server``) carries it out.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from .fake_accounting import RequestRecord
from .fake_answers import (
    Reply,
    Request,
    Responder,
    completion_payload,
    context_length_error,
    error_reply,
    json_reply,
    last_user_text,
    prompt_tokens,
    requested_max_tokens,
    vllm_error_reply,
)
from .fake_config import MODEL_INFO_PATH, MODELS_PATH, ServerConfig
from .fake_faults import FaultQueue, fault_reply


@dataclass(frozen=True)
class Decision:
    reply: Reply | None  # None: hang up without answering
    delay: float  # seconds to hold a generation slot before answering
    record: RequestRecord
    served: bool
    needs_slot: bool = True  # False: refused before generation, answered at once


class Answerer:
    """The responder's side of the server: it asks the responder, counting the samples already given
    for the same messages (``Request.n_seen``), and numbers the completions."""

    def __init__(self, responder: Responder) -> None:
        self._lock = threading.Lock()  # guards everything below
        self._responder = responder
        self._n_seen: dict[str, int] = {}
        self._completion_ids = 0

    def set_responder(self, responder: Responder) -> None:
        with self._lock:
            self._responder = responder

    def answers(self, body: dict[str, Any], messages: list[dict[str, Any]], model: str,
                n: int) -> tuple[list[str], str | None]:
        """The responder's ``n`` answers, or the reason it failed (which becomes a 500)."""
        with self._lock:
            responder = self._responder
        first = self._claim_samples(messages, n)
        texts = []
        for n_seen in range(first, first + n):
            request = Request(messages=messages, model=model, temperature=body.get("temperature"),
                              max_tokens=requested_max_tokens(body),
                              seed=body.get("seed"), n_seen=n_seen, body=body)
            try:
                text = responder(request)
            except Exception as err:  # the test's responder is at fault: say so in the 500
                return [], f"the responder raised {type(err).__name__}: {err}"
            if not isinstance(text, str):
                return [], f"the responder returned {type(text).__name__}, not str (a factory not called?)"
            texts.append(text)
        return texts, None

    def next_id(self) -> str:
        with self._lock:
            self._completion_ids += 1
            return f"chatcmpl-fake-{self._completion_ids}"

    def _claim_samples(self, messages: list[dict[str, Any]], n: int) -> int:
        """Reserve ``n`` consecutive ``n_seen`` values for these exact messages; returns the first."""
        key = json.dumps(messages, sort_keys=True)
        with self._lock:
            first = self._n_seen.get(key, 0)
            self._n_seen[key] = first + n
            return first


def authorized(authorization: str | None, config: ServerConfig) -> bool:
    """``authorization``: the request's Authorization header."""
    return config.api_key is None or authorization == f"Bearer {config.api_key}"


def endpoint_reply(method: str, path: str, authorization: str | None, config: ServerConfig) -> Reply:
    """The reply to any request but a completion: the model list, the model info, or 401 / 404."""
    if not authorized(authorization, config):
        return error_reply(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
    if method == "GET" and path == MODELS_PATH:
        model = {"id": config.model_id, "object": "model", "created": 0, "owned_by": "fake"}
        if config.model_root is not None:
            model["root"] = config.model_root
        return json_reply(200, {"object": "list", "data": [model]})
    if method == "GET" and path == MODEL_INFO_PATH and config.model_info is not None:
        return json_reply(200, config.model_info)
    return error_reply(404, f"{method} {path} is not served by the fake model server",
                       "invalid_request_error", "not_found")


def decide_completion(path: str, raw: bytes, authorization: str | None, config: ServerConfig,
                      faults: FaultQueue, answerer: Answerer) -> Decision:
    """The decision for a POST to the completions ``path`` with body ``raw``."""

    def invalid(message: str, status: int = 400, code: str | None = None, prompt: str = "",
                model: str = "") -> Decision:
        reply = error_reply(status, message, "invalid_request_error", code)
        return Decision(reply, 0.0, RequestRecord(time.time(), path, prompt, model, status, None), False,
                        needs_slot=False)

    if not authorized(authorization, config):
        return invalid("Incorrect API key provided.", 401, "invalid_api_key")
    try:
        body = json.loads(raw)
    except ValueError as err:
        return invalid(f"the request body is not JSON: {err}")
    if not isinstance(body, dict):
        return invalid("the request body must be a JSON object")
    messages, model, n = body.get("messages"), body.get("model"), body.get("n")
    n = 1 if n is None else n
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        return invalid("'messages' must be a list of message objects")
    if not isinstance(model, str):
        return invalid("'model' is required")
    prompt = last_user_text(messages)
    if config.strict_model and model != config.model_id:
        return invalid(f"The model `{model}` does not exist.", 404, "model_not_found", prompt, model)
    if body.get("stream"):
        return invalid("the fake model server does not stream; send stream=false", 400, None, prompt, model)
    if not isinstance(n, int) or n < 1:
        return invalid("'n' must be a positive integer", 400, None, prompt, model)
    max_tokens = requested_max_tokens(body)
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)
                                   or max_tokens < 1):
        return invalid("'max_tokens' must be a positive integer", 400, None, prompt, model)

    def record(status: int | None, fault: str | None) -> RequestRecord:
        return RequestRecord(time.time(), path, prompt, model, status, fault)

    prompt_size = prompt_tokens(messages)
    too_long = context_length_error(config.context_length, prompt_size, max_tokens)
    if too_long is not None:  # refused before scheduling, like the other invalid requests: no fault taken
        return Decision(vllm_error_reply(400, too_long), 0.0, record(400, None), False, needs_slot=False)
    if max_tokens is None and config.context_length is not None:
        max_tokens = config.context_length - prompt_size  # what vLLM allows when the request sets no limit
    fault = faults.take()
    if fault is not None:
        reply, extra_delay = fault_reply(fault, answerer.next_id, model, messages, n, config.reasoning_field)
        status = reply.status if reply is not None else None
        served = fault.kind == "empty"  # a well-formed completion, just an empty one
        return Decision(reply, config.latency + extra_delay, record(status, fault.kind), served)
    texts, failure = answerer.answers(body, messages, model, n)
    if failure is not None:
        return Decision(error_reply(500, failure, "server_error"), config.latency,
                        record(500, "responder_error"), False)
    payload = completion_payload(answerer.next_id(), model, messages, texts, max_tokens, config.reasoning_field)
    generating = config.latency + config.token_seconds * payload["usage"]["completion_tokens"]
    return Decision(json_reply(200, payload), generating, record(200, None), True)
