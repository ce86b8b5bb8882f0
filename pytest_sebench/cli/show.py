"""Show one item of a report: the problem, the prompt, and every sample's answer, code and cases.

``sebench show REPORT.json ITEM-ID`` draws what a failing (or passing) item did, from the report
alone: no data, model or sandbox is needed. ITEM-ID is the item's id, the part after its split
(``0042-amin``) or a piece of it that only one item has.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Iterator, Mapping

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.rule import Rule
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from ..grade.verdict import CORRECT, ERROR, CaseVerdict
from ..records.item import ItemRecord, ProblemText, RecordError, SampleRecord
from ..records.report_file import ReportFileError
from ..report.lookup import ItemLookupError, find_item
from ..report.prompts import PromptMaker
from ..report.runs import RunData, read_run
from .common import UsageProblem, console
from .plain import plain, visible

_DOCS_MARK = "\x00docs\x00"  # where the {docs} field goes: replaced by a note after formatting
_OUTCOME_STYLES = {"solved": "green", "improvement": "green", "regression": "bold red", "known_gap": "yellow",
                   "not_solved": "red", "error": "bold yellow", "baseline_error": "yellow"}


def add_to(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("report", type=Path, metavar="REPORT.json", help="a --sebench-report file")
    parser.add_argument("item", metavar="ITEM-ID",
                        help="the item's id (single_test/0042-amin), the part after the split (0042-amin), "
                             "or a piece of the id that only one item has")
    parser.add_argument("--width", type=int, default=None, help="terminal width (default: the terminal's)")


def run(args: argparse.Namespace) -> int:
    report = read_run(args.report)
    try:
        item = find_item(report.items(), args.item, str(args.report))
    except ItemLookupError as error:
        raise UsageProblem(visible(error)) from None
    try:
        record = ItemRecord.from_json(item)
    except RecordError as error:
        raise ReportFileError(f"{args.report}: {error}") from None
    out = console(args)
    for part in item_view(report, item, record):
        out.print(part)
    return 0


def item_view(report: RunData, item: Mapping[str, Any], record: ItemRecord) -> Iterator[RenderableType]:
    """Everything the report knows of one item, top to bottom."""
    yield Rule(plain(record.id, "bold"), align="left")
    yield _facts(report, item, record)
    yield Rule("problem", align="left", style="dim")
    yield _problem(record.problem)
    yield Rule("prompt", align="left", style="dim")
    yield _prompt(report, record)
    for sample in record.samples:
        title = sample.category + (f" / {sample.taxonomy}" if sample.taxonomy else "")
        yield Rule(plain(f"sample {sample.sample}: {title}", _category_style(sample.category)), align="left")
        yield from _sample(sample)


def _facts(report: RunData, item: Mapping[str, Any], record: ItemRecord) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    counts = record.counts
    grid.add_row("run", plain(f"{report.label} ({report.source})"))
    grid.add_row("split", plain(record.split))
    grid.add_row("where", plain(record.where))
    functions = ", ".join(record.library_functions or record.functions) or "(none recorded)"
    grid.add_row("functions", plain(functions))
    grid.add_row("outcome", _outcome(item.get("outcome"), counts.correct, counts.samples))
    if record.stopped_run:
        grid.add_row("run stopped", plain(record.stopped_run, "bold red"))
    return grid


def _outcome(outcome: Any, correct: int, samples: int) -> Text:
    text = Text()
    if isinstance(outcome, dict) and outcome.get("label"):
        label = str(outcome["label"])
        text.append(visible(label.replace("_", " ")), _OUTCOME_STYLES.get(label, "bold"))
        if outcome.get("flaky"):
            text.append(" (flaky)", "yellow")
        if isinstance(outcome.get("p_value"), (int, float)):
            text.append(f", one-sided Fisher p={outcome['p_value']:.3g}")
        text.append(", ")
    else:
        text.append("no outcome in the report, ", "dim")
    text.append(f"correct in {correct} of {samples} sample{'s' if samples != 1 else ''}")
    return text


def _problem(problem: ProblemText) -> RenderableType:
    if not (problem.query or problem.signature):
        return plain("the report does not keep the problem's text (made by an older pytest-sebench)", "dim")
    parts: list[RenderableType] = [plain(problem.query.strip())]
    if problem.signature:
        parts.append(_code(problem.signature))
    if problem.example is None:
        parts.append(plain("no example", "dim"))
    else:
        example = Table.grid(padding=(0, 2))
        example.add_column(style="bold")
        example.add_column()
        example.add_row("example input", plain(problem.example[0]))
        example.add_row("example output", plain(problem.example[1]))
        parts.append(example)
    return Group(*parts)


def _prompt(report: RunData, record: ItemRecord) -> RenderableType:
    prompt = rebuild_prompt(report, record)
    if isinstance(prompt, str):
        return plain(prompt, "dim")
    # a str title would be read as markup: the mode comes from the report
    return Panel(prompt, title=plain(f"{report.provenance.get('mode')} mode"), title_align="left", box=box.ROUNDED)


def rebuild_prompt(report: RunData, record: ItemRecord) -> Text | str:
    """The prompt as the model saw it, rebuilt from the report's template and the item's problem (a
    note where the docs were: a report does not keep them); or why there is none."""
    library = str(report.summary.get("library") or "")
    maker = PromptMaker(report.provenance, library)
    problem = record.problem
    functions = record.library_functions or record.functions
    text = maker.fill_in(problem.query, problem.example, problem.signature, functions, docs=_DOCS_MARK)
    if text is None:
        if maker.mode is None:
            return (f"no prompt: the reference model / a rollout file gave the answers "
                    f"({report.model.get('name') or 'no model name'})")
        return "no prompt: the report does not keep the prompt template (made by an older pytest-sebench)"
    prompt = Text()
    for index, part in enumerate(text.split(_DOCS_MARK)):
        if index:
            prompt.append(visible(maker.docs_note(functions)), "dim italic")
        prompt.append(visible(part))
    return prompt


def _sample(sample: SampleRecord) -> Iterator[RenderableType]:
    yield plain(sample.reason)
    facts = _answer_facts(sample.answer)
    if facts:
        yield plain(facts, "dim")
    yield from _response(sample)
    if sample.code:
        yield Panel(_code(sample.code, numbers=True), title="code", title_align="left", box=box.ROUNDED)
    else:
        yield plain("no code was extracted from the response", "dim")
    if sample.cases:
        yield _cases(sample.cases)
    if sample.skipped_names:
        yield plain(f"skipped names: {', '.join(sample.skipped_names)}", "dim")
    if sample.stderr:
        yield Panel(plain(sample.stderr), title="stderr", title_align="left", box=box.ROUNDED)


def _answer_facts(answer: Mapping[str, Any]) -> str:
    """One line of what the server said about the answer."""
    facts = []
    if answer.get("finish_reason"):
        facts.append(f"finish_reason {answer['finish_reason']}")
    tokens = [f"{answer[key]} {name}" for key, name in (("prompt_tokens", "prompt"),
                                                         ("completion_tokens", "completion"),
                                                         ("reasoning_tokens", "reasoning"))
              if isinstance(answer.get(key), int)]
    if tokens:
        facts.append(" + ".join(tokens) + " tokens")
    if isinstance(answer.get("latency"), (int, float)):
        facts.append(f"{answer['latency']:.2f} s")
    if answer.get("attempts") not in (None, 1):
        facts.append(f"{answer['attempts']} attempts")
    if answer.get("truncated"):
        facts.append("cut at max_tokens")
    if answer.get("reused"):
        facts.append("from the answer cache")
    return ", ".join(facts)


def _response(sample: SampleRecord) -> Iterator[RenderableType]:
    answer = sample.answer
    if "response" not in answer:
        if not answer:
            yield plain("no response recorded for this sample", "dim")
        else:  # the facts are there, the text is not: --sebench-report-responses dropped it
            which = "failed or none" if sample.passed else "none"
            yield plain(f"response not kept: the report was written with --sebench-report-responses={which}",
                        "dim")
        return
    if answer.get("reasoning"):
        yield Panel(plain(answer["reasoning"]), title="reasoning", title_align="left", box=box.ROUNDED,
                    border_style="dim")
    response = answer.get("response")
    body = plain(response) if response else plain("(empty response)", "dim")
    yield Panel(body, title="response", title_align="left", box=box.ROUNDED)


def _cases(cases: tuple[CaseVerdict, ...]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("#", justify="right", style="dim")
    table.add_column("input", overflow="fold")
    table.add_column("expected", overflow="fold")
    table.add_column("got", overflow="fold")
    table.add_column("passed")
    for index, case in enumerate(cases):
        got = plain("" if case.got is None else case.got)
        if case.error is not None:
            got.append(("\n" if got else "") + visible(case.error), "red")
        elif case.detail:
            got.append("\n" + visible(case.detail), "dim")
        table.add_row(str(index), plain(case.input), plain(case.expected), got,
                      Text("yes", "green") if case.passed else Text("no", "bold red"))
    return table


def _code(code: str, numbers: bool = False) -> Syntax:
    # the terminal's own colours and background: readable on light and dark terminals alike
    return Syntax(visible(code.rstrip("\n")), "python", theme="ansi_dark", background_color="default",
                  line_numbers=numbers, word_wrap=True)


def _category_style(category: str) -> str:
    return "bold green" if category == CORRECT else "bold yellow" if category == ERROR else "bold red"
