"""The fake model server's settings: what a real server would do with a request, as ``ServerConfig``.

Every field may change while the server runs (``FakeServer.configure``); requests that arrive
afterwards see the new values.

- ``max_tokens`` (the request's, or ``max_completion_tokens``; a positive integer, else 400): a choice
  with more words is cut right after its ``max_tokens``-th word (the text up to there kept as it is,
  newlines included) with ``finish_reason`` "length"; otherwise "stop". ``completion_tokens`` counts
  the words generated, after the cut and wherever a think block is sent (tags included), summed over
  choices: each cut choice adds exactly ``max_tokens``.
- ``reasoning_field`` ("reasoning_content" as older vLLM sends it, "reasoning" as newer; None: the text
  goes out as it is, inline ``<think>`` and all, like a server without a reasoning parser): a leading
  ``<think>...</think>`` block moves out of ``content`` into ``message[reasoning_field]``, unstripped,
  and ``usage.completion_tokens_details = {"reasoning_tokens": <its words>}``. A choice without the
  block has the field null and all its text as content; one cut off inside the block (no
  ``</think>``) is all reasoning, and nothing after the block is a null content, as vLLM sends them
  (an ``empty`` fault's content stays ""). The SDK keeps the unknown field as a pydantic extra:
  ``message.reasoning_content`` (or ``message.model_extra``; ``getattr(message, "reasoning", None)``
  when unsure which), and ``message.content`` may be ``None``;
  ``usage.completion_tokens_details.reasoning_tokens`` is typed.
- ``context_length``: a request whose prompt (words of all its messages) plus ``max_tokens`` exceeds
  it gets 400 with vLLM's flat body (``{"object": "error", "message": "This model's maximum context
  length is 4096 tokens. However, you requested 8392 tokens (200 in the messages, 8192 in the
  completion). Please reduce ...", "type": "BadRequestError", "param": null, "code": 400}``). Every
  such request gets it: it is refused before faults and the responder (like any invalid request, it
  counts in ``completion_attempts``, not ``completions_served``). ``openai.BadRequestError``'s
  ``message`` is "Error code: 400 - " + that message, ``body`` the dict, ``code`` the string "400".
  Without ``max_tokens`` only a prompt of ``context_length`` words or more is refused (vLLM's other
  message), and the answer is cut at what is left of the context.
- ``model_root``: listed as ``root`` in ``/v1/models`` (vLLM lists the served weights' path there);
  ``model_info``: the JSON of ``GET /get_model_info`` beside ``/v1`` (SGLang's ``model_path`` and
  ``weight_version``); 404 when None.
- ``token_seconds``: seconds per completion word (``usage.completion_tokens``) added to ``latency``,
  so that long answers take longer, as on a real server.
- ``slots`` (0: no limit): at most that many completion requests generate (hold a slot for their
  latency) at once; the others wait in line in order of arrival (the order of ``requests``), and a
  request's latency starts when it gets its slot, as on llama.cpp's serial server. Every completion
  request except those refused as invalid takes a slot, faulted ones included (a ``timeout`` fault
  holds it for its whole delay). A request whose client gave up still holds its slot for its full
  latency when its turn comes: the server does not notice, which is what makes abandoned requests
  costly. ``close()`` ends waits and holds at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

COMPLETIONS_PATH = "/v1/chat/completions"
MODELS_PATH = "/v1/models"
MODEL_INFO_PATH = "/get_model_info"
# Where vLLM's reasoning parsers put a <think> block: older versions "reasoning_content", newer "reasoning".
REASONING_FIELDS = ("reasoning_content", "reasoning")


@dataclass(frozen=True)
class ServerConfig:
    """Behaviour that may change while the server runs (``FakeServer.configure``)."""

    latency: float = 0.0  # seconds each completion request generates (holds its slot), in its own thread
    model_id: str = "fake-model"  # listed by /models
    strict_model: bool = False  # answer 404 model_not_found when a request names another model, as vLLM does
    api_key: str | None = None  # when set, requests without "Authorization: Bearer <api_key>" get 401
    slots: int = 0  # completions generating at once, the rest wait in line (0: no limit)
    reasoning_field: str | None = None  # message field for a leading <think> block (None: left in content)
    context_length: int | None = None  # prompt + max_tokens words allowed (None: no limit)
    # seconds per completion word added to ``latency``: a real server's time grows with the answer's
    # length, and the plugin paces itself per generated token
    token_seconds: float = 0.0
    model_root: str | None = None  # listed as the model's ``root`` in /models, as vLLM gives the weights' path
    model_info: dict[str, Any] | None = None  # served at GET /get_model_info (beside /v1), as SGLang does

    def __post_init__(self) -> None:
        # Checked here so a bad value fails in configure() or at start, not as a confusing reply later.
        if isinstance(self.slots, bool) or not isinstance(self.slots, int) or self.slots < 0:
            raise ValueError(f"ServerConfig: slots must be an integer >= 0 (0: no limit), not {self.slots!r}")
        if self.reasoning_field not in (None, *REASONING_FIELDS):
            raise ValueError(f"ServerConfig: reasoning_field must be None or one of {REASONING_FIELDS}, "
                             f"not {self.reasoning_field!r}")
        if self.context_length is not None and self.context_length < 1:
            raise ValueError(f"ServerConfig: context_length must be positive, not {self.context_length!r}")
        if not self.token_seconds >= 0:
            raise ValueError(f"ServerConfig: token_seconds must be >= 0, not {self.token_seconds!r}")
