"""The HTML page without a browser: its model from real reports, ``sebench html``, ``--sebench-html``
under -n0 and -n2, the data island, and text from reports escaped where the server renders it.

Reports come from whole runs of the plugin (pytester) over rollout files, as in test_gate_run.py, so
each item's fate is chosen; ``test_html_browser.py`` opens the same pages in a real browser.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

# Loaded before pytester's snapshot of sys.modules: the in-process `sebench html` calls below would
# otherwise import them inside a test, and pytester would unload them after it (NumPy warns on a reload).
import matplotlib.figure  # noqa: F401
import numpy  # noqa: F401

from pytest_sebench.cli.main import main
from pytest_sebench.prompt.templates import PromptBuilder
from pytest_sebench.report.html.history import Checkpoint, heat_map
from pytest_sebench.report.html.code import TokenClasses
from pytest_sebench.report.html.items import decode_island, item_details, reasoning_limit
from pytest_sebench.report.html.page import build_page, render_page
from pytest_sebench.report.prompts import PromptMaker, fill
from pytest_sebench.report.runs import RunData, read_run
from gate_runs import BASE, BENCH, NOW, N, SINGLE, make_baseline, report_of, rollout_run

WORKERS = ["-n0", "-n2"]
HOSTILE = '</script><script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
ISLAND = re.compile(r'<script type="application/gzip" id="sebench-data">([A-Za-z0-9+/=]*)</script>')


def island_of(page: str) -> dict:
    found = ISLAND.search(page)
    assert found, "no data island"
    return decode_island(found.group(1))


def two_checkpoints(pytester: pytest.Pytester) -> tuple[Path, Path]:
    """base.json (revision step-100, BASE solved) and now.json (step-200, NOW solved), no baseline."""
    paths = []
    for name, solved, revision in (("base", BASE, "step-100"), ("now", NOW, "step-200")):
        path = pytester.path / f"{name}.json"
        result = rollout_run(pytester, name, solved, f"--sebench-report={path}")
        assert path.is_file(), result.stdout.str()
        data = report_of(path)
        data["provenance"]["model"]["revision"] = revision  # rollout runs have none: name the checkpoints
        path.write_text(json.dumps(data))
        paths.append(path)
    return paths[0], paths[1]


class Tags(HTMLParser):
    """Every start tag of a page, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append((tag, dict(attrs)))


def tags_of(page: str) -> list[tuple[str, dict]]:
    parser = Tags()
    parser.feed(page)
    return parser.tags


# -- the page model --------------------------------------------------------------------------------

def test_one_report_shows_its_own_figures(pytester):
    path = make_baseline(pytester, BASE)
    report = report_of(path)
    page = build_page([read_run(path)])
    assert page.charts is None and page.sources == [str(path)]
    (split,) = page.figures.splits
    stats = report["summary"]["splits"]["rollouts"]
    assert split.name == "rollouts" and split.items == N == stats["items"]
    assert split.mean == f"{100 * stats['mean_at_k']:.1f} %" and split.pass_k is None  # K = 1
    assert page.figures.baseline is None and page.figures.gates == []
    assert [row.id for row in page.items.rows] == [item["id"] for item in report["items"]]  # run order
    island = island_of(render_page(page))
    assert [item["id"] for item in island["items"]] == [item["id"] for item in report["items"]]
    assert island["figures"]["summary"] == report["summary"]
    for mine, theirs in zip(island["items"], report["items"], strict=True):
        assert [s["cat"] for s in mine["samples"]] == [s["category"] for s in theirs["samples"]]
        assert mine["query"] == theirs["problem"]["query"] and mine["prompt"] is None  # a rollout file


def test_checkpoints_are_judged_as_the_plugin_judges(pytester):
    base, now = two_checkpoints(pytester)
    out = pytester.path / "page.html"
    assert main(["html", str(now), str(base), "-o", str(out)]) == 0  # given newest first: ordered by revision
    page = out.read_text(encoding="utf-8")
    island = island_of(page)
    # what the pytest run of NOW against BASE decides (test_gate_run.test_every_outcome_against_a_baseline)
    rows = re.findall(r'<tr class="item (\w+)" data-index="(\d+)" data-id="([^"]+)"', page)
    assert rows[0][2] == "rollouts/0000" and rows[0][0] == "fail"  # the regression first
    assert [row[2] for row in rows[1:4]] == ["rollouts/0001", "rollouts/0002", "rollouts/0003"]
    assert island["figures"]["outcomes"] == {"improvement": 1, "known_gap": 1, "regression": 1, "solved": N - 3}
    assert island["figures"]["paired"]["overall"]["items"] == N
    assert "Comparison with <span class=\"baseline-label\">rollouts@step-100</span>" in page
    assert re.search(r"<b>regressions</b> \(1\):\s*<a href=\"#rollouts/0000\">", page)
    # two checkpoints: the chart and the heat map (items 0 and 3 changed, and their functions with them)
    assert '<ol class="checkpoints">' in page and "rollouts@step-100" in page and "rollouts@step-200" in page
    changed = {name for index in (0, 3) for name in _functions(base, index)}
    heat = page[page.index('id="sebench-heat-cells"'):]
    cells = heat[:heat.index("</g>")].count("<path")
    assert cells == 2 * len(changed)
    assert f"{len(changed)} of the {len(changed)} functions whose pass rate changed" in page
    again = pytester.path / "again.html"
    assert main(["html", str(base), str(now), "-o", str(again)]) == 0
    assert again.read_bytes() == out.read_bytes()  # the same reports, the same page (charts included)


def _functions(path: Path, index: int) -> list[str]:
    return report_of(path)["items"][index]["library_functions"]


def test_heat_map_rows_lost_earliest_then_most_first():
    points = [Checkpoint("a", {}, {"kept": 1.0, "late": 1.0, "early_small": 1.0, "early_big": 1.0, "gained": 0.0}),
              Checkpoint("b", {}, {"kept": 1.0, "late": 1.0, "early_small": 0.8, "early_big": 0.2, "gained": 0.5}),
              Checkpoint("c", {}, {"kept": 1.0, "late": 0.0, "early_small": 0.8, "early_big": 0.2, "gained": 1.0,
                                   "new": 0.5})]
    heat = heat_map(points)
    assert [row.function for row in heat.rows] == ["early_big", "early_small", "late", "gained"]
    assert heat.changed == 4 and heat.rows[0].rates == (1.0, 0.2, 0.2)
    limited = heat_map(points, limit=2)
    assert len(limited.rows) == 2 and limited.changed == 4


# -- prompts ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["closed", "open"])
def test_prompts_are_rebuilt_as_the_plugin_built_them(mode):
    builder = PromptBuilder.create(mode, None)
    problem = SINGLE[0]
    item = {"problem": {"query": problem.query, "signature": problem.signature,
                        "example": {"input": problem.example.input, "output": problem.example.expected}},
            "library_functions": ["qel.vihalir"]}
    maker = PromptMaker({"model": {"prompt_template": builder.template}, "mode": mode}, "qel")
    rebuilt = maker.prompt(item)
    real = builder.build(problem, BENCH.library)
    if mode == "closed":
        assert rebuilt == real
    else:  # the docs are not kept: a note names them where they stood
        heading = "Documentation of the `qel` functions you may need:\n\n"
        before, after = real.split(heading)
        answer = after[after.index("\n\nComplete this function"):]
        assert rebuilt == before + heading + "[the docs of qel.vihalir: not kept in the report]" + answer


def test_long_reasoning_keeps_its_beginning_and_end():
    assert reasoning_limit(699 * 5) == 1_000 and reasoning_limit(49) == 20_000  # a share of 2 million
    thoughts = "first " + "x" * 50_000 + " last"
    item = {"id": "single_test/0000-x", "samples": [{"category": "correct", "answer": {"reasoning": thoughts,
                                                                                        "response": "short"}}]}
    (sample,) = item_details(item, PromptMaker({}, "qel"), TokenClasses(), reasoning=1_000)["samples"]
    assert sample["think"].startswith("first ") and sample["think"].endswith(" last") and sample["resp"] == "short"
    assert "[... 49,011 characters left out here; the JSON report keeps the whole text ...]" in sample["think"]
    assert len(sample["think"]) < 1_100


def test_a_report_with_odd_fields_still_makes_a_page():
    sample = {"category": "correct", "seconds": float("nan"), "cases": "none", "answer": []}
    odd = RunData("odd.json", {"summary": {"splits": {"x": {"mean_at_k": float("nan"), "k": 1}}, "library": 3},
                               "gates": "none", "comparison": [], "provenance": {"model": "?"}},
                  lambda: iter([{"id": "x/1", "samples": "none"},
                                {"id": "x/2", "problem": [], "samples": [1, sample]}]))
    island = island_of(render_page(build_page([odd])))
    assert [item["id"] for item in island["items"]] == ["x/1", "x/2"]
    assert island["items"][1]["samples"][0]["sec"] is None
    assert island["figures"]["summary"]["splits"]["x"]["mean_at_k"] is None  # strict JSON for the browser


def test_a_reports_template_cannot_run_format_specs():
    text = fill("{query:>999999999} {query.__class__} {query!r} {{x}} {query}", {"query": "Q"})
    assert text == "{query:>999999999} {query.__class__} {query!r} {x} Q"


# -- sebench html: exit statuses and messages ------------------------------------------------------

@pytest.mark.parametrize("content, why", [(None, "no such file"), ("{not json", "not JSON"),
                                          ('{"schema_version": 1, "items": []}', "not a pytest-sebench report")])
def test_an_unreadable_report_is_one_message(tmp_path, capsys, content, why):
    report = tmp_path / "r.json"
    if content is not None:
        report.write_text(content)
    out = tmp_path / "page.html"
    assert main(["html", str(report), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sebench html: error: ") and str(report) in err and why in err
    assert list(tmp_path.iterdir()) == ([report] if content is not None else [])


@pytest.mark.parametrize("where, why", [("missing/page.html", "folder"), (".", "is a folder"),
                                        ("baseline.json", "is one of the reports read")])
def test_an_unwritable_output_is_named_and_nothing_is_written(pytester, capsys, where, why):
    report = make_baseline(pytester, BASE)
    before = sorted(pytester.path.iterdir())
    out = pytester.path / where
    assert main(["html", str(report), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"-o {out}" in err and why in err
    assert sorted(pytester.path.iterdir()) == before  # nothing partial


def test_incomparable_checkpoints_are_refused_unless_forced(pytester, capsys):
    base, now = two_checkpoints(pytester)
    data = report_of(base)
    data["provenance"]["split_fingerprints"]["rollouts"] = "0123456789abcdef"
    base.write_text(json.dumps(data))
    out = pytester.path / "page.html"
    assert main(["html", str(base), str(now), "-o", str(out)]) == 2
    assert "the problems differ" in capsys.readouterr().err and not out.exists()
    assert main(["html", str(base), str(now), "-o", str(out), "--force"]) == 0 and out.is_file()


def test_gates_given_to_the_command_are_shown_with_their_verdict(pytester):
    base, now = two_checkpoints(pytester)
    out = pytester.path / "page.html"
    assert main(["html", str(base), str(now), "-o", str(out), "--fail-under=0.5", "--max-drop=50"]) == 0
    page = out.read_text(encoding="utf-8")
    gates = re.findall(r'<tr class="gate (\w+)">\s*<th>([^<]+)</th><td class="verdict">(\w+)</td>', page)
    assert gates == [("passed", "fail-under rollouts", "PASS"), ("passed", "max-drop", "PASS")]


# -- --sebench-html -------------------------------------------------------------------------------

@pytest.mark.parametrize("workers", WORKERS)
def test_the_plugin_writes_the_page(pytester, workers):
    baseline = make_baseline(pytester, BASE)
    page_path, report = pytester.path / "page.html", pytester.path / "now.json"
    result = rollout_run(pytester, "now", NOW, f"--sebench-baseline={baseline}", f"--sebench-report={report}",
                         f"--sebench-html={page_path}", workers)
    result.assert_outcomes(failed=1, xfailed=1, passed=N - 2)
    page = page_path.read_text(encoding="utf-8")
    data = report_of(report)
    island = island_of(page)
    assert [item["id"] for item in island["items"]] == [item["id"] for item in data["items"]]
    assert island["figures"]["summary"] == data["summary"]
    assert island["figures"]["outcomes"] == data["comparison"]["outcomes"]
    for mine, theirs in zip(island["items"], data["items"], strict=True):
        assert [s["cat"] for s in mine["samples"]] == [s["category"] for s in theirs["samples"]]
        codes = [mine["codes"][s["code"]][0] for s in mine["samples"]]
        assert codes == [s["code"] for s in theirs["samples"]]
    assert page.count('<ol class="checkpoints">') == 1  # the baseline is the older checkpoint
    assert not list(pytester.path.glob(".page.html.*"))


def test_an_unwritable_page_stops_the_run_before_it_starts(pytester):
    where = pytester.path / "missing" / "page.html"
    result = rollout_run(pytester, "now", NOW, f"--sebench-html={where}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert len(errors) == 1 and f"--sebench-html={where}" in errors[0] and "does not exist" in errors[0]
    assert "passed" not in result.stdout.str() and not where.parent.exists()


def test_a_served_run_keeps_its_prompts_and_pass_at_k(pytester):
    from pytest_sebench.testing import FakeServer, table_responder
    from gate_runs import right_answer, wrong_answer

    problems = SINGLE[:2]
    table = {p.signature: [right_answer(p), wrong_answer(p), right_answer(p)] for p in problems}
    page_path = pytester.path / "page.html"
    with FakeServer(table_responder(table)) as server:
        result = pytester.runpytest_subprocess(
            "-p", "no:randomly", f"--sebench-data={BENCH.data_source}", "--sebench-model=ckpt",
            f"--sebench-base-url={server.base_url}", "--sebench-split=single_test", "--sebench-samples=3",
            "--sebench-backoff=0.01", f"--sebench-cache={pytester.path / 'cache'}", f"--sebench-html={page_path}",
            "-k", " or ".join(p.id.split("/")[1] for p in problems))
        result.assert_outcomes(passed=2)
        prompts = {record.prompt for record in server.requests if record.path.endswith("completions")}
    page = page_path.read_text(encoding="utf-8")
    assert '<th>pass@k</th>' in page  # K = 3
    island = island_of(page)
    assert {item["prompt"] for item in island["items"]} == prompts
    first = island["items"][0]
    # which sample gets which answer depends on the order the requests arrive in
    assert sorted(s["cat"] for s in first["samples"]) == ["correct", "correct", "result_error"]
    right = {s["code"] for s in first["samples"] if s["cat"] == "correct"}
    assert len(first["codes"]) == 2 and len(right) == 1  # the two identical codes are stored once
    assert len(first["caseSets"]) == 1  # every sample ran the same cases
    assert all(s["resp"] for s in first["samples"])  # raw responses kept


# -- escaping --------------------------------------------------------------------------------------

def hostile_report(path: Path) -> Path:
    """The report with hostile text in every field a model or a dataset writes."""
    data = report_of(path)
    data["provenance"]["model"]["name"] = f"model{HOSTILE}"
    data["summary"]["model"] = f"model{HOSTILE}"
    item = data["items"][0]
    item["library_functions"] = [f"qel.{HOSTILE}"]
    item["problem"]["query"] = f"query {HOSTILE}"
    sample = item["samples"][0]
    sample.update(code=f"# {HOSTILE}\nx = '{HOSTILE}'\n", stderr=f"stderr {HOSTILE}", category="result_error",
                  reason=f"reason {HOSTILE}")
    sample["answer"].update(response=f"response {HOSTILE}", reasoning=f"reasoning {HOSTILE}")
    sample["cases"][0].update(got=f"got {HOSTILE}", input=f"input {HOSTILE}", passed=False)
    path.write_text(json.dumps(data))
    return path


def test_hostile_text_is_escaped_where_the_server_renders_it(pytester):
    base, now = two_checkpoints(pytester)
    hostile_report(base)
    hostile_report(now)
    out = pytester.path / "page.html"
    assert main(["html", str(base), str(now), "-o", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    tags = tags_of(page)
    assert [tag for tag, _ in tags].count("script") == 2  # the island and the page's own script
    assert not [tag for tag, _ in tags if tag in ("img", "image", "iframe", "object", "embed")]
    assert not [attrs for _, attrs in tags if any(name.startswith("on") for name in attrs)]
    assert "&lt;/script&gt;&lt;script&gt;window.__pwned=1" in page  # shown as text (row, title, charts)
    island = island_of(page)
    assert island["items"][0]["query"] == f"query {HOSTILE}"  # data, placed with textContent
    (policy,) = [attrs["content"] for tag, attrs in tags if attrs.get("http-equiv") == "Content-Security-Policy"]
    assert policy.startswith("default-src 'none'; script-src 'sha256-") and "img-src data:" in policy
    script = page[page.rindex("<script>") + len("<script>"):page.rindex("</script>")]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}';" in policy  # exactly the page's own script may run
