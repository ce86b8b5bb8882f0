"""Whether two runs can be compared at all, from their reports' provenance.

Different problems, a different prompt mode or a different prompt template make the comparison
meaningless (a drop would be the prompt's doing, not the checkpoint's): refused unless forced. Other
differences (sampling, K, sandbox, NumPy, plugin version) are worth a warning, not a refusal; the model
name and revision are expected to differ (that is the point of comparing).
"""

from __future__ import annotations

from typing import Any

# (provenance key, what it is called in messages): differences are warnings
# (Where the data came from is no concern: the fingerprints above say whether the problems are the same.)
_WARN_KEYS = (("plugin_version", "plugin version"), ("sandbox", "sandbox"),
              ("numpy", "NumPy version"), ("samples", "samples per item (K)"))
_WARN_MODEL_KEYS = (("temperature", "temperature"), ("max_tokens", "max tokens"))


def compare_provenance(base: dict[str, Any], now: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(reasons to refuse, warnings) for comparing a run described by ``now`` with ``base``."""
    refusals = dataset_differences(base, now)
    for key, label in (("mode", "prompt mode"), ("prompt_hash", "prompt template")):
        # None means "no prompt was used" (the reference model, a rollout file): nothing to contradict
        if base.get(key) is not None and now.get(key) is not None and base[key] != now[key]:
            refusals.append(f"the {label} differs (baseline {base[key]}, now {now[key]})")
    warnings = [f"the {label} differs (baseline {base.get(key)}, now {now.get(key)})"
                for key, label in _WARN_KEYS if _known_and_different(base.get(key), now.get(key))]
    if (base.get("subset") or None) != (now.get("subset") or None):
        warnings.append(f"the baseline ran {_subset_text(base.get('subset'))} and this run "
                        f"{_subset_text(now.get('subset'))}: items are compared where both ran them only")
    base_model, now_model = base.get("model") or {}, now.get("model") or {}
    warnings += [f"the {label} differs (baseline {base_model.get(key)}, now {now_model.get(key)})"
                 for key, label in _WARN_MODEL_KEYS
                 if _known_and_different(base_model.get(key), now_model.get(key))]
    return refusals, warnings


def _subset_text(subset: Any) -> str:
    if not isinstance(subset, dict):
        return "every problem"
    return f"a subset (--sebench-limit={subset.get('limit')}, --sebench-seed={subset.get('seed')})"


def dataset_differences(base: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """Why the two runs' problems are not the same ones (empty when they are, on the splits both ran)."""
    base_splits, now_splits = base.get("split_fingerprints"), now.get("split_fingerprints")
    if isinstance(base_splits, dict) and isinstance(now_splits, dict):
        # Only the splits both runs have: a split run on one side only shows up as missing items.
        return [f"split {split}: the problems differ (dataset fingerprint {base_splits[split]} in the "
                f"baseline, {now_splits[split]} now)"
                for split in sorted(base_splits.keys() & now_splits.keys())
                if base_splits[split] != now_splits[split]]
    if base.get("dataset_fingerprint") is None:
        return ["the baseline report has no provenance (dataset fingerprint): it cannot be checked"]
    if base.get("splits") == now.get("splits") and base["dataset_fingerprint"] != now.get("dataset_fingerprint"):
        return [f"the problems differ (dataset fingerprint {base['dataset_fingerprint']} in the baseline, "
                f"{now.get('dataset_fingerprint')} now)"]
    return []


def _known_and_different(base: Any, now: Any) -> bool:
    return base is not None and now is not None and base != now
