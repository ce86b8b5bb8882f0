"""Which weights the model server is serving: what tells one checkpoint's answers from another's.

A training job serves every checkpoint under the same name (``--served-model-name ckpt``), so the
name cannot key the answer cache: run 8's step 1200 would be graded on run 7's answers. Servers say
more than the name where they can:

- vLLM lists the served weights' path as ``root`` in ``GET /v1/models``;
- SGLang answers ``GET /get_model_info`` (beside ``/v1``) with ``model_path`` and ``weight_version``;
- llama.cpp's servers list the model file's path as the id (unless an alias is given).

What the endpoint reports goes into every answer's cache key and into the report's provenance. When
it reports nothing beyond the name the user asked for, only ``--sebench-model-revision`` tells
checkpoints apart, and the plugin says so.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ServedWeights:
    model_id: str | None = None  # the id /v1/models lists for our model (or its only one)
    root: str | None = None  # vLLM: the weights' path
    model_path: str | None = None  # SGLang's /get_model_info
    weight_version: str | None = None  # SGLang's /get_model_info (updated by weight updates in RL)

    def identity(self, requested: str) -> dict[str, str]:
        """The reported facts that tell checkpoints apart (the name the user asked for does not)."""
        facts = {"root": self.root, "model_path": self.model_path, "weight_version": self.weight_version}
        if self.model_id and self.model_id != requested:
            facts["model_id"] = self.model_id
        return {name: value for name, value in facts.items() if value}

    def to_json(self) -> dict[str, Any]:
        return {name: value for name, value in asdict(self).items() if value is not None}


def weights_from(models: list[Any], requested: str, info: Any) -> ServedWeights:
    """From the /v1/models entries (SDK objects) and SGLang's /get_model_info body (or None)."""
    entry = next((model for model in models if getattr(model, "id", None) == requested), None)
    if entry is None and len(models) == 1:
        entry = models[0]
    info = info if isinstance(info, dict) else {}

    def text(value: Any) -> str | None:
        return str(value) if isinstance(value, (str, int)) and str(value) else None

    return ServedWeights(model_id=text(getattr(entry, "id", None)), root=text(getattr(entry, "root", None)),
                         model_path=text(info.get("model_path")), weight_version=text(info.get("weight_version")))


def undistinguished_warning(model: str, revision: str | None, endpoint: str) -> str:
    now = f" (now {revision!r})" if revision else " (none given)"
    return (f"the model server at {endpoint} reports nothing that tells checkpoints apart (no `root` in "
            f"/v1/models as vLLM gives, no /get_model_info as SGLang gives, only the name {model!r}): "
            f"answers are cached under the name and --sebench-model-revision{now} alone, so give every "
            "checkpoint a unique revision (e.g. the training run and the step), or another run's answers "
            "may be graded as this one's")
