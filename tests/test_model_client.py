"""The real openai SDK against our fake server: every fault class, the dead-server stop, the broker."""

from __future__ import annotations

import asyncio
import gc
import uuid
import warnings

import pytest

from pytest_sebench.model.broker import FATAL_KEY, AnswerBroker, AnswerRequest
from pytest_sebench.model.cache import AnswerCache, answer_key
from pytest_sebench.model.client import ChatClient, Counters, RequestFailed, Sampling, ServerUnusable
from pytest_sebench.model.pacing import Window
from pytest_sebench.model.served import ServedModel, ServerSettings
from pytest_sebench.prompt.templates import PromptBuilder
from pytest_sebench.testing import FakeServer, ServerConfig, echo_responder, table_responder


def client_for(*urls: str, retries: int = 3, timeout: float = 5.0, counters: Counters | None = None,
               model: str = "fake-model", window: Window | None = None,
               sampling: Sampling = Sampling()) -> ChatClient:
    return ChatClient(base_urls=urls, api_key="secret-key", model=model, sampling=sampling,
                      timeout=timeout, retries=retries, backoff=0.01, counters=counters, window=window)


def complete(client: ChatClient, prompt: str = "hello"):
    return asyncio.run(client.complete(prompt))


@pytest.fixture
def server():
    with FakeServer(echo_responder("the answer")) as running:
        yield running


@pytest.mark.parametrize("fault", ["rate_limit", "server_error", "timeout", "disconnect", "malformed",
                                   "bad_shape"])
def test_each_fault_is_retried_then_answered(server, fault):
    options = {"retry_after": 0} if fault == "rate_limit" else {"seconds": 3} if fault == "timeout" else {}
    server.inject(fault, count=2, **options)
    counters = Counters()
    completion = complete(client_for(server.base_url, timeout=1.0, counters=counters))
    assert completion.text == "the answer"
    assert completion.attempts == 3
    assert counters.retried == 2
    assert server.completion_attempts == 3


def test_retry_after_is_honoured(server):
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    server.inject("rate_limit", count=1, retry_after=7)
    client = ChatClient(base_urls=(server.base_url,), api_key=None, model="m", sampling=Sampling(),
                        timeout=5, retries=2, backoff=0.01, sleep=record)
    assert asyncio.run(client.complete("x")).text == "the answer"
    assert waits == [7.0]


def test_empty_completion_is_an_answer_not_a_retry(server):
    server.inject("empty")
    completion = complete(client_for(server.base_url))
    assert completion.text == "" and completion.attempts == 1


def test_retries_are_bounded(server):
    server.inject("server_error", count=10)
    with pytest.raises(RequestFailed, match="gave up after 3 attempts: server error \\(500\\)"):
        complete(client_for(server.base_url, retries=2))
    assert server.completion_attempts == 3


def test_client_error_is_final(server):
    server.configure(strict_model=True)
    with pytest.raises(ServerUnusable, match="404"):
        complete(client_for(server.base_url, model="no-such-model"))
    assert server.completion_attempts == 1


def test_dead_server_is_unusable_not_a_plain_failure(server):
    server.set_dead(True)
    with pytest.raises(ServerUnusable, match="cannot reach the model server"):
        complete(client_for(server.base_url, retries=1))


def test_usage_and_endpoint_recorded(server):
    completion = complete(client_for(server.base_url))
    assert completion.prompt_tokens == 1 and completion.completion_tokens == 2
    assert completion.endpoint == f"127.0.0.1:{server.port}"
    assert "secret-key" not in repr(completion.to_json())


def test_several_endpoints_share_the_load():
    with FakeServer(echo_responder("a")) as first, FakeServer(echo_responder("b")) as second:
        client = client_for(first.base_url, second.base_url)
        texts = [complete(client).text for _ in range(4)]
    assert sorted(texts) == ["a", "a", "b", "b"]


def test_served_weights(server):
    weights = asyncio.run(client_for(server.base_url).served_weights())
    assert weights.model_id == "fake-model" and weights.identity("fake-model") == {}  # the name says nothing
    server.configure(model_root="/ckpts/run-8/step-1200")  # vLLM
    assert asyncio.run(client_for(server.base_url).served_weights()).identity("fake-model") == {
        "root": "/ckpts/run-8/step-1200"}
    server.configure(model_root=None, model_info={"model_path": "/ckpts/run-8", "weight_version": "1200"})
    assert asyncio.run(client_for(server.base_url).served_weights()).identity("fake-model") == {
        "model_path": "/ckpts/run-8", "weight_version": "1200"}  # SGLang
    server.configure(model_info=None, model_id="/models/gemma.gguf")  # llama.cpp: the id is the file
    assert asyncio.run(client_for(server.base_url).served_weights()).identity("gemma") == {
        "model_id": "/models/gemma.gguf"}
    server.set_dead(True)
    with pytest.raises(ServerUnusable):
        asyncio.run(client_for(server.base_url).served_weights())


# -- the broker: concurrency, no duplicates, shared cache -------------------------------------------

def requests_for(count: int) -> list[AnswerRequest]:
    return [AnswerRequest(answer_key({"prompt": f"problem {i};"}), f"problem {i};", f"p{i}")
            for i in range(count)]


def make_broker(server, tmp_path, concurrency: int, run: str | None = None) -> AnswerBroker:
    cache = AnswerCache(tmp_path / "cache", run or uuid.uuid4().hex)
    return AnswerBroker(lambda window: client_for(server.base_url, window=window), cache, concurrency)


def test_broker_opens_its_window_to_c_against_a_parallel_server_and_asks_each_once(tmp_path):
    answers = {f"problem {i};": f"answer {i}" for i in range(40)}
    with FakeServer(table_responder(answers), ServerConfig(latency=0.3)) as server:
        broker = make_broker(server, tmp_path, concurrency=8)
        requests = requests_for(40)
        broker.start(requests)
        texts = [broker.get(request).completion.text for request in requests]
        broker.close()
        assert texts == [f"answer {i}" for i in range(40)]
        assert server.completion_attempts == 40
        # as fast with 8 in flight as with 1: the window grows to C (and never past it)
        assert 6 <= server.max_in_flight <= 8
        assert broker.counters.peak == server.max_in_flight


def test_second_run_reads_the_cache(tmp_path):
    with FakeServer(echo_responder("x")) as server:
        first = make_broker(server, tmp_path, concurrency=4)
        first.start(requests_for(5))
        assert all(not first.get(r).reused for r in requests_for(5))
        first.close()
        second = make_broker(server, tmp_path, concurrency=4)
        second.start(requests_for(5))
        assert all(second.get(r).reused for r in requests_for(5))
        second.close()
        assert server.completion_attempts == 5


def test_dead_server_fails_every_waiting_item_quickly(tmp_path):
    with FakeServer(echo_responder("x")) as server:
        server.set_dead(True)
        broker = make_broker(server, tmp_path, concurrency=2)
        requests = requests_for(6)
        broker.start(requests)
        for request in requests:
            with pytest.raises(ServerUnusable, match="cannot reach"):
                broker.get(request)
        broker.close()


def test_a_failed_request_fails_only_its_item(tmp_path):
    def respond(request) -> str:
        if "problem 0;" in request.prompt:
            raise RuntimeError("this prompt always fails")  # the fake server answers 500
        return "one"

    with FakeServer(respond) as server:
        broker = make_broker(server, tmp_path, concurrency=1)
        requests = requests_for(2)
        broker.start(requests)
        with pytest.raises(RequestFailed, match="p0: gave up"):
            broker.get(requests[0])
        assert broker.get(requests[1]).completion.text == "one"
        broker.close()


# -- a broker that never starts (xdist controller, --collect-only, a server found unusable) ---------

def resource_warnings(action) -> list[str]:
    """The ResourceWarnings raised while ``action()`` runs and what it made is collected."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        action()
        gc.collect()
    return [str(warning.message) for warning in caught if issubclass(warning.category, ResourceWarning)]


def test_a_broker_that_never_started_closes_its_event_loop(tmp_path):
    def make_and_close() -> None:
        broker = AnswerBroker(lambda window: client_for("http://127.0.0.1:9", window=window),
                              AnswerCache(tmp_path, "run"), concurrency=2)
        broker.close()

    assert resource_warnings(make_and_close) == []


def test_a_server_found_unusable_fails_every_item_and_leaves_nothing_open(tmp_path, library, balance):
    with FakeServer(echo_responder("x")) as server:
        server.set_dead(True)
        settings = ServerSettings(model="m", base_urls=(server.base_url,), api_key=None, revision=None,
                                  sampling=Sampling(), samples=1, concurrency=2, request_timeout=5,
                                  retries=0, backoff=0.0)

        def prepare_and_close() -> None:
            model = ServedModel(settings, library, PromptBuilder.create("open", None),
                                AnswerCache(tmp_path, "run"))
            model.prepare([balance])  # asks which weights are served: the server is dead
            with pytest.raises(ServerUnusable, match="cannot reach"):
                model.respond(balance)
            assert "cannot reach" in (model.stop_cause() or "")
            # every process of the run sees it, through the shared cache
            assert "cannot reach" in (AnswerCache(tmp_path, "run").failure(FATAL_KEY) or "")
            model.close()

        assert resource_warnings(prepare_and_close) == []
