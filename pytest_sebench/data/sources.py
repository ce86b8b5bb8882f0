"""Where problems and docs come from: a local folder (flat or the reference repository's layout) or the hub."""

from __future__ import annotations

import http.client
import os
import socket
import threading
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from .jsonl import DataError, Line, read_jsonl
from .library import load_library

HUB_PREFIX = "hf:"
DOCS_FILE = "api_doc.jsonl"
# The hub dataset has no api_doc: the reference repository keeps it here.
DOCS_URL = "https://raw.githubusercontent.com/thunlp/SE-Bench/main/datasets/train/api_doc.jsonl"
_PROBE_SECONDS = 3.0

# Where each split lives, relative to a local source: a flat folder first, then the reference layout.
_SPLIT_PLACES = ("{split}.jsonl", "datasets/test/{split}.jsonl", "datasets/train/{split}.jsonl",
                 "test/{split}.jsonl", "train/{split}.jsonl")
_DOCS_PLACES = (DOCS_FILE, f"datasets/train/{DOCS_FILE}", f"train/{DOCS_FILE}")


@dataclass
class LoadedSplits:
    lines: dict[str, list[Line]]  # split -> rows in order
    description: str  # what was loaded, for messages and the report
    warnings: list[str] = field(default_factory=list)
    docs_path: Path | None = None  # api_doc found beside the data, if any


def is_local(source: str) -> bool:
    if source.startswith(HUB_PREFIX):
        return False
    # A hub id is "name" or "owner/name": anything with more slashes can only be a (missing) path.
    return (Path(source).expanduser().exists() or source.startswith((".", "/", "~"))
            or source.endswith(".jsonl") or source.count("/") > 1)


def local_root(source: str) -> Path:
    root = Path(source).expanduser()
    if not root.exists():
        raise DataError(f"--sebench-data={source}: no such file or folder")
    if not root.is_dir():
        raise DataError(f"--sebench-data={source}: expected a folder holding <split>.jsonl files "
                        "or a checkout of the SE-Bench repository")
    return root


def find_local_docs(root: Path) -> Path | None:
    return next((root / place for place in _DOCS_PLACES if (root / place).is_file()), None)


def _available_local_splits(root: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for split in ("single_test", "multiple_test", "train"):
        for place in _SPLIT_PLACES:
            candidate = root / place.format(split=split)
            if candidate.is_file():
                found[split] = candidate
                break
    return found


def load_local(source: str, splits: tuple[str, ...], splits_explicit: bool) -> LoadedSplits:
    root = local_root(source)
    available = _available_local_splits(root)
    missing = [split for split in splits if split not in available]
    there = ", ".join(sorted(available)) or "none"
    if missing and splits_explicit:
        raise DataError(f"--sebench-split asks for {', '.join(missing)}, which {root} does not have "
                        f"(splits there: {there})")
    chosen = [split for split in splits if split in available]
    if not chosen:
        raise DataError(f"{root} has none of the splits {', '.join(splits)} (splits there: {there})")
    warnings = []
    if missing:
        warnings.append(f"{root} has no {', '.join(missing)}: loaded {', '.join(chosen)} only (the default "
                        f"--sebench-split; name the splits to run, e.g. --sebench-split={','.join(chosen)})")
    lines = {split: list(read_jsonl(available[split])) for split in chosen}
    return LoadedSplits(lines, str(root), warnings, find_local_docs(root))


def hub_id(source: str) -> str:
    return source.removeprefix(HUB_PREFIX)


def _offline() -> bool:
    """Whether the user (or our probe) put the hub client in offline mode; it reads these values."""
    return any(os.environ.get(name, "").upper() in ("1", "ON", "YES", "TRUE")
               for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


def _hub_reachable() -> bool:
    endpoint = urllib.parse.urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = endpoint.port or (80 if endpoint.scheme == "http" else 443)
    address = (endpoint.hostname or "huggingface.co", port)
    answers: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection(address, timeout=_PROBE_SECONDS).close()
            answers.append(True)
        except OSError:
            answers.append(False)

    # The socket timeout bounds neither the name lookup nor the sum over all of the host's addresses
    # (each gets the full timeout): a thread with one deadline does.
    thread = threading.Thread(target=probe, name="sebench-hub-probe", daemon=True)
    thread.start()
    thread.join(_PROBE_SECONDS)
    return answers == [True]


def _offline_hint(dataset: str) -> str:
    return (f"cannot load the hub dataset {dataset!r}: the Hugging Face hub is not reachable from "
            "this machine and the dataset is not in the local datasets cache. Pass "
            "--sebench-data=PATH with a local copy (a checkout of thunlp/SE-Bench, or a folder "
            "holding single_test.jsonl / multiple_test.jsonl / train.jsonl and api_doc.jsonl)")


def load_hub(source: str, splits: tuple[str, ...]) -> LoadedSplits:
    dataset = hub_id(source)
    in_folder = Path(dataset).exists()  # a dataset repository on disk: no hub needed
    if not in_folder and not _offline() and not _hub_reachable():
        # Without this, the hub client retries for minutes before giving up.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["HF_DATASETS_OFFLINE"] = "1"
    import datasets  # heavy: only imported when the hub is really used

    lines: dict[str, list[Line]] = {}
    for split in splits:
        try:
            table = datasets.load_dataset(dataset, split, split="train")
        except Exception as error:  # the hub client raises many types; all mean "not loadable"
            # offline, a dataset that is not cached fails in many ways; a folder on disk fails for
            # its own reasons (a config it lacks), which the hint would hide
            if _offline() and not in_folder:
                raise DataError(_offline_hint(dataset)) from None
            raise DataError(f"cannot load config {split!r} of the hub dataset {dataset!r}: "
                            f"{type(error).__name__}: {error}") from None
        where = f"{dataset}[{split}]"
        lines[split] = [Line(where, index + 1, dict(row)) for index, row in enumerate(table)]
    return LoadedSplits(lines, dataset)


def fetch_hub_docs(cache_dir: Path, fetch: Callable[[str], bytes] | None = None) -> Path:
    """The api_doc for hub data: downloaded once from the reference repository, then read from the cache."""
    target = cache_dir / DOCS_FILE
    if target.is_file():
        return target
    if _offline():  # the user said "no network" (or our probe found none): do not wait on GitHub
        raise DataError(_docs_hint("this run is offline (HF_HUB_OFFLINE is set, or the hub was "
                                   "found unreachable), so it was not downloaded"))
    try:
        body = (fetch or _download)(DOCS_URL)
    except (OSError, http.client.HTTPException) as error:  # a cut connection is an HTTPException
        raise DataError(_docs_hint(f"it could not be downloaded ({error})")) from None
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{DOCS_FILE}.{os.getpid()}.part")  # xdist workers fetch at once
    partial.write_bytes(body)
    try:
        load_library(partial)  # checked before caching: a proxy's error page must not stay cached
    except DataError as error:
        partial.unlink()
        raise DataError(_docs_hint(f"what was downloaded is not an api_doc file ({error})")) from None
    os.replace(partial, target)
    return target


def _docs_hint(why: str) -> str:
    return (f"the hub dataset has no api_doc and {DOCS_URL} is its source: {why}. Pass "
            "--sebench-docs=PATH/api_doc.jsonl (datasets/train/api_doc.jsonl in a checkout of "
            "thunlp/SE-Bench)")


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=_PROBE_SECONDS * 5) as response:
        return response.read()


def iter_rollout_lines(path: Path) -> Iterator[Line]:
    if not path.is_file():
        raise DataError(f"--sebench-rollouts={path}: no such file")
    return read_jsonl(path)


def user_cache_dir() -> Path:
    """Where downloads made outside a pytest run are kept (the hub's api_doc for ``sebench export``, the
    library API and the rewards; answers of :func:`pytest_sebench.evaluate.evaluate`):
    ``$XDG_CACHE_HOME/pytest-sebench``, else ``~/.cache/pytest-sebench``."""
    return Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "pytest-sebench"
