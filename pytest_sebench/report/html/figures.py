"""The run's figures as the page shows them, read from a report's top-level fields.

A report's own fields (``summary``, ``comparison``, ``gates``, ``forgetting_map``, ``taxonomy``,
``provenance``), or those ``judge()`` recomputed against another checkpoint: the same JSON form, so
one reader serves both. Numbers are formatted here, so the template only places text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from ...gate.figures import OVERALL
from .fields import mapping

FORGOTTEN_ROWS = 15  # the most forgotten functions listed under the comparison
LISTED_IDS = 20  # item ids listed per comparison list (each a link to its item)
DASH = "\N{EN DASH}"  # a figure the report does not have; also between the bounds of an interval


def percent(value: Any) -> str:
    return f"{100 * float(value):.1f} %" if isinstance(value, (int, float)) else DASH


def interval(pair: Any) -> str:
    if isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(v, (int, float)) for v in pair):
        return f"{100 * pair[0]:.1f}{DASH}{100 * pair[1]:.1f}"
    return DASH


def points(value: Any) -> str:
    return f"{100 * float(value):+.1f}" if isinstance(value, (int, float)) else DASH


def _list(value: Any) -> Sequence[Any]:
    return value if isinstance(value, list) else []


@dataclass(frozen=True)
class SplitRow:
    name: str
    items: int
    samples: int
    k: int
    mean: str
    mean_ci: str
    pass_k: str | None  # pass@k with its interval, when K > 1
    pass_k_ci: str | None
    errors: int
    truncated: int
    categories: Mapping[str, int]


@dataclass(frozen=True)
class GateRow:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class PairedRow:
    split: str
    items: int
    now: str
    before: str
    change: str
    ci: str
    p_value: str
    method: str


@dataclass(frozen=True)
class IdList:
    name: str
    ids: Sequence[str]  # the first LISTED_IDS
    count: int


@dataclass(frozen=True)
class FunctionRow:
    name: str
    items: int
    now: str
    before: str
    change: str


@dataclass(frozen=True)
class Figures:
    splits: list[SplitRow]
    categories: list[str]  # the columns of the category counts
    gates: list[GateRow]
    baseline: str | None  # what the run was compared with
    paired: list[PairedRow]
    lists: list[IdList]  # regressions, improvements, known gaps, flaky (and missing items)
    warnings: list[str]
    outcomes: Mapping[str, int]
    forgotten: list[FunctionRow]
    taxonomy: list[tuple[str, str, int]]  # class, its category, samples

    @property
    def k(self) -> int:
        return max((row.k for row in self.splits), default=1)


def _split_row(name: str, stats: Mapping[str, Any]) -> SplitRow:
    k = int(stats.get("k") or 1)
    many = k > 1
    return SplitRow(name, int(stats.get("items") or 0), int(stats.get("samples") or 0), k,
                    percent(stats.get("mean_at_k", stats.get("accuracy"))), interval(stats.get("mean_at_k_ci95")),
                    percent(stats.get("pass_at_k")) if many else None,
                    interval(stats.get("pass_at_k_ci95")) if many else None,
                    int(stats.get("errors") or 0), int(stats.get("truncated") or 0),
                    {str(key): int(value) for key, value in mapping(stats.get("categories")).items()
                     if isinstance(value, int)})


def figures(top: Mapping[str, Any]) -> Figures:
    summary = mapping(top.get("summary"))
    splits = [_split_row(str(name), mapping(stats)) for name, stats in mapping(summary.get("splits")).items()]
    if len(splits) != 1 and summary.get(OVERALL):
        splits.append(_split_row(OVERALL, mapping(summary[OVERALL])))
    categories = list(dict.fromkeys(name for row in splits for name in row.categories))
    gates = [GateRow(str(gate.get("gate", "")), bool(gate.get("passed")), str(gate.get("detail", "")))
             for gate in map(mapping, _list(top.get("gates")))]
    comparison = mapping(top.get("comparison"))
    baseline = mapping(comparison.get("baseline"))
    paired = [PairedRow(str(name), int(diff.get("items") or 0), percent(diff.get("now")), percent(diff.get("base")),
                        points(diff.get("difference")),
                        f"{points(diff.get('low'))} to {points(diff.get('high'))}",
                        f"{diff['p_value']:.3g}" if isinstance(diff.get("p_value"), (int, float)) else DASH,
                        str(diff.get("method") or ""))
              for name, diff in ((name, mapping(diff)) for name, diff in mapping(comparison.get("paired")).items())]
    names = [("regressions", "regressions"), ("improvements", "improvements"), ("known_gaps", "known gaps"),
             ("flaky", "flaky"), ("missing_now", "in the baseline, not run now"),
             ("not_in_baseline", "not in the baseline"), ("unpaired_errors", "left out of the pairing (errors)")]
    lists = [IdList(title, [str(item) for item in ids[:LISTED_IDS]], len(ids))
             for key, title in names if key in comparison for ids in [_list(comparison[key])]]
    forgotten = [FunctionRow(str(entry.get("function", "")), int(entry.get("items") or 0), percent(entry.get("now")),
                             percent(entry.get("baseline")), points(entry.get("change")))
                 for entry in map(mapping, _list(top.get("forgetting_map")))
                 if isinstance(entry.get("change"), (int, float)) and entry["change"] < 0][:FORGOTTEN_ROWS]
    taxonomy = [(str(name), str(mapping(entry).get("category", "")), int(mapping(entry).get("count") or 0))
                for name, entry in mapping(top.get("taxonomy")).items()]
    outcomes = {str(label): int(count) for label, count in mapping(comparison.get("outcomes")).items()
                if isinstance(count, int)}
    return Figures(splits, categories, gates,
                   str(baseline.get("label") or baseline.get("path")) if baseline else None, paired, lists,
                   [str(warning) for warning in _list(comparison.get("warnings"))], outcomes, forgotten, taxonomy)


def island_figures(top: Mapping[str, Any]) -> dict[str, Any]:
    """The figures the data island carries beside the items (the report's own numbers, unformatted)."""
    comparison = mapping(top.get("comparison"))
    return {"summary": top.get("summary"), "gates": top.get("gates"),
            "outcomes": comparison.get("outcomes"), "paired": comparison.get("paired")}


def provenance_facts(top: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What the run was: model, revision, data, mode, K, time, ... (those the report has)."""
    provenance = mapping(top.get("provenance"))
    model = mapping(provenance.get("model"))
    summary = mapping(top.get("summary"))
    facts = [("model", model.get("name") or summary.get("model")), ("revision", model.get("revision")),
             ("endpoints", ", ".join(map(str, _list(model.get("endpoints")))) or None),
             ("data", provenance.get("data") or summary.get("data")), ("library", summary.get("library")),
             ("mode", provenance.get("mode")), ("prompt", model.get("prompt")),
             ("samples per item", provenance.get("samples")), ("temperature", model.get("temperature")),
             ("max tokens", model.get("max_tokens")), ("sandbox", provenance.get("sandbox")),
             ("NumPy", provenance.get("numpy")), ("time", provenance.get("time")),
             ("git commit", provenance.get("git_commit")), ("plugin", provenance.get("plugin_version"))]
    return [(name, str(value)) for name, value in facts if value not in (None, "")]
