"""The fake model server, exercised through the real ``openai`` SDK over real HTTP.

These tests pin down both the server's behaviour and what the SDK makes of each fault, which the
plugin's retry logic relies on. No assertion depends on timing; waits only bound how long a broken
setup may hang.
"""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import openai
import pytest

from pytest_sebench.testing import (
    FAULT_KINDS,
    FakeServer,
    Request,
    ServerConfig,
    echo_responder,
    probability_responder,
    table_responder,
)
from pytest_sebench.testing.fake_server import config_from_args, parse_args

REPO = Path(__file__).resolve().parents[1]
ANSWERS = {"zwc.amin": ["first answer", "second answer"], "zwc.amax": "the amax answer"}


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer(table_responder(ANSWERS, default="no idea")) as running:
        yield running


def client_for(server: FakeServer, timeout: float = 30.0) -> openai.OpenAI:
    # max_retries=0: every fault must surface as the SDK reports it, not be retried away.
    return openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0, timeout=timeout)


@pytest.fixture
def client(server: FakeServer) -> Iterator[openai.OpenAI]:
    with client_for(server) as sdk:
        yield sdk


def ask(client: openai.OpenAI, prompt: str, model: str = "fake-model", **options: object):
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}],
                                          **options)


def wait_until(condition: Callable[[], bool], what: str, deadline_seconds: float = 30.0) -> None:
    """Poll until ``condition()``; the deadline only bounds how long a broken server may hang the test."""
    deadline = time.monotonic() + deadline_seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"still waiting for {what} after {deadline_seconds} s")
        time.sleep(0.005)


def request_for(prompt: str, n_seen: int = 0) -> Request:
    messages = [{"role": "user", "content": prompt}]
    return Request(messages=messages, model="m", temperature=None, max_tokens=None, seed=None,
                   n_seen=n_seen, body={"messages": messages})


# ---- normal answers -----------------------------------------------------------------------------------

def test_completion_has_the_responders_text_and_word_count_usage(server: FakeServer, client: openai.OpenAI) -> None:
    completion = ask(client, "Use zwc.amax on this array, please")

    assert completion.choices[0].message.content == "the amax answer"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "fake-model"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (6, 3)
    assert completion.usage.total_tokens == 9
    assert (server.completion_attempts, server.completions_served) == (1, 1)
    [record] = server.requests
    assert (record.path, record.prompt, record.model, record.status, record.fault) == (
        "/v1/chat/completions", "Use zwc.amax on this array, please", "fake-model", 200, None)


def test_models_lists_the_model_id_which_can_change_while_running(server: FakeServer,
                                                                   client: openai.OpenAI) -> None:
    assert [model.id for model in client.models.list()] == ["fake-model"]

    server.configure(model_id="served-checkpoint")
    [model] = client.models.list().data

    assert (model.id, model.object, model.owned_by, model.created) == ("served-checkpoint", "model", "fake", 0)


def test_table_responder_walks_a_list_by_n_seen_and_falls_back_to_default(client: openai.OpenAI) -> None:
    answers = [ask(client, "solve with zwc.amin").choices[0].message.content for _ in range(3)]
    other_prompt = ask(client, "another zwc.amin problem").choices[0].message.content

    assert answers == ["first answer", "second answer", "first answer"]
    assert other_prompt == "first answer"  # n_seen counts per exact prompt
    assert ask(client, "nothing known here").choices[0].message.content == "no idea"


def test_table_responder_takes_the_first_key_found_in_the_last_user_message() -> None:
    respond = table_responder({"alpha": "A", "beta": "B"})
    conversation = [{"role": "user", "content": "alpha"}, {"role": "assistant", "content": "A"},
                    {"role": "user", "content": [{"type": "text", "text": "now beta, then alpha"}]}]

    assert respond(request_for("beta and alpha")) == "A"  # dictionary order, not position in the prompt
    assert respond(Request(messages=conversation, model="m", temperature=None, max_tokens=None, seed=None,
                           n_seen=0, body={})) == "A"
    assert table_responder({"beta": "B", "alpha": "A"})(request_for("beta and alpha")) == "B"
    assert respond(request_for("gamma")) == ""


def test_n_choices_are_consecutive_samples(client: openai.OpenAI) -> None:
    completion = ask(client, "zwc.amin", n=3)

    assert [choice.message.content for choice in completion.choices] == [
        "first answer", "second answer", "first answer"]
    assert ask(client, "zwc.amin").choices[0].message.content == "second answer"


def test_echo_responder_answers_its_text_to_anything() -> None:
    with FakeServer(echo_responder("```python\ndef f():\n    return 1\n```")) as server, \
            client_for(server) as client:
        assert ask(client, "anything").choices[0].message.content == "```python\ndef f():\n    return 1\n```"


# ---- request checks ---------------------------------------------------------------------------------

def test_streaming_is_refused_with_an_openai_error(server: FakeServer, client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="does not stream"):
        ask(client, "zwc.amin", stream=True)
    assert server.completions_served == 0


def test_api_key_and_model_name_are_checked_when_configured(server: FakeServer, client: openai.OpenAI) -> None:
    server.configure(api_key="secret", strict_model=True)

    with pytest.raises(openai.AuthenticationError):
        ask(client, "zwc.amin")
    with openai.OpenAI(base_url=server.base_url, api_key="secret", max_retries=0) as keyed:
        with pytest.raises(openai.NotFoundError, match="other-model"):
            ask(keyed, "zwc.amin", model="other-model")
        assert ask(keyed, "zwc.amin").choices[0].message.content == "first answer"


def test_a_failing_responder_becomes_a_500_that_names_the_error() -> None:
    def broken(request: Request) -> str:
        raise RuntimeError("the test's responder broke")

    with FakeServer(broken) as server, client_for(server) as client:
        with pytest.raises(openai.InternalServerError, match="the test's responder broke"):
            ask(client, "x")
        server.set_responder(echo_responder)  # type: ignore[arg-type]  # the factory, not a responder
        with pytest.raises(openai.InternalServerError, match="not str"):
            ask(client, "x")
        assert [record.fault for record in server.requests] == ["responder_error", "responder_error"]


def test_unknown_faults_options_and_settings_are_refused(server: FakeServer) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        server.inject("slow")
    with pytest.raises(TypeError, match="retry_after"):
        server.inject("rate_limit", status=500)
    with pytest.raises(ValueError, match="count"):
        server.inject("empty", count=0)
    with pytest.raises(TypeError, match="latency"):
        server.configure(latnecy=1.0)
    assert server.faults_pending == 0


# ---- faults, as the SDK surfaces them ---------------------------------------------------------------

def test_rate_limit_raises_rate_limit_error_with_retry_after(server: FakeServer, client: openai.OpenAI) -> None:
    server.inject("rate_limit")
    server.inject("rate_limit", retry_after=2.5)

    with pytest.raises(openai.RateLimitError) as default_wait:
        ask(client, "zwc.amin")
    with pytest.raises(openai.RateLimitError) as given_wait:
        ask(client, "zwc.amin")

    assert default_wait.value.status_code == 429
    assert default_wait.value.response.headers["retry-after"] == "1"
    assert given_wait.value.response.headers["retry-after"] == "2.5"
    assert default_wait.value.code == "rate_limit_exceeded"


@pytest.mark.parametrize("status", [500, 503])
def test_server_error_raises_internal_server_error(server: FakeServer, client: openai.OpenAI, status: int) -> None:
    server.inject("server_error", status=status)

    with pytest.raises(openai.InternalServerError) as raised:
        ask(client, "zwc.amin")

    assert raised.value.status_code == status


def test_timeout_raises_api_timeout_error(server: FakeServer) -> None:
    server.inject("timeout", seconds=60)  # closing the server wakes the handler long before that

    with client_for(server, timeout=0.3) as impatient, pytest.raises(openai.APITimeoutError):
        ask(impatient, "zwc.amin")

    [record] = server.requests
    assert (record.status, record.fault) == (504, "timeout")
    assert server.completions_served == 0


def test_disconnect_raises_api_connection_error(server: FakeServer, client: openai.OpenAI) -> None:
    server.inject("disconnect")

    with pytest.raises(openai.APIConnectionError) as raised:
        ask(client, "zwc.amin")

    assert not isinstance(raised.value, openai.APITimeoutError)
    assert [(record.status, record.fault) for record in server.requests] == [(None, "disconnect")]


def test_dead_server_refuses_connections_until_revived_on_the_same_port(server: FakeServer,
                                                                        client: openai.OpenAI) -> None:
    base_url = server.base_url
    server.set_dead(True)

    assert server.dead
    with pytest.raises(openai.APIConnectionError):
        ask(client, "zwc.amin")
    assert server.completion_attempts == 0  # refused before reaching the server

    server.set_dead(False)
    assert server.base_url == base_url
    assert ask(client, "zwc.amin").choices[0].message.content == "first answer"


def test_malformed_json_raises_a_json_decode_error_not_an_openai_error(server: FakeServer,
                                                                       client: openai.OpenAI) -> None:
    server.inject("malformed")

    with pytest.raises(json.JSONDecodeError) as raised:
        ask(client, "zwc.amin")

    assert not isinstance(raised.value, openai.OpenAIError)  # the plugin must catch it separately


def test_bad_shape_returns_a_completion_whose_choices_is_none(server: FakeServer, client: openai.OpenAI) -> None:
    server.inject("bad_shape")

    completion = ask(client, "zwc.amin")

    assert completion.choices is None
    assert completion.id.startswith("chatcmpl-fake")


def test_empty_returns_empty_content(server: FakeServer, client: openai.OpenAI) -> None:
    server.inject("empty")

    completion = ask(client, "zwc.amin")

    assert completion.choices[0].message.content == ""
    assert completion.usage.completion_tokens == 0
    assert server.completions_served == 1


def test_faults_apply_in_order_and_leave_the_responders_samples_alone(server: FakeServer,
                                                                      client: openai.OpenAI) -> None:
    server.inject("rate_limit", count=2, retry_after=0)
    server.inject("server_error")
    assert server.faults_pending == 3

    raised = []
    for _ in range(3):
        with pytest.raises(openai.APIStatusError) as error:
            ask(client, "zwc.amin")
        raised.append(type(error.value))

    assert raised == [openai.RateLimitError, openai.RateLimitError, openai.InternalServerError]
    assert server.faults_pending == 0
    assert ask(client, "zwc.amin").choices[0].message.content == "first answer"  # sample 0, as if no fault
    assert (server.completion_attempts, server.completions_served) == (4, 1)


def test_every_fault_kind_is_tested_here() -> None:
    tested = {"rate_limit", "server_error", "timeout", "disconnect", "malformed", "bad_shape", "empty"}
    assert set(FAULT_KINDS) == tested


# ---- concurrency accounting ---------------------------------------------------------------------------

def test_concurrent_requests_are_served_at_once_and_counted(server: FakeServer, client: openai.OpenAI) -> None:
    server.configure(latency=0.3)
    threads_count = 16
    start_together = threading.Barrier(threads_count)
    contents: list[str] = []

    def one_request() -> None:
        start_together.wait()
        contents.append(ask(client, "zwc.amax").choices[0].message.content)

    threads = [threading.Thread(target=one_request) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert contents == ["the amax answer"] * threads_count
    assert server.max_in_flight == threads_count
    assert server.in_flight == 0
    assert (server.completion_attempts, server.completions_served) == (threads_count, threads_count)

    server.reset_accounting()
    assert (server.max_in_flight, server.completion_attempts, server.requests) == (0, 0, [])



# ---- generation slots -----------------------------------------------------------------------------------

def prompt_echo(request: Request) -> str:
    return f"answer to {request.prompt}"


@pytest.fixture
def serial_server() -> Iterator[FakeServer]:
    """One slot, like llama.cpp's server; answers name their prompt so their order can be checked."""
    with FakeServer(prompt_echo, ServerConfig(slots=1, latency=0.2)) as running:
        yield running


def in_background(target: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def test_one_slot_answers_concurrent_requests_one_at_a_time_in_arrival_order(serial_server: FakeServer) -> None:
    latency, count = serial_server.config.latency, 3
    start_together = threading.Barrier(count)
    answered: list[str] = []  # in the order the answers came back
    answered_lock = threading.Lock()

    def one_request(index: int) -> None:
        with client_for(serial_server) as client:
            start_together.wait()
            content = ask(client, f"request {index}").choices[0].message.content
        with answered_lock:
            answered.append(content)

    threads = [in_background(lambda index=index: one_request(index)) for index in range(count)]
    for thread in threads:
        thread.join()

    arrival_order = [f"answer to {record.prompt}" for record in serial_server.requests]
    assert answered == arrival_order  # first come, first served
    assert sorted(answered) == [f"answer to request {index}" for index in range(count)]
    assert serial_server.max_generating == 1
    assert (serial_server.generating, serial_server.waiting, serial_server.in_flight) == (0, 0, 0)
    # Each holds the one slot for at least its latency, one after the other (1 ms: float rounding).
    assert serial_server.busy_seconds >= count * latency - 1e-3
    assert all(record.generating >= latency - 1e-3 for record in serial_server.requests)
    assert all(record.queued is not None and record.queued >= 0 for record in serial_server.requests)


def test_an_abandoned_request_still_holds_its_slot_for_its_whole_latency(serial_server: FakeServer) -> None:
    latency = serial_server.config.latency
    with client_for(serial_server) as patient, client_for(serial_server, timeout=0.05) as impatient:
        first = in_background(lambda: ask(patient, "first"))
        wait_until(lambda: len(serial_server.requests) == 1, "the first request to arrive")
        with pytest.raises(openai.APITimeoutError):
            ask(impatient, "abandoned")  # queued behind "first" (or generating): either way it gives up
        last = ask(patient, "last").choices[0].message.content
        first.join()
    wait_until(lambda: serial_server.in_flight == 0, "every request to finish")

    assert last == "answer to last"
    records = {record.prompt: record for record in serial_server.requests}
    assert list(records) == ["first", "abandoned", "last"]
    assert records["abandoned"].status == 200  # the server never noticed its client left
    assert records["abandoned"].generating >= latency - 1e-3
    assert serial_server.busy_seconds >= 3 * latency - 1e-3  # the abandoned one's latency counts too
    assert serial_server.max_generating == 1
    assert serial_server.completions_served == 3


def test_a_timeout_fault_holds_its_slot_and_requests_behind_it_wait(serial_server: FakeServer) -> None:
    serial_server.inject("timeout", seconds=60)  # closing the server ends the hold long before that

    with client_for(serial_server, timeout=0.3) as impatient:
        with pytest.raises(openai.APITimeoutError):
            ask(impatient, "held")
        with pytest.raises(openai.APITimeoutError):
            ask(impatient, "behind the hold")

    assert (serial_server.generating, serial_server.waiting, serial_server.in_flight) == (1, 1, 2)
    assert serial_server.max_in_flight == 2 and serial_server.max_generating == 1
    held, behind = serial_server.requests
    assert (held.fault, held.status, behind.fault, behind.status) == ("timeout", 504, None, 200)
    assert (held.queued, behind.queued) == (None, None)  # neither has left its slot (or the line) yet


def test_slots_change_at_run_time_and_bound_how_many_generate_at_once(serial_server: FakeServer) -> None:
    serial_server.configure(slots=2)
    latency, count = serial_server.config.latency, 4
    start_together = threading.Barrier(count)

    def one_request() -> None:
        with client_for(serial_server) as client:
            start_together.wait()
            ask(client, "together")

    for thread in [in_background(one_request) for _ in range(count)]:
        thread.join()

    assert serial_server.max_generating <= 2
    # Four holds of at least the latency, two at a time at most: the server was busy at least twice that.
    assert serial_server.busy_seconds >= count * latency / 2 - 1e-3
    assert serial_server.completions_served == count

    serial_server.reset_accounting()
    assert (serial_server.max_generating, serial_server.busy_seconds, serial_server.max_in_flight) == (0, 0.0, 0)
    with pytest.raises(ValueError, match="slots"):
        serial_server.configure(slots=-1)
    assert serial_server.config.slots == 2


def test_without_a_slot_limit_generation_is_still_accounted(server: FakeServer, client: openai.OpenAI) -> None:
    server.configure(latency=0.1)

    ask(client, "zwc.amin")
    ask(client, "zwc.amin")

    assert server.config.slots == 0
    assert server.max_generating == 1  # one after the other
    assert server.busy_seconds >= 2 * 0.1 - 1e-3
    assert all(record.queued is not None and record.generating is not None for record in server.requests)


def test_refused_requests_take_no_slot(serial_server: FakeServer) -> None:
    with client_for(serial_server) as client, pytest.raises(openai.BadRequestError):
        ask(client, "x", stream=True)

    [record] = serial_server.requests
    assert (record.status, record.queued, record.generating) == (400, 0.0, 0.0)
    assert (serial_server.max_generating, serial_server.busy_seconds) == (0, 0.0)


# ---- max_tokens ------------------------------------------------------------------------------------------

CODE_ANSWER = "```python\ndef f():\n    return 1\n```"  # words: ```python, def, f():, return, 1, ```


@pytest.fixture
def code_server() -> Iterator[FakeServer]:
    with FakeServer(echo_responder(CODE_ANSWER)) as running:
        yield running


@pytest.mark.parametrize(("limit", "content", "finish_reason", "tokens"), [
    (4, "```python\ndef f():\n    return", "length", 4),
    (5, "```python\ndef f():\n    return 1", "length", 5),
    (6, CODE_ANSWER, "stop", 6),
    (1000, CODE_ANSWER, "stop", 6),
])
def test_max_tokens_cuts_the_answer_after_that_many_words(code_server: FakeServer, limit: int, content: str,
                                                          finish_reason: str, tokens: int) -> None:
    with client_for(code_server) as client:
        by_old_name = ask(client, "q", max_tokens=limit)
        by_new_name = ask(client, "q", max_completion_tokens=limit)

    for completion in (by_old_name, by_new_name):
        assert completion.choices[0].message.content == content
        assert completion.choices[0].finish_reason == finish_reason
        assert completion.usage.completion_tokens == tokens


def test_max_tokens_applies_to_each_choice_and_must_be_positive(code_server: FakeServer) -> None:
    with client_for(code_server) as client:
        completion = ask(client, "q", max_tokens=2, n=2)
        with pytest.raises(openai.BadRequestError, match="max_tokens"):
            ask(client, "q", max_tokens=0)

    assert [choice.message.content for choice in completion.choices] == ["```python\ndef"] * 2
    assert [choice.finish_reason for choice in completion.choices] == ["length", "length"]
    assert completion.usage.completion_tokens == 4
    assert code_server.completions_served == 1


# ---- reasoning -------------------------------------------------------------------------------------------

THINKING_ANSWER = "<think>\nthe user wants one\n</think>\n\nreturn 1"  # 8 words, 4 of them reasoning


@pytest.fixture
def thinking_server() -> Iterator[FakeServer]:
    with FakeServer(echo_responder(THINKING_ANSWER)) as running:
        yield running


def test_without_a_reasoning_field_the_think_block_stays_in_content(thinking_server: FakeServer) -> None:
    with client_for(thinking_server) as client:
        completion = ask(client, "q")

    message = completion.choices[0].message
    assert message.content == THINKING_ANSWER
    assert message.model_extra == {}  # neither reasoning_content nor reasoning
    assert completion.usage.completion_tokens == 8
    assert completion.usage.completion_tokens_details is None


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_a_reasoning_field_takes_the_think_block_out_of_content(thinking_server: FakeServer, field: str) -> None:
    thinking_server.configure(reasoning_field=field)
    with client_for(thinking_server) as client:
        completion = ask(client, "q")

    message = completion.choices[0].message
    assert message.content == "\n\nreturn 1"  # unstripped, as vLLM's parsers leave it
    # Not a declared field of the SDK's ChatCompletionMessage: a pydantic extra, readable as an attribute.
    assert getattr(message, field) == "\nthe user wants one\n"
    assert message.model_extra == {field: "\nthe user wants one\n"}
    assert completion.usage.completion_tokens_details.reasoning_tokens == 4
    assert completion.usage.completion_tokens == 8  # the reasoning (and its tags) included
    assert completion.choices[0].finish_reason == "stop"


def test_reasoning_field_edge_cases_no_block_and_a_block_cut_off(thinking_server: FakeServer) -> None:
    thinking_server.configure(reasoning_field="reasoning_content")
    with client_for(thinking_server) as client:
        cut_inside = ask(client, "q", max_tokens=3)
        thinking_server.set_responder(echo_responder("return 1"))
        no_block = ask(client, "q")
        thinking_server.inject("empty")
        empty = ask(client, "q")

    message = cut_inside.choices[0].message
    assert (message.content, message.reasoning_content) == (None, "\nthe user")
    assert cut_inside.choices[0].finish_reason == "length"
    assert (cut_inside.usage.completion_tokens, cut_inside.usage.completion_tokens_details.reasoning_tokens) == (3, 2)
    assert (no_block.choices[0].message.content, no_block.choices[0].message.reasoning_content) == ("return 1", None)
    assert no_block.usage.completion_tokens_details.reasoning_tokens == 0
    assert (empty.choices[0].message.content, empty.choices[0].message.reasoning_content) == ("", None)
    with pytest.raises(ValueError, match="reasoning_field"):
        thinking_server.configure(reasoning_field="thoughts")


# ---- context length --------------------------------------------------------------------------------------

def test_a_request_over_the_context_length_gets_vllms_400(server: FakeServer, client: openai.OpenAI) -> None:
    server.configure(context_length=50)
    server.inject("rate_limit")  # refused before faults: the refusal is the same every time

    with pytest.raises(openai.BadRequestError) as raised:
        ask(client, "solve zwc.amin in three words", max_tokens=46)  # 5 + 46 words

    error = raised.value
    expected = ("This model's maximum context length is 50 tokens. However, you requested 51 tokens "
                "(5 in the messages, 46 in the completion). Please reduce the length of the messages or completion.")
    assert error.message == f"Error code: 400 - {expected}"
    assert error.body == {"object": "error", "message": expected, "type": "BadRequestError", "param": None,
                          "code": 400}
    assert (error.status_code, error.code, error.type) == (400, "400", "BadRequestError")
    assert server.faults_pending == 1
    assert (server.completion_attempts, server.completions_served) == (1, 0)
    [record] = server.requests
    assert (record.status, record.fault) == (400, None)

    server.clear_faults()
    fits = ask(client, "solve zwc.amin in three words", max_tokens=45)
    assert fits.choices[0].message.content == "first answer"  # the refusal took no sample


def test_without_max_tokens_only_the_context_left_limits_the_answer(server: FakeServer,
                                                                    client: openai.OpenAI) -> None:
    prompt = "zwc.amax: a question of five"  # 5 words
    server.configure(context_length=7)
    shortened = ask(client, prompt)  # 2 words left for "the amax answer"
    server.configure(context_length=5)
    with pytest.raises(openai.BadRequestError) as raised:
        ask(client, prompt)  # no room left for a single word

    assert (shortened.choices[0].message.content, shortened.choices[0].finish_reason) == ("the amax", "length")
    assert raised.value.message == ("Error code: 400 - This model's maximum context length is 5 tokens. However, "
                                    "you requested 5 tokens in the messages, Please reduce the length of the messages.")


# ---- probability_responder ----------------------------------------------------------------------------

def draws(respond, prompt: str, count: int) -> list[str]:
    return [respond(request_for(prompt, n_seen)) for n_seen in range(count)]


def make_probability_responder(seed: int):
    return probability_responder(correct={"item-a": "right a", "item-b": "right b"},
                                 wrong={"item-a": "wrong a", "item-b": "wrong b"},
                                 p_correct={"item-a": 0.3, "item-b": 0.9}, seed=seed)


def test_probability_responder_is_deterministic_and_depends_on_the_seed() -> None:
    first, again, other = (make_probability_responder(seed) for seed in (7, 7, 8))

    assert draws(first, "item-a", 200) == draws(again, "item-a", 200)
    assert draws(first, "item-a", 200) != draws(other, "item-a", 200)


@pytest.mark.parametrize(("prompt", "p"), [("solve item-a", 0.3), ("solve item-b", 0.9)])
def test_probability_responder_rate_is_near_p_correct(prompt: str, p: float) -> None:
    samples = 2000
    answers = draws(make_probability_responder(seed=2024), prompt, samples)
    rate = sum(answer.startswith("right") for answer in answers) / samples

    standard_error = math.sqrt(p * (1 - p) / samples)
    assert abs(rate - p) < 4 * standard_error, f"rate {rate:.3f} for p={p}"
    assert set(answers) == {"right " + prompt[-1], "wrong " + prompt[-1]}


def test_probability_responder_through_the_server_gives_the_same_sequence() -> None:
    respond = make_probability_responder(seed=3)
    with FakeServer(respond) as server, client_for(server) as client:
        served = [ask(client, "item-a").choices[0].message.content for _ in range(20)]

    assert served == draws(make_probability_responder(seed=3), "item-a", 20)


def test_probability_responder_refuses_mismatched_tables_and_unknown_prompts() -> None:
    with pytest.raises(ValueError, match="same keys"):
        probability_responder({"a": "x"}, {"b": "y"}, {"a": 0.5}, seed=0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        probability_responder({"a": "x"}, {"a": "y"}, {"a": 1.5}, seed=0)
    with pytest.raises(LookupError, match="no key"):
        make_probability_responder(seed=0)(request_for("item-c"))


# ---- command line -------------------------------------------------------------------------------------

def wait_for_file(path: Path, process: subprocess.Popen, deadline_seconds: float = 30.0) -> str:
    """The ready file's text once written; fails (instead of hanging) if the server dies or never starts."""
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if path.exists():
            return path.read_text(encoding="utf-8")
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}: {process.stderr.read()}")
        time.sleep(0.02)
    pytest.fail(f"the server wrote no ready file within {deadline_seconds} s")


def test_command_line_server_answers_logs_and_stops_on_sigterm(tmp_path: Path) -> None:
    answers, log, ready = tmp_path / "answers.json", tmp_path / "requests.jsonl", tmp_path / "url.txt"
    answers.write_text(json.dumps(ANSWERS), encoding="utf-8")
    command = [sys.executable, "-m", "pytest_sebench.testing.fake_server", "--port", "0", "--latency", "0.05",
               "--responder", "table", "--answers", str(answers), "--log", str(log), "--ready-file", str(ready),
               "--inject", "server_error:1"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base_url = wait_for_file(ready, process)
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        with openai.OpenAI(base_url=base_url, api_key="test", max_retries=0) as client:
            with pytest.raises(openai.InternalServerError):
                ask(client, "zwc.amax")
            assert ask(client, "zwc.amax").choices[0].message.content == "the amax answer"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert process.stderr.read() == ""  # no traceback, and no runpy warning about a double import
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert [(line["prompt"], line["status"], line["fault"]) for line in lines] == [
        ("zwc.amax", 500, "server_error"), ("zwc.amax", 200, None)]
    assert all(line["path"] == "/v1/chat/completions" for line in lines)
    assert all(line["queued"] is None and line["generating"] is None for line in lines)  # logged on arrival


def test_command_line_flags_set_slots_reasoning_field_and_context_length() -> None:
    config = config_from_args(parse_args(["--slots", "1", "--reasoning-field", "reasoning",
                                          "--context-length", "4096", "--latency", "0.5"]))

    assert (config.slots, config.reasoning_field, config.context_length, config.latency) == (1, "reasoning", 4096, 0.5)
    assert config_from_args(parse_args([])) == ServerConfig()
    with pytest.raises(SystemExit):
        parse_args(["--reasoning-field", "thoughts"])



def test_the_reference_responder_answers_each_fixture_problem_with_its_solution(tmp_path):
    """The README's way to try a served model without a GPU, run as the README says."""
    from conftest import FIXTURE_DATA

    ready = tmp_path / "url.txt"
    server = subprocess.Popen([sys.executable, "-m", "pytest_sebench.testing.fake_server", "--port", "0",
                               "--responder", "reference", "--data", str(FIXTURE_DATA), "--ready-file", str(ready)],
                              stdout=subprocess.DEVNULL)
    try:
        for _ in range(600):
            if ready.exists() or server.poll() is not None:
                break
            time.sleep(0.05)
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--sebench-model=demo",
                              f"--sebench-base-url={ready.read_text().strip()}", f"--sebench-data={FIXTURE_DATA}",
                              "--sebench-cache=off"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert run.returncode == 0, run.stdout[-2000:]
    assert "49 passed" in run.stdout
