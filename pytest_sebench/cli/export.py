"""Export a split's prompts for training: verl's parquet or a datasets dataset for TRL.

``sebench export --format verl --split single_test -o train.parquet`` writes one row per problem with
the prompt (closed book by default; ``--mode open|full`` adds docs) and what the reward functions of
``pytest_sebench.rewards`` need to grade an answer. The file (or folder) appears whole or not at all.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from ..data.benchmark import load_benchmark
from ..data.jsonl import DataError
from ..data.sources import user_cache_dir
from ..prompt.export import FORMATS, trl_rows, verl_rows
from ..prompt.templates import PromptBuilder, TemplateError
from ..settings import DEFAULT_HUB_DATASET, DEFAULT_SPLITS, parsers
from .common import UsageProblem, typed


def add_to(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=FORMATS, required=True,
                        help="verl: a parquet file; trl: a datasets dataset folder (save_to_disk)")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="PATH",
                        help="the parquet file (verl) or the dataset folder (trl) to write")
    parser.add_argument("--data", default=DEFAULT_HUB_DATASET, metavar="SOURCE",
                        help=f"problems, as --sebench-data (default {DEFAULT_HUB_DATASET})")
    parser.add_argument("--docs", metavar="PATH", help="api_doc JSONL when the data source has none")
    parser.add_argument("--split", type=typed(parsers.split_list, "--split"), default=DEFAULT_SPLITS,
                        metavar="LIST", help="comma list of splits (default: single_test,multiple_test)")
    parser.add_argument("--mode", type=typed(parsers.mode_choice, "--mode"), default="closed",
                        help="closed (no docs: the benchmark), open (the problem's docs) or full (all docs)")
    parser.add_argument("--prompt", metavar="FILE", help="a prompt template file, as --sebench-prompt")


def run(args: argparse.Namespace) -> int:
    try:
        prompts = PromptBuilder.create(args.mode, args.prompt)
        benchmark = load_benchmark(data=args.data, docs=args.docs, splits=tuple(args.split),
                                   splits_explicit=True, rollouts=None, cache_dir=user_cache_dir())
    except (TemplateError, DataError) as error:
        raise UsageProblem(str(error)) from None
    import datasets  # a dependency of the plugin; imported here, it takes a second

    datasets.disable_progress_bars()  # one line of our own says what was written

    output: Path = args.output
    if args.format == "trl" and output.exists():
        raise UsageProblem(f"-o {output}: already exists (a dataset is a folder: remove it or choose another)")
    if not output.parent.is_dir():
        raise UsageProblem(f"-o {output}: folder {output.parent} does not exist")
    rows = list((verl_rows if args.format == "verl" else trl_rows)(benchmark, prompts))
    dataset = datasets.Dataset.from_list(rows)
    scratch = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:  # written beside the target, then renamed: a reader never sees half a file
        if args.format == "verl":
            dataset.to_parquet(str(scratch / "data.parquet"))
            os.replace(scratch / "data.parquet", output)
        else:
            dataset.save_to_disk(str(scratch / "dataset"))
            os.replace(scratch / "dataset", output)
    except OSError as error:
        raise UsageProblem(f"-o {output}: cannot write it ({error.strerror or error})") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # only the folder made above, inside output's parent
    splits = ", ".join(dict.fromkeys(problem.split for problem in benchmark.problems))
    print(f"wrote {len(rows)} {args.mode}-book prompts of {splits} ({benchmark.data_source}) for {args.format} "
          f"to {output}")
    return 0
