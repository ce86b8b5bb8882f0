"""The Markdown summary (``--sebench-markdown``) and the job summary (``--sebench-step-summary``, by
default ``$GITHUB_STEP_SUMMARY``) through whole runs of the plugin, -n0 and -n2.

The page's tables are parsed back and every figure is checked against the JSON report of the same run;
the job summary is appended to, never replaced; a path that cannot be written is one usage error
before the run; what a model or the data names (model names, function names, item ids) reaches the page
as text, never as markup.
"""

from __future__ import annotations

import errno
import html
import json
import re
import shlex
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt  # rich's Markdown parser: a dependency already

from conftest import FIXTURE_DATA
from gate_runs import (BASE, NOW, N, USAGE_ERROR, WORKERS, make_baseline, report_of, right_answer, rollout_file,
                       rollout_run, run, wrong_answer)
from pytest_sebench.data.benchmark import load_benchmark
from pytest_sebench.report import files
from pytest_sebench.report.markdown import escape_markdown, markdown_environment
from pytest_sebench.testing import FakeServer, ServerConfig, table_responder

HOSTILE_MODEL = "<img src=x onerror=alert(1)>|*_[a](b)`&amp;"
HOSTILE_FUNCTIONS = ["<script>alert(1)</script>", "a|b`c`_d_ *e* [x](y)\n| row | injected |"]


# -- reading the page back ---------------------------------------------------------------------------

def unescape(text: str) -> str:
    """What a reader sees of an escaped text: backslash escapes and entities resolved."""
    return html.unescape(re.sub(r"\\(.)", r"\1", text))


def cells(line: str) -> list[str]:
    """A table row's cells, split at the pipes that are not escaped, each unescaped."""
    found, current, chars = [], "", iter(line.strip())
    for char in chars:
        if char == "\\":
            current += char + next(chars, "")
        elif char == "|":
            found.append(current)
            current = ""
        else:
            current += char
    return [unescape(cell.strip()) for cell in found[1:]]  # before the first pipe: nothing


def table(text: str, first_header: str) -> list[list[str]]:
    """The body rows of the table whose header row starts with ``| first_header |``."""
    lines = text.splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    assert set(lines[start + 1]) <= set("|:- "), lines[start + 1]  # the delimiter row
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        row = cells(line)
        assert len(row) == len(cells(lines[start])), line  # every row has the header's columns
        rows.append(row)
    return rows


def percent(rate: float, digits: int = 1) -> str:
    return f"{100 * rate:.{digits}f}%"


def interval(bounds: list[float]) -> str:
    return f"{100 * bounds[0]:.1f}-{100 * bounds[1]:.1f}"


# What the page itself is made of; anything else a renderer makes of it came from the data.
PAGE_TAGS = {"h2", "p", "strong", "table", "thead", "tbody", "tr", "th", "td", "ul", "li"}


class RenderedPage(HTMLParser):
    """The page as a GitHub-flavoured renderer with HTML allowed shows it (as GitHub renders job
    summaries): the tags it made, and the text of each table row's cells."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self.feed(MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(text))

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.add(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def assert_no_markup(text: str) -> RenderedPage:
    """Nothing but the page's own structure once rendered, and nothing that looks like HTML in the text."""
    page = RenderedPage(text)
    assert page.tags <= PAGE_TAGS, page.tags - PAGE_TAGS
    assert "<" not in text, text
    return page


# -- the page's figures are the report's -------------------------------------------------------------

@pytest.mark.parametrize("workers", WORKERS)
def test_the_page_holds_the_runs_figures(pytester, workers):
    baseline = make_baseline(pytester, BASE)
    report, page = pytester.path / "now.json", pytester.path / "now.md"
    result = rollout_run(pytester, "now", NOW, f"--sebench-baseline={baseline}", "--sebench-max-drop=1",
                         "--sebench-fail-under=0.9", f"--sebench-report={report}", f"--sebench-markdown={page}",
                         workers)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    data, text = report_of(report), page.read_text(encoding="utf-8")
    assert RenderedPage(text).tags <= PAGE_TAGS
    lines = text.splitlines()
    assert lines[0] == "## SE-Bench: rollouts"
    assert lines[2] == "❌ **Failed**: 1 regression failed."
    assert unescape(lines[4]) == f"Data {pytester.path / 'now.jsonl'}, library qel, 1 sample per item."

    stats = data["summary"]["splits"]["rollouts"]
    assert table(text, "split")[0] == ["rollouts", str(stats["items"]), percent(stats["mean_at_k"]),
                                       interval(stats["mean_at_k_ci95"])]
    assert len(table(text, "split")) == 1  # one split: no overall row

    comparison = data["comparison"]
    expected = [[name, str(diff["items"]), percent(diff["now"]), percent(diff["base"]),
                 f"{100 * diff['difference']:+.1f}", f"{100 * diff['low']:+.1f}..{100 * diff['high']:+.1f}",
                 f"{diff['p_value']:.3g}", "exact McNemar"] for name, diff in comparison["paired"].items()]
    rows = table(text[text.index("**Against"):], "split")  # the comparison's table, after the figures'
    assert rows == expected and [row[0] for row in rows] == ["rollouts", "overall"]
    assert f"**Against rollouts** ({baseline}, " in unescape(text)
    assert "Items: 1 regressions, 1 improvements, 1 known gaps, 0 flaky." in text

    assert table(text, "gate") == [[gate["gate"], "✅ PASS" if gate["passed"] else "❌ **FAIL**", gate["detail"]]
                                   for gate in data["gates"]]
    assert [row[1] for row in table(text, "gate")] == ["✅ PASS", "✅ PASS"]

    assert "**Regressions** (1 of 1):" in text
    assert table(text, "item") == [["rollouts/0000", "1/1 -> 0/1"]]
    forgotten = [entry for entry in data["forgetting_map"] if (entry["change"] or 0) < 0]
    assert forgotten and table(text, "function") == [
        [entry["function"], str(entry["paired_items"]), percent(entry["now"], 0), percent(entry["baseline"], 0),
         f"{100 * entry['change']:+.0f}"] for entry in forgotten]
    assert "infrastructure error" not in text and "were cut at" not in text and "Warnings" not in text


def test_several_splits_and_k_samples_a_hostile_model_name_and_cut_answers(pytester):
    """K = 3 over both fixture splits, from the fake server: pass@3 beside mean@3, an overall row, the
    truncation note, the server's warning; the model's name is shown as text."""
    bench = load_benchmark(data=str(FIXTURE_DATA), docs=None, splits=("single_test", "multiple_test"),
                           splits_explicit=True, rollouts=None, cache_dir=Path("."))
    answers = {}
    for index, problem in enumerate(bench.problems):  # samples right, wrong, or cut at max_tokens by turn
        right, wrong, long = right_answer(problem), wrong_answer(problem), "thinking " * 400
        answers[problem.signature] = [[right] * 3, [right, wrong, wrong], [wrong, long, right], [long] * 3][index % 4]
    report, page = pytester.path / "now.json", pytester.path / "now.md"
    # serving the name it is asked for, and no weights' path: the plugin warns, naming the model
    with FakeServer(table_responder(answers), ServerConfig(model_id=HOSTILE_MODEL)) as server:
        result = run(pytester, f"--sebench-model={HOSTILE_MODEL}", f"--sebench-base-url={server.base_url}",
                     "--sebench-split=single_test,multiple_test", "--sebench-samples=3", "--sebench-max-tokens=300",
                     "--sebench-cache=off", "--sebench-fail-under=0.1", f"--sebench-report={report}",
                     f"--sebench-markdown={page}", "-n2")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    data, text = report_of(report), page.read_text(encoding="utf-8")
    assert_no_markup(text)
    assert unescape(text.splitlines()[0]) == f"## SE-Bench: {HOSTILE_MODEL}"
    assert f"<h2>SE-Bench: {html.escape(HOSTILE_MODEL, quote=False)}</h2>" in MarkdownIt("commonmark").render(text)
    assert text.splitlines()[2] == "✅ **Passed**: no item failed, every gate passed, no infrastructure error."
    assert text.splitlines()[6] == "| split | items | mean@3 | 95% CI | pass@3 | 95% CI |"
    summary = data["summary"]
    expected = [[name, str(stats["items"]), percent(stats["mean_at_k"]), interval(stats["mean_at_k_ci95"]),
                 percent(stats["pass_at_k"]), interval(stats["pass_at_k_ci95"])]
                for name, stats in [*summary["splits"].items(), ("**overall**", summary["overall"])]]
    assert table(text, "split") == expected  # the overall row stands out
    assert [row[0] for row in table(text, "gate")] == ["fail-under single_test", "fail-under multiple_test"]
    truncated = summary["overall"]["truncated"]
    assert truncated > 0 and f"{truncated} of {summary['overall']['samples']} answers were cut at " \
                             "max_tokens=300" in unescape(text)
    warnings = unescape(text[text.index("**Warnings**"):])  # the fake server names no weights
    assert "reports nothing that tells checkpoints apart" in warnings
    assert f"only the name {HOSTILE_MODEL!r}" in warnings


def test_n0_and_n2_write_the_same_page(pytester):
    baseline = make_baseline(pytester, BASE)
    pages = []
    for workers in WORKERS:
        page = pytester.path / f"now{workers}.md"
        rollout_run(pytester, "now", NOW, f"--sebench-baseline={baseline}", "--sebench-max-drop=1",
                    f"--sebench-markdown={page}", workers)
        pages.append(page.read_text(encoding="utf-8"))
    assert pages[0] == pages[1]


# -- regressions, forgetting, hostile names ----------------------------------------------------------------

def test_regressions_are_capped_and_names_stay_text(pytester):
    """25 regressions: the first 20 listed, the other 5 counted; function names that try Markdown and
    HTML (selected_functions of a rollout line) are shown as text in the forgetting map."""
    baseline = make_baseline(pytester, [True] * N)
    now = rollout_file(pytester.path / "now.jsonl", [index >= 25 for index in range(N)])
    rows = [json.loads(line) for line in now.read_text().splitlines()]
    rows[0]["selected_functions"] = HOSTILE_FUNCTIONS
    now.write_text("".join(json.dumps(row) + "\n" for row in rows))
    page = pytester.path / "now.md"
    result = run(pytester, f"--sebench-rollouts={now}", f"--sebench-baseline={baseline}", "--sebench-max-drop=5",
                 f"--sebench-markdown={page}", "-n2")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    text = page.read_text(encoding="utf-8")
    rendered = assert_no_markup(text)
    assert text.splitlines()[2] == "❌ **Failed**: gate max-drop failed; 25 regressions failed."
    assert "**Regressions** (20 of 25):" in text
    assert table(text, "item") == [[f"rollouts/{index:04d}", "1/1 -> 0/1"] for index in range(20)]
    assert "\n…and 5 more.\n" in text
    forgotten = table(text, "function")
    assert len(forgotten) == 10  # the ten most forgotten
    names = [row[0] for row in forgotten]
    assert HOSTILE_FUNCTIONS[0] in names
    assert HOSTILE_FUNCTIONS[1].replace("\n", " ") in names  # a line break would end the row
    shown = [row for row in rendered.rows if row[0] in names]  # as the renderer shows them: whole, as text
    assert [row[0] for row in shown] == names and all(len(row) == 5 for row in shown)
    gate = table(text, "gate")
    assert gate[0][:2] == ["max-drop", "❌ **FAIL**"]


def test_a_baseline_without_an_item_in_common(pytester):
    """Nothing paired: no table of zeros, but the reason, the counts of what is missing, and the gate
    that cannot look failing."""
    baseline = make_baseline(pytester, BASE)
    data = report_of(baseline)
    for item in data["items"]:
        item["id"] = item["id"].replace("rollouts/", "rollouts/9")
    baseline.write_text(json.dumps(data))
    page = pytester.path / "now.md"
    result = rollout_run(pytester, "now", NOW, f"--sebench-baseline={baseline}", "--sebench-max-drop=5",
                         f"--sebench-markdown={page}")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    text = page.read_text(encoding="utf-8")
    assert text.splitlines()[2] == "❌ **Failed**: gate max-drop failed."
    assert "\nNo item was paired with the baseline (none in common, or infrastructure errors on a side).\n" in text
    assert (f"Items: 0 regressions, 0 improvements, 0 known gaps, 0 flaky; {N} in the baseline but not run now; "
            f"{N} run now but not in the baseline.") in text
    assert table(text, "gate")[0][:2] == ["max-drop", "❌ **FAIL**"]
    assert "Regressions" not in text and "forgotten" not in text


def test_a_value_the_template_forgot_to_escape_is_refused():
    with pytest.raises(TypeError, match="unescaped"):
        markdown_environment().from_string("{{ name }}").render(name="<b>x</b>")
    with pytest.raises(TypeError, match="unescaped"):
        markdown_environment().from_string("{{ rate }}").render(rate=0.5)  # a figure needs its format
    assert markdown_environment().from_string("{{ name | md }} {{ n }} {{ rate | percent }}").render(
        name="<b>", n=3, rate=0.5) == "&lt;b&gt; 3 50.0%"


@pytest.mark.parametrize("value", [
    "<img src=x onerror=alert(1)>", "<script>alert(1)</script>", "&lt;b&gt; &amp; &#60;", "[link](https://x.invalid)",
    "![image](x.png)", "*em* **strong** _em_ __strong__ ~~gone~~", "`code` ``code``", "a|b \\| c\\", "$x^2$",
    "line\nbreak\r\nand\ttab", "<!-- comment -->", "\\*not em\\*", "# heading", "- item", "1. item", "> quote"])
def test_escaped_text_renders_as_itself(value):
    """In a table cell and in a line of text, a renderer with HTML allowed shows exactly the text (line
    breaks and tabs as spaces) and makes no element of it."""
    escaped = escape_markdown(value)
    shown = re.sub(r"[\r\n\t]+", " ", value)
    page = RenderedPage(f"| a |\n| :-- |\n| {escaped} |\n\nwarning: {escaped}\n")
    assert page.tags == {"table", "thead", "tbody", "tr", "th", "td", "p"}
    assert page.rows == [["a"], [shown.strip()]]
    assert cells(f"| {escaped} |") == [shown.strip()]
    paragraph = MarkdownIt("commonmark", {"html": True}).render(f"warning: {escaped}\n")
    assert paragraph == f"<p>warning: {html.escape(shown, quote=False).rstrip()}</p>\n"


# -- the job summary ------------------------------------------------------------------------------------

@pytest.mark.parametrize("workers, variable", [("-n0", "GITHUB_STEP_SUMMARY"), ("-n2", "GITHUB_STEP_SUMMARY"),
                                               ("-n2", "SEBENCH_STEP_SUMMARY")])
def test_the_job_summary_is_appended_to(pytester, monkeypatch, workers, variable):
    """Each run adds its page to the job summary after what other steps wrote, and the rerun command it
    prints leaves the file alone; so does -o sebench_step_summary= when GITHUB_STEP_SUMMARY gave the path.
    With SEBENCH_STEP_SUMMARY set too, that file is the one, and GITHUB_STEP_SUMMARY's is never touched."""
    summary, github = pytester.path / "step-summary.md", pytester.path / "github-summary.md"
    earlier = "# Build\n\nan earlier step's text, without a final line break"
    summary.write_text(earlier, encoding="utf-8")
    github.write_text(earlier, encoding="utf-8")
    monkeypatch.setenv(variable, str(summary))
    if variable != "GITHUB_STEP_SUMMARY":
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(github))
    baseline = make_baseline(pytester, BASE)  # a plugin run too: it appends its page
    pages = []
    for name in ("first", "second"):
        page = pytester.path / f"{name}.md"
        result = rollout_run(pytester, name, NOW, f"--sebench-baseline={baseline}", f"--sebench-markdown={page}",
                             workers)
        pages.append(page.read_text(encoding="utf-8"))
    text = summary.read_text(encoding="utf-8")
    assert text.startswith(earlier + "\n## SE-Bench: rollouts\n")
    assert text.count("## SE-Bench: rollouts\n") == 3 and text.endswith("\n" + pages[0] + "\n\n" + pages[1] + "\n")

    line = next(line for line in result.stdout.lines if line.startswith("rerun the regressions: "))
    words = shlex.split(line.removeprefix("rerun the regressions: "))
    assignments = words[:words.index("pytest")]
    assert assignments == ([] if variable == "GITHUB_STEP_SUMMARY" else ["SEBENCH_STEP_SUMMARY="]), line
    assert "sebench_step_summary=" in words and f"--sebench-markdown={page}" not in line
    for assignment in assignments:  # as a shell would run the command
        monkeypatch.setenv(*assignment.split("=", 1))
    again = pytester.runpytest_subprocess("-p", "no:randomly", *words[len(assignments) + 1:])
    again.assert_outcomes(failed=1, deselected=N - 1 if "-n0" in words else 0)
    if variable == "GITHUB_STEP_SUMMARY":
        off = rollout_run(pytester, "off", NOW, "-o", "sebench_step_summary=", workers)
        assert off.ret == pytest.ExitCode.TESTS_FAILED
    assert summary.read_text(encoding="utf-8") == text  # neither the rerun nor the run with -o appended
    assert github.read_text(encoding="utf-8") == earlier


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("where", ["GITHUB_STEP_SUMMARY", "SEBENCH_STEP_SUMMARY", "option", "markdown"])
def test_an_unwritable_path_is_one_usage_error_before_the_run(pytester, monkeypatch, workers, where):
    missing = pytester.path / "no-such-folder" / "summary.md"
    if where == "option":
        args = [f"--sebench-step-summary={missing}"]
        named = f"--sebench-step-summary={missing} (from the command line)"
    elif where == "markdown":
        args = [f"--sebench-markdown={pytester.path}"]
        named = f"--sebench-markdown={pytester.path} (from the command line)"
    else:
        monkeypatch.setenv(where, str(missing))
        args, named = [], f"--sebench-step-summary={missing} (from environment variable {where})"
    result = rollout_run(pytester, "now", NOW, *args, workers)
    assert result.ret == USAGE_ERROR, result.stdout.str() + result.stderr.str()
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert len(errors) == 1 and named in errors[0], result.stderr.str()
    assert ("is a folder" if where == "markdown" else "does not exist") in errors[0]
    assert "Traceback" not in result.stderr.str() and "SE-Bench summary" not in result.stdout.str()



def test_an_append_that_stops_short_leaves_the_file_as_it_was(tmp_path, monkeypatch):
    """A full disk halfway through: the bytes that went are cut off again, what was there stays."""
    summary = tmp_path / "summary.md"
    summary.write_text("other steps' text\n", encoding="utf-8")
    real_write = files.os.write
    calls = []

    def write_half_then_fail(handle: int, data: bytes) -> int:
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(handle, data[:len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "write", write_half_then_fail)
    with pytest.raises(files.OutputError, match=f"cannot append to {re.escape(str(summary))}: No space left"):
        files.append_whole(summary, "## SE-Bench: x\n" * 100)
    assert len(calls) == 2 and summary.read_text(encoding="utf-8") == "other steps' text\n"
    monkeypatch.setattr(files.os, "write", real_write)
    files.append_whole(summary, "## SE-Bench: x\n")
    assert summary.read_text(encoding="utf-8") == "other steps' text\n## SE-Bench: x\n"
