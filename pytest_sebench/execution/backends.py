"""Every sandbox backend, by the name ``--sebench-sandbox`` gives (a URL names the remote backend)."""

from __future__ import annotations

from .base import Limits, Sandbox, create
from . import local  # noqa: F401  (registers "local")


def create_backend(choice: str, limits: Limits, *, python: str | None = None) -> Sandbox:
    if choice == "local":
        return create("local", limits, python=python)
    if choice == "docker":
        from . import docker_backend  # noqa: F401  (registers "docker"; the docker SDK only when chosen)
    if choice.startswith(("http://", "https://")):
        from . import url_backend  # noqa: F401  (registers "url")
        return create("url", limits, url=choice)
    return create(choice, limits)
