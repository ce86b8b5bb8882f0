"""Test doubles for the plugin's own tests and benchmarks: an OpenAI-compatible fake model server.

Standard library only, so importing this never pulls in ``openai``; see ``fake_server`` for usage.
"""

from __future__ import annotations

from .fake_accounting import RequestRecord
from .fake_answers import (
    DEFAULT_ANSWER,
    Request,
    Responder,
    echo_responder,
    probability_responder,
    table_responder,
    uniform_draw,
)
from .fake_config import ServerConfig
from .fake_faults import FAULT_KINDS
from .fake_model_server import FakeServer

# Nothing here imports fake_server (the command line): `python -m pytest_sebench.testing.fake_server`
# would otherwise find the module already imported and run a second copy of it (runpy warns about it).

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
