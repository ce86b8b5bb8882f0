"""``sebench show``: one item of a real report (made by a run of the plugin), drawn in the terminal.

The reports come from runs of the plugin in a subprocess (pytester's, or ``plugin_run`` for a report
several tests read): the fake model server at K = 3 (raw responses kept, a hostile one among them),
the reference model over both fixture splits, and a rollout file. The command runs as a process
(exit statuses, stderr) and in-process through ``cli.main.main`` with capsys.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURE_DATA, write_rows
from gate_runs import plugin_run
from pytest_sebench.cli import show
from pytest_sebench.cli.main import main
from pytest_sebench.data.benchmark import load_benchmark
from pytest_sebench.model.reference import reference_response
from pytest_sebench.records.item import ItemRecord
from pytest_sebench.report.runs import read_run
from pytest_sebench.testing import FakeServer, table_responder

BENCH = load_benchmark(data=str(FIXTURE_DATA), docs=None, splits=("single_test",), splits_explicit=True,
                       rollouts=None, cache_dir=Path("."))
SINGLE = BENCH.problems[:4]
WRONG = "```python\nimport qel\ndef {name}(*args, **kwargs):\n    return qel.{sum}([0.5])\n```"
# markup, an OSC title, a screen clear, a bell and a bidi override, in the reasoning, the text and the code
HOSTILE = ("<think>[bold red]thinking[/] \x1b[31mred\x1b[0m</think>Here [link=http://x]click[/link] "
           "\x1b]0;pwned\x07 [/] \u202eevil\n```python\nimport qel\ndef {name}(*a):\n"
           "    return '[red]no[/red]\x1b[2J'\n```")
WIDE = "--width=200"  # no folding: lines can be matched whole


def right(problem) -> str:
    return reference_response(problem, BENCH.library)


def wrong(problem) -> str:
    return WRONG.format(name=problem.entry_point, sum=BENCH.library.main["sum"])


def hostile(problem) -> str:
    return HOSTILE.format(name=problem.entry_point)


def sebench(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_sebench", *map(str, args)], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})})


def served_report(where: Path, name: str, *args: str) -> tuple[Path, dict[str, str]]:
    """Four items at K = 3 from the fake server (item 0: right, hostile, wrong); the report and the
    prompt the server was sent for each item's signature."""
    a, b, c, d = SINGLE
    table = {a.signature: [right(a), hostile(a), wrong(a)], b.signature: [wrong(b)], c.signature: [right(c)],
             d.signature: [right(d), wrong(d), wrong(d)]}
    report = where / f"{name}.json"
    with FakeServer(table_responder(table)) as server:
        plugin_run(where, "--sebench-model=ckpt", f"--sebench-base-url={server.base_url}",
                   "--sebench-model-revision=step-900", "--sebench-backoff=0.01", "--sebench-split=single_test",
                   "--sebench-samples=3", "--sebench-cache=off", "-k", "0000 or 0001 or 0002 or 0003",
                   f"--sebench-report={report}", *args)
        prompts = {problem.signature: request.prompt for request in server.requests
                   for problem in SINGLE if problem.signature in request.prompt}
    assert report.is_file()
    return report, prompts


@pytest.fixture(scope="module")
def k3(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    return served_report(tmp_path_factory.mktemp("k3"), "closed")


def items_of(report: Path) -> dict[str, dict]:
    return {item["id"]: item for item in json.loads(report.read_text(encoding="utf-8"))["items"]}


def squashed(text: str) -> str:
    return " ".join(text.split())


def test_a_served_item_at_k3_is_shown_whole(k3):
    report, _ = k3
    item = items_of(report)[SINGLE[0].id]
    done = sebench("show", report, SINGLE[0].id, WIDE)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    lines = [line.rstrip() for line in out.splitlines()]
    assert lines[0].startswith(item["id"])
    facts = {line.split(None, 1)[0]: line.split(None, 1)[1] for line in lines[1:6]}
    assert facts["run"] == f"ckpt@step-900 ({report})" and facts["split"] == item["split"]
    assert facts["where"] == item["where"] and facts["functions"] == ", ".join(item["library_functions"])
    correct = sum(sample["passed"] for sample in item["samples"])
    assert facts["outcome"] == (f"{item['outcome']['label']} (flaky), correct in {correct} of 3 samples")
    problem = item["problem"]
    assert squashed(problem["query"]) in squashed(out) and problem["signature"] in out
    assert f"example input   {problem['example']['input']}" in out
    for sample in item["samples"]:
        title = f"sample {sample['sample']}: {sample['category']}"
        assert (title + (f" / {sample['taxonomy']}" if sample["taxonomy"] else "")) in out
        assert sample["reason"] in out
        for case in sample["cases"]:  # the table's row: index, input, expected, got, passed
            row = [case["input"], case["expected"], case["got"], "yes" if case["passed"] else "no"]
            assert any(all(cell in line for cell in row) for line in lines), row
    assert "closed mode" in out and "Complete this function" in out


def test_a_hostile_response_prints_literally_and_harmlessly(k3):
    report, _ = k3
    plain = sebench("show", report, "0000-cumsum", WIDE)
    assert plain.returncode == 0, plain.stderr
    out = plain.stdout
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    for literal in ("[bold red]thinking[/] \\x1b[31mred\\x1b[0m", "Here [link=http://x]click[/link] "
                    "\\x1b]0;pwned\\x07 [/] \\u202eevil", "return '[red]no[/red]\\x1b[2J'"):
        assert literal in out, literal
    # with colour forced, the only escapes are rich's own colours: none of the report's reaches the terminal
    coloured = sebench("show", report, "0000-cumsum", WIDE, env={"FORCE_COLOR": "1", "TERM": "xterm-256color"})
    assert coloured.returncode == 0 and "\x1b[" in coloured.stdout
    assert "\x1b]" not in coloured.stdout and "\x1b[2J" not in coloured.stdout and "\x07" not in coloured.stdout
    assert "[bold red]thinking[/]" in coloured.stdout and "[link=http://x]click[/link]" in coloured.stdout


@pytest.mark.parametrize("mode", ["closed", "open"])
def test_the_prompt_is_rebuilt_as_the_server_received_it(k3, tmp_path, mode):
    report, prompts = k3 if mode == "closed" else served_report(tmp_path, mode, f"--sebench-mode={mode}")
    run = read_run(report)
    for item in items_of(report).values():
        sent = prompts[item["problem"]["signature"]]
        rebuilt = show.rebuild_prompt(run, ItemRecord.from_json(item))
        assert not isinstance(rebuilt, str)
        if mode == "closed":
            assert rebuilt.plain == sent
            continue
        # open mode: the docs are not in the report; a note names them, the rest is the prompt sent
        before, after = sent.split("you may need:\n\n", 1)
        after = after[after.index("\n\nComplete this function"):]
        note = f"[the docs of {', '.join(item['library_functions'])}: not kept in the report]"
        assert rebuilt.plain == f"{before}you may need:\n\n{note}{after}"
        assert all(f"## {name}" in sent for name in item["library_functions"])  # what the note stands for
    done = sebench("show", report, SINGLE[1].id, WIDE)
    assert f"{mode} mode" in done.stdout
    if mode == "open":
        assert ": not kept in the report]" in done.stdout


def test_dropped_responses_are_said_to_be_dropped(tmp_path):
    report, _ = served_report(tmp_path, "failed", "--sebench-report-responses=failed")
    item = items_of(report)[SINGLE[3].id]  # right, wrong, wrong
    kept = [("response" in sample["answer"]) for sample in item["samples"]]
    assert kept == [not sample["passed"] for sample in item["samples"]] and not all(kept)
    out = sebench("show", report, "0003", WIDE).stdout
    assert out.count("response not kept: the report was written with --sebench-report-responses=failed or "
                     "none") == kept.count(False)
    assert out.count("─ response ─") == kept.count(True)


@pytest.fixture
def rollout_report(pytester) -> Path:
    """Rollout answers for every fixture single_test problem, wrong for every third."""
    rows = [{"query": problem.query, "function_name": problem.signature,
             "selected_functions": list(problem.functions),
             "test_cases": [{"input": case.input} for case in problem.cases],
             "right_exe_result": "#".join(case.expected for case in problem.cases),
             "response": wrong(problem) if index % 3 == 0 else right(problem)}
            for index, problem in enumerate(BENCH.problems)]
    rollouts = write_rows(pytester.path / "rollouts.jsonl", rows)
    report = pytester.path / "rollouts.json"
    pytester.runpytest_subprocess("-p", "no:randomly", f"--sebench-data={FIXTURE_DATA}",
                                  f"--sebench-rollouts={rollouts}", f"--sebench-report={report}")
    assert report.is_file()
    return report


def test_a_rollout_item_has_no_prompt(rollout_report, capsys):
    assert main(["show", str(rollout_report), "0003", WIDE]) == 0
    out = capsys.readouterr().out
    item = items_of(rollout_report)["rollouts/0003"]
    assert out.startswith("rollouts/0003") and "no prompt: the reference model / a rollout file" in out
    assert item["outcome"]["label"] == "not_solved" and "not solved, correct in 0 of 1 sample" in out
    assert "no example" in out and f"where      {item['where']}" in out


@pytest.fixture(scope="module")
def reference_report(tmp_path_factory) -> Path:
    """Every fixture problem of both splits, answered by the reference model."""
    where = tmp_path_factory.mktemp("reference")
    report = where / "reference.json"
    plugin_run(where, "--sebench-model=reference", f"--sebench-report={report}")
    assert report.is_file()
    return report


@pytest.mark.parametrize("wanted, found", [
    ("single_test/0000-cumsum", "single_test/0000-cumsum"),  # the id
    ("0000-cumsum", "single_test/0000-cumsum"),  # the part after the split
    ("abs-where", "multiple_test/0000-mean-std-abs-where"),  # a piece only one id has
    ("ABS-WHERE", "multiple_test/0000-mean-std-abs-where"),
])
def test_an_item_is_found_by_its_id_or_a_unique_part(reference_report, capsys, wanted, found):
    assert main(["show", str(reference_report), wanted, WIDE]) == 0
    assert capsys.readouterr().out.startswith(found + " ")


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2 and done.stdout == ""
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("sebench show: error: "), done.stderr
    return lines[0]


def test_ambiguous_ids_list_up_to_ten_candidates(reference_report):
    both = one_error_line(sebench("show", reference_report, "0000"))  # the part after two splits' split
    assert f"{reference_report}: 2 items match '0000': single_test/0000-cumsum, " \
           "multiple_test/0000-mean-std-abs-where; give more of the id" in both
    many = one_error_line(sebench("show", reference_report, "single_test/00"))
    listed = many.split("'single_test/00': ", 1)[1]
    assert "31 items match 'single_test/00'" in many and listed.count("single_test/") == 10
    assert "and 21 more; give more of the id" in many
    piece = one_error_line(sebench("show", reference_report, "cumsum"))
    assert "2 items match 'cumsum': single_test/0000-cumsum, multiple_test/0001-zeros-concatenate-cumsum-round" \
        in piece


def test_unknown_ids_suggest_close_ones(reference_report):
    typo = one_error_line(sebench("show", reference_report, "0000-cumsm"))
    assert f"{reference_report}: no item matches '0000-cumsm'; close: single_test/0000-cumsum" in typo
    nothing = one_error_line(sebench("show", reference_report, "zzzz"))
    assert "no item matches 'zzzz' (the report has 49 items, from single_test/0000-cumsum to " in nothing


@pytest.mark.parametrize("content, why", [
    (None, "no such file"),
    ("not json at all", ":1: not JSON"),
    ('{"schema_version": 1, "items": []}', "not a pytest-sebench report (no 'summary' with 'splits')"),
    ('{"schema_version": 1, "summary": {"splits": {}}, "items": [{"id": "x", "samples": 3}]}',
     "item x: 'samples' must be a list of graded samples"),
])
def test_unreadable_reports_are_one_line(tmp_path, content, why):
    path = tmp_path / "report.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    line = one_error_line(sebench("show", path, "x"))
    assert f"{path}" in line and why in line
