"""Test doubles for the plugin's own tests and benchmarks: an OpenAI-compatible fake model server.

Standard library only, so importing this never pulls in ``openai``; see ``fake_server`` for usage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .fake_answers import (
    DEFAULT_ANSWER,
    Request,
    Responder,
    echo_responder,
    probability_responder,
    table_responder,
    uniform_draw,
)

if TYPE_CHECKING:
    from .fake_server import FAULT_KINDS, FakeServer, RequestRecord, ServerConfig

# The server's names load on first use: importing fake_server here would make
# `python -m pytest_sebench.testing.fake_server` run a second copy of the module (runpy warns about it).
_FROM_FAKE_SERVER = {"FAULT_KINDS", "FakeServer", "RequestRecord", "ServerConfig"}


def __getattr__(name: str) -> Any:
    if name in _FROM_FAKE_SERVER:
        from . import fake_server

        return getattr(fake_server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_ANSWER",
    "FAULT_KINDS",
    "FakeServer",
    "Request",
    "RequestRecord",
    "Responder",
    "ServerConfig",
    "echo_responder",
    "probability_responder",
    "table_responder",
    "uniform_draw",
]
