"""The HTML page in a real browser: Debian's chromium, headless, driven by Playwright, network off.

Each page is opened in a context that is offline and whose every request but the page file itself is
recorded and aborted: the page must load with no request, no console error, show the report's figures,
draw the charts, open items (by a click and by ``#<id>`` in the URL), filter its list, and show hostile
text from a report as text, running nothing.

Skipped with the reason when /usr/bin/chromium or Playwright is missing, unless
``SEBENCH_REQUIRE_BROWSER=1`` (then they fail). Under xdist they run on one worker (``xdist_group``,
see conftest.py), which starts the browser once.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import FIXTURE_DATA
from gate_runs import BASE, NOW, N, report_of, rollout_file
from test_html_page import HOSTILE, hostile_report

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.xdist_group("browser")
# a checkpoint between BASE and NOW: item 0 already lost, item 3 not yet learned
MIDDLE = [False, False, True, False] + [True] * (N - 4)


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"no browser at {CHROMIUM} (Debian's chromium package)"
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (the test extra brings it)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = _missing()
    if missing is not None:
        if os.environ.get("SEBENCH_REQUIRE_BROWSER") == "1":
            pytest.fail(f"SEBENCH_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


def report(folder: Path, name: str, solved: list[bool], revision: str) -> Path:
    """A real report of a plugin run over a rollout file, named as a checkpoint."""
    rollouts = rollout_file(folder / f"{name}.jsonl", solved)
    path = folder / f"{name}.json"
    subprocess.run([sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider", "-q",
                    f"--sebench-data={FIXTURE_DATA}", f"--sebench-rollouts={rollouts}", f"--sebench-report={path}"],
                   cwd=folder, capture_output=True, check=False)
    data = report_of(path)
    data["provenance"]["model"]["revision"] = revision
    path.write_text(json.dumps(data))
    return path


def make_page(out: Path, *arguments: str) -> Path:
    done = subprocess.run([sys.executable, "-m", "pytest_sebench", "html", *arguments, "-o", str(out)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pages")
    reports = [report(folder, name, solved, revision) for name, solved, revision in
               (("base", BASE, "step-100"), ("middle", MIDDLE, "step-150"), ("now", NOW, "step-200"))]
    hostile = folder / "hostile"
    hostile.mkdir()
    hostile_reports = [hostile_report(report(hostile, name, solved, revision)) for name, solved, revision in
                       (("base", BASE, "step-100"), ("now", NOW, "step-200"))]
    return {"reports": folder,
            "checkpoints": make_page(folder / "checkpoints.html", *map(str, reports), "--fail-under=0.5"),
            "hostile": make_page(folder / "hostile.html", *map(str, hostile_reports))}


class Opened:
    """A page opened offline, with every request, console error and dialog recorded."""

    def __init__(self, browser: Any, path: Path, fragment: str = "") -> None:
        self.requests: list[str] = []
        self.problems: list[str] = []
        self.context = browser.new_context(offline=True, viewport={"width": 1400, "height": 900})
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("console", lambda message: message.type == "error" and self.problems.append(message.text))
        self.page.on("pageerror", lambda error: self.problems.append(str(error)))
        self.page.on("dialog", lambda dialog: (self.problems.append(f"dialog {dialog.message}"), dialog.dismiss()))
        self.url = path.as_uri()
        self.page.goto(self.url + fragment)
        self.page.wait_for_selector("html[data-ready]")
        assert self.page.evaluate("document.documentElement.dataset.ready") == "true"

    def _route(self, route: Any) -> None:
        if route.request.url.split("#")[0] == self.url:
            route.continue_()  # the page file itself; nothing else may be fetched
        else:
            self.requests.append(route.request.url)
            route.abort()

    def close(self) -> None:
        self.context.close()

    def row(self, item_id: str) -> Any:
        return self.page.locator(f'tr.item[data-id="{item_id}"]')

    def details(self, item_id: str) -> Any:
        return self.page.locator(f'tr.item[data-id="{item_id}"] + tr.details')

    def visible_ids(self) -> list[str]:
        return self.page.eval_on_selector_all("tr.item:not([hidden])", "rows => rows.map(r => r.dataset.id)")


@pytest.fixture
def opened(browser: Any, pages: dict[str, Path]) -> Iterator[Opened]:
    page = Opened(browser, pages["checkpoints"])
    yield page
    page.close()


def test_the_page_loads_offline_with_no_request_and_no_error(opened):
    assert opened.requests == [opened.url]
    assert opened.problems == []
    assert opened.page.title().startswith("SE-Bench: rollouts@step-200")


def test_the_reports_figures_are_shown(opened, pages):
    summary = report_of(pages["reports"] / "now.json")["summary"]["splits"]["rollouts"]
    row = opened.page.locator('#accuracy-table tr[data-split="rollouts"]')
    assert row.locator("td.mean").inner_text() == f"{100 * summary['mean_at_k']:.1f} %"
    low, high = summary["mean_at_k_ci95"]
    assert row.locator("td.ci").first.inner_text() == f"{100 * low:.1f}\N{EN DASH}{100 * high:.1f}"
    gates = opened.page.locator("#gates-table tr.gate")
    assert gates.count() == 1
    assert gates.locator("th").inner_text() == "fail-under rollouts"
    assert gates.locator(".verdict").inner_text() == "PASS"
    assert "rollouts@step-150" in opened.page.locator("#comparison h2").inner_text()  # judged against the middle


def test_the_charts_are_drawn(opened):
    chart = opened.page.locator("#accuracy-chart svg")
    assert chart.bounding_box()["height"] > 100
    # one marker per checkpoint on the split's line
    assert opened.page.locator("#sebench-accuracy-split-0 use").count() == 3
    labels = opened.page.locator("#checkpoints ol.checkpoints li").all_inner_texts()
    assert labels == ["rollouts@step-100", "rollouts@step-150", "rollouts@step-200"]
    heat = opened.page.locator("#heat-map svg")
    assert heat.bounding_box()["height"] > 50
    caption = opened.page.locator("#heat-map figcaption").inner_text()
    rows = int(caption.split(" of the ")[0].rsplit(" ", 1)[-1])
    assert rows >= 2  # the functions of items 0 and 3 changed
    assert opened.page.locator("#sebench-heat-cells path").count() == 3 * rows


def test_an_item_opens_on_a_click_and_from_its_link(opened, pages, browser):
    item = report_of(pages["reports"] / "now.json")["items"][0]
    assert opened.details("rollouts/0000").count() == 0
    opened.row("rollouts/0000").locator("td").nth(1).click()
    details = opened.details("rollouts/0000")
    details.wait_for()
    sample = item["samples"][0]
    assert details.locator("pre.code").inner_text().strip() == sample["code"].strip()
    assert details.locator("pre.code span").count() > 5  # highlighted: Pygments' tokens as spans
    assert details.locator("table.cases tbody tr").count() == len(sample["cases"])
    assert details.locator(".category").inner_text() == "result_error"
    assert details.locator("tr.case td").nth(1).inner_text() == sample["cases"][0]["input"]
    opened.row("rollouts/0000").locator("td").nth(1).click()  # a second click closes it
    assert opened.details("rollouts/0000").count() == 0
    linked = Opened(browser, pages["checkpoints"], "#rollouts/0003")
    try:
        details = linked.details("rollouts/0003")
        assert details.is_visible() and details.locator(".category").first.inner_text() == "correct"
        assert linked.page.evaluate("window.scrollY") > 0  # scrolled to it
        assert linked.problems == [] and linked.requests == [linked.url]
    finally:
        linked.close()


def test_filters_and_search_hide_and_show_rows(opened, pages):
    items = report_of(pages["reports"] / "now.json")["items"]
    everything = [item["id"] for item in items]
    assert sorted(opened.visible_ids()) == sorted(everything)
    opened.page.select_option("#filter-category", label="result_error")
    wrong = [item["id"] for item in items if any(s["category"] == "result_error" for s in item["samples"])]
    assert sorted(opened.visible_ids()) == sorted(wrong) and len(wrong) == 2
    assert opened.page.locator("#shown-count").inner_text() == f"2 of {N} items shown"
    opened.page.select_option("#filter-category", value="")
    function = items[5]["library_functions"][0]
    opened.page.select_option("#filter-function", label=function)
    assert sorted(opened.visible_ids()) == sorted(item["id"] for item in items if function in item["library_functions"])
    opened.page.select_option("#filter-function", value="")
    opened.page.fill("#filter-search", "0003")
    assert opened.visible_ids() == ["rollouts/0003"]
    opened.page.fill("#filter-search", "")
    assert len(opened.visible_ids()) == N


def test_hostile_text_runs_nothing_and_is_shown_as_text(browser, pages):
    hostile = Opened(browser, pages["hostile"], "#rollouts/0000")
    try:
        page = hostile.page
        details = hostile.details("rollouts/0000")
        details.wait_for()
        page.eval_on_selector_all("details", "all => all.forEach(d => { d.open = true; })")
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.evaluate("document.querySelectorAll('img, image, iframe, object, embed').length") == 0
        assert page.evaluate("document.scripts.length") == 2  # the island and the page's own script
        shown = details.inner_text()
        for where in ("query", "response", "reasoning", "stderr", "got", "input", "reason"):
            assert f"{where} {HOSTILE}" in shown, where
        assert HOSTILE in details.locator("pre.code").inner_text()
        assert f"qel.{HOSTILE}" in hostile.row("rollouts/0000").locator("td.functions").inner_text()
        assert f"model{HOSTILE}@step-200" in page.locator("h1").inner_text()
        # the checkpoint labels inside matplotlib's SVG are text too
        for chart in ("#accuracy-chart", "#heat-map"):  # labels cut to 32 characters
            texts = page.eval_on_selector_all(f"{chart} svg text", "all => all.map(t => t.textContent)")
            assert any(HOSTILE[:20] in text for text in texts), chart
        page.wait_for_timeout(200)  # an onerror would have fired by now
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert hostile.problems == [] and hostile.requests == [hostile.url]
    finally:
        hostile.close()
