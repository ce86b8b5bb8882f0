"""Choose the answer source the settings ask for: reference model, rollout file, or a served model."""

from __future__ import annotations

from pathlib import Path

from ..data.library import Library
from ..prompt.templates import PromptBuilder
from ..settings import REFERENCE_MODEL, Settings
from .answers import AnswerSource, ReferenceModel, RolloutAnswers
from .cache import AnswerCache
from .client import Sampling
from .scratch import run_scratch
from .served import ServedModel, ServerSettings


def answer_cache_root(settings: Settings, default_root: Path, run_id: str) -> Path:
    """Where answers are kept: the user's folder, pytest's cache, or (``off``) a folder for this run
    only, still shared by the run's xdist workers so none asks twice."""
    choice = settings.cache
    if choice == "off":
        return run_scratch(run_id)
    return Path(choice).expanduser() if choice else default_root


def answer_source(settings: Settings, library: Library, prompts: PromptBuilder, *, cache_root: Path,
                  run_id: str, workers: int) -> AnswerSource:
    if settings.rollouts is not None:
        return RolloutAnswers()
    if settings.model is None or settings.model == REFERENCE_MODEL:
        return ReferenceModel(library, settings.samples)
    server = ServerSettings(
        model=settings.model, base_urls=settings.base_url, api_key=settings.api_key,
        revision=settings.model_revision,
        sampling=Sampling(temperature=settings.temperature, max_tokens=settings.max_tokens),
        samples=settings.samples, concurrency=settings.concurrency,
        request_timeout=settings.request_timeout, retries=settings.retries,
        backoff=settings.backoff)
    return ServedModel(server, library, prompts, AnswerCache(cache_root, run_id), workers)
