"""Put the data stage together: the problems to run and the library they are about."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from . import sources
from .jsonl import DataError
from .library import Library, load_library
from .problems import Problem, problem_from_rollout, problem_from_row


@dataclass(frozen=True)
class Benchmark:
    problems: tuple[Problem, ...]
    library: Library
    data_source: str  # what was loaded, as the report records it
    warnings: tuple[str, ...] = field(default=())

    @cached_property
    def by_id(self) -> dict[str, Problem]:
        """Problems by id, in the benchmark's order."""
        return {problem.id: problem for problem in self.problems}


def _docs_path(docs_option: str | None, found_beside_data: Path | None, data_source: str,
               cache_dir: Path) -> Path:
    if docs_option is not None:
        path = Path(docs_option).expanduser()
        if not path.is_file():
            raise DataError(f"--sebench-docs={docs_option}: no such file")
        return path
    if found_beside_data is not None:
        return found_beside_data
    if sources.is_local(data_source):
        raise DataError(f"--sebench-data={data_source} has no {sources.DOCS_FILE} (the library's names "
                        "come from it): pass --sebench-docs=PATH/api_doc.jsonl")
    return sources.fetch_hub_docs(cache_dir)


def load_benchmark(*, data: str, docs: str | None, splits: tuple[str, ...], splits_explicit: bool,
                   rollouts: str | None, cache_dir: Path) -> Benchmark:
    """Raises DataError with one message naming the file/line or option at fault."""
    if rollouts is not None:
        return _load_rollouts(Path(rollouts).expanduser(), data, docs, cache_dir)
    if sources.is_local(data):
        loaded = sources.load_local(data, splits, splits_explicit)
    else:
        loaded = sources.load_hub(data, splits)
    library = load_library(_docs_path(docs, loaded.docs_path, data, cache_dir))
    problems = tuple(problem_from_row(line, split, row)
                     for split, lines in loaded.lines.items() for row, line in enumerate(lines))
    if not problems:
        raise DataError(f"{loaded.description}: no problems in {', '.join(loaded.lines)}")
    return Benchmark(problems, library, loaded.description, tuple(loaded.warnings))


def _load_rollouts(path: Path, data: str, docs: str | None, cache_dir: Path) -> Benchmark:
    beside = sources.find_local_docs(sources.local_root(data)) if sources.is_local(data) else None
    library = load_library(_docs_path(docs, beside, data, cache_dir))
    problems = tuple(problem_from_rollout(line, index)
                     for index, line in enumerate(sources.iter_rollout_lines(path)))
    if not problems:
        raise DataError(f"--sebench-rollouts={path}: the file holds no rollout lines")
    return Benchmark(problems, library, str(path))
