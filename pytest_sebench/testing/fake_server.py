"""An OpenAI-compatible chat-completions server for tests and benchmarks: the only test double we use.

The plugin's tests talk to this server with the real ``openai`` SDK over real HTTP, so everything
between the plugin and the model (SDK, retries, timeouts, connection handling) is the real thing. The
server is standard library only and, having no model to load, starts at once::

    from pytest_sebench.testing import FakeServer, ServerConfig, table_responder

    with FakeServer(table_responder({"amin": "```python\\n...\\n```"}), ServerConfig(latency=0.05)) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
        ...
        server.inject("rate_limit", count=2, retry_after=0)   # the next two completions get 429
        server.configure(latency=0.5)                         # takes effect for the next request
        server.set_dead(True)                                 # connections are now refused
        server.set_dead(False)                                # listening again on the same port
        assert server.max_in_flight <= 8

Endpoints (under ``base_url`` = ``http://127.0.0.1:PORT/v1``): ``GET /models`` lists ``model_id``;
``POST /chat/completions`` answers non-streaming requests (``stream: true`` gets 400) with one choice
per ``n``, and usage counted in whitespace-separated words ("tokens" below). The answer text comes
from the responder (see ``fake_answers.py``), called once per choice.

The server is in several modules beside this one, each saying in detail what it covers:

- ``fake_config``: ``ServerConfig``, what a real server would do with the text and the request
  (``max_tokens``, reasoning fields, context length, latency, generation slots);
- ``fake_faults``: the faults ``inject`` can make, and what the SDK raises for each;
- ``fake_accounting``: ``RequestRecord``, the counters, and the optional log file;
- ``fake_requests``: the checks and decisions on each request; ``fake_answers``: the responders and
  the OpenAI JSON; ``fake_slots``: the generation slots; ``fake_http``: the HTTP plumbing;
- ``fake_model_server``: ``FakeServer`` itself.

``set_dead(True)`` closes the listening socket: new connections are refused, which the SDK raises as
``openai.APIConnectionError``. ``set_dead(False)`` listens again on the same port.

This module is also the command line (a separate server process for subprocess tests and benchmarks;
SIGTERM stops it)::

    python -m pytest_sebench.testing.fake_server --port 0 --latency 0.1 --responder table \\
        --answers answers.json --log requests.jsonl --ready-file url.txt \\
        --slots 1 --reasoning-field reasoning_content --context-length 4096
    python -m pytest_sebench.testing.fake_server --port 8000 --responder reference --data fixtures/qel
    # (the second answers each fixture problem with its reference solution: a served model to try)

``--ready-file`` receives the base URL, written atomically once the server listens.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from .fake_accounting import RequestRecord
from .fake_answers import DEFAULT_ANSWER, Responder, echo_responder, probability_responder, table_responder
from .fake_config import REASONING_FIELDS, ServerConfig
from .fake_faults import FAULT_KINDS
from .fake_model_server import FakeServer

__all__ = ["FAULT_KINDS", "FakeServer", "RequestRecord", "ServerConfig", "config_from_args", "main", "parse_args"]


def _read_json(path: str | None, what: str) -> Any:
    if path is None:
        raise SystemExit(f"--responder {what} needs --answers FILE.json")
    return json.loads(Path(path).read_text(encoding="utf-8"))


def reference_table(data: str) -> dict[str, str]:
    """Each problem's signature (unique in its prompt) -> the problem's reference answer in the
    benchmark's own library: a server that "knows" the library, to try the plugin without a GPU."""
    import tempfile

    from ..data.benchmark import load_benchmark
    from ..model.reference import reference_response

    benchmark = load_benchmark(data=data, docs=None, splits=("single_test", "multiple_test", "train"),
                               splits_explicit=False, rollouts=None, cache_dir=Path(tempfile.gettempdir()))
    return {problem.signature: reference_response(problem, benchmark.library) for problem in benchmark.problems}


def build_responder(args: argparse.Namespace) -> Responder:
    if args.responder == "echo":
        return echo_responder(args.text)
    if args.responder == "reference":
        return table_responder(reference_table(args.data), default=args.default)
    if args.responder == "table":  # the file: {"key": "answer" or ["answer", ...], ...}
        return table_responder(_read_json(args.answers, "table"), default=args.default)
    spec = _read_json(args.answers, "probability")  # {"correct": {...}, "wrong": {...}, "p_correct": {...}}
    return probability_responder(spec["correct"], spec["wrong"], spec["p_correct"], seed=args.seed)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pytest_sebench.testing.fake_server",
                                     description="An OpenAI-compatible fake model server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 (default): a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each completion")
    parser.add_argument("--token-seconds", type=float, default=0.0,
                        help="seconds added per word of each completion's answer")
    parser.add_argument("--model-id", default=ServerConfig.model_id)
    parser.add_argument("--api-key", default=None, help="require this bearer token")
    parser.add_argument("--slots", type=int, default=0,
                        help="completions generating at once, the rest queue (default 0: no limit)")
    parser.add_argument("--reasoning-field", choices=REASONING_FIELDS, default=None,
                        help="send a leading <think> block in this message field (default: left in content)")
    parser.add_argument("--context-length", type=int, default=None,
                        help="refuse (400) requests whose prompt + max_tokens words exceed this")
    parser.add_argument("--responder", choices=("echo", "table", "probability", "reference"), default="echo",
                        help="reference: answer each problem of --data with its reference solution")
    parser.add_argument("--data", default="fixtures/qel", help="reference: the benchmark folder")
    parser.add_argument("--text", default=DEFAULT_ANSWER, help="echo: the answer")
    parser.add_argument("--answers", help="table or probability: the JSON file of answers")
    parser.add_argument("--default", default="", help="table: the answer when no key matches")
    parser.add_argument("--seed", type=int, default=0, help="probability: the seed of the draws")
    parser.add_argument("--inject", action="append", default=[], metavar="KIND[:COUNT]",
                        help="fail the first COUNT (default 1) completions with KIND; repeatable")
    parser.add_argument("--log", help="append one JSON line per completion request to this file")
    parser.add_argument("--ready-file", help="write the base URL here once listening")
    return parser.parse_args(argv)


class _Terminate(Exception):
    pass


def _raise_terminate(signum: int, frame: object) -> None:
    raise _Terminate()  # unwinds the main thread's sleep into the cleanup below


def write_atomically(path: Path, text: str) -> None:
    """A reader polling ``path`` sees nothing or the whole text, never half of it."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    return ServerConfig(latency=args.latency, model_id=args.model_id, api_key=args.api_key, slots=args.slots,
                        reasoning_field=args.reasoning_field, context_length=args.context_length,
                        token_seconds=args.token_seconds)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server = FakeServer(build_responder(args), config_from_args(args), host=args.host, port=args.port,
                        log_path=args.log)
    for item in args.inject:
        kind, _, count = item.partition(":")
        server.inject(kind, int(count or 1))
    try:
        signal.signal(signal.SIGTERM, _raise_terminate)
        server.start()
        if args.ready_file:
            write_atomically(Path(args.ready_file), server.base_url)
        print(server.base_url, flush=True)
        while True:
            time.sleep(3600)
    except (_Terminate, KeyboardInterrupt):
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
