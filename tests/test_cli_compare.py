"""``sebench compare`` against the plugin's own gate: on the same two reports both conclude the same.

Each scenario makes a baseline report and a later run's report with the plugin (rollout files, K = 1,
and the fake model server, K = 5, where the paired bootstrap is used), runs the later run with
``--sebench-baseline`` and gate options, then ``sebench compare BASE NOW`` with the same gates in a
fresh interpreter: the exit statuses must match, and in-process the recomputed conclusions must
equal, field for field, what the plugin wrote into its report.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy  # noqa: F401  (loaded before pytester snapshots sys.modules: the statistics import it lazily)
import pytest

from gate_runs import (BASE, N, NOW, SINGLE, make_baseline, report_of, right_answer, rollout_run, served_run,
                       with_counts, wrong_answer)
from pytest_sebench.gate.baseline import load_run_report
from pytest_sebench.gate.evaluation import GateSettings
from pytest_sebench.report.judge import judge
from pytest_sebench.report.runs import read_run
from pytest_sebench.testing import FakeServer, table_responder

USAGE_ERROR = 2


def sebench(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_sebench", *map(str, args)], capture_output=True,
                          text=True, timeout=120)


def compare_args(plugin_args: tuple[str, ...]) -> list[str]:
    """The plugin's gate options as sebench compare spells them."""
    return [arg.replace("--sebench-", "--") for arg in plugin_args if not arg.startswith("-n")]


def gates_of(plugin_args: tuple[str, ...]) -> tuple[GateSettings, bool]:
    values = dict(arg.removeprefix("--sebench-").split("=", 1) for arg in plugin_args if arg.startswith("--"))
    fail_under = None
    if "fail-under" in values:
        fail_under = {"*": float(values["fail-under"])}
    max_drop = float(values["max-drop"]) if "max-drop" in values else None
    return (GateSettings(fail_under, max_drop, float(values.get("alpha", 0.05))),
            values.get("regressions", "fail") == "fail")


def assert_same_conclusions(base: Path, now: Path, plugin_args: tuple[str, ...]) -> None:
    gates, regressions_fail = gates_of(plugin_args)
    evaluation = judge(load_run_report(base), read_run(now), gates, regressions_fail=regressions_fail)
    written = report_of(now)
    recomputed = evaluation.to_json()
    for key in ("comparison", "gates", "forgetting_map", "taxonomy"):
        assert recomputed[key] == written[key], key
    assert evaluation.summary.to_json() == written["summary"]
    outcomes = {item["id"]: item["outcome"] for item in written["items"]}
    assert {item_id: outcome.to_json() for item_id, outcome in evaluation.comparison.outcomes.items()} == outcomes


ALL_SOLVED = [True] * N
LOST_TEN = [index >= 10 for index in range(N)]  # 10 of 31 lost: -32.3 points

SCENARIOS = {
    # name: (baseline solved, now solved, plugin options, expected exit status)
    "a regression fails": (BASE, NOW, (), 1),
    "regressions only reported": (BASE, NOW, ("--sebench-regressions=report",), 0),
    "max-drop fires": (ALL_SOLVED, LOST_TEN, ("--sebench-regressions=report", "--sebench-max-drop=5"), 1),
    "max-drop holds": (ALL_SOLVED, LOST_TEN, ("--sebench-regressions=report", "--sebench-max-drop=40"), 0),
    "fail-under fails": (BASE, NOW, ("--sebench-regressions=report", "--sebench-fail-under=0.99"), 1),
    "fail-under met, stricter alpha": (BASE, NOW, ("--sebench-fail-under=0.5", "--sebench-alpha=0.01",
                                                   "--sebench-regressions=report"), 0),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_compare_agrees_with_the_plugin(pytester, scenario):
    before, after, options, expected = SCENARIOS[scenario]
    base = make_baseline(pytester, before)
    now = pytester.path / "now.json"
    workers = ("-n2",) if scenario == "a regression fails" else ("-n0",)
    plugin = rollout_run(pytester, "now", after, f"--sebench-baseline={base}", f"--sebench-report={now}",
                         *options, *workers)
    assert plugin.ret == expected, plugin.stdout.str()
    command = sebench("compare", base, now, *compare_args(options))
    assert command.returncode == expected, command.stdout + command.stderr
    assert_same_conclusions(base, now, options)
    if expected:
        assert "FAILED" in command.stdout
    for gate in report_of(now)["gates"]:  # each gate's verdict and detail, as the plugin printed them
        assert f"gate {gate['gate']}: {'PASS' if gate['passed'] else 'FAIL'}" in command.stdout


def test_compare_agrees_with_k_samples_and_the_bootstrap(pytester):
    four = SINGLE[:4]
    table = {p.signature: [right_answer(p)] * 2 + [wrong_answer(p)] * 3 for p in four}
    ids = [p.id for p in four]
    first = pytester.path / "first.json"
    with FakeServer(table_responder(table)) as server:
        served_run(pytester, server, f"--sebench-report={first}")
        base = pytester.path / "baseline.json"
        base.write_text(json.dumps(with_counts(report_of(first), dict(zip(ids, [5, 5, 4, 0], strict=True)))))
        now = pytester.path / "now.json"
        options = ("--sebench-regressions=report", "--sebench-max-drop=10")
        plugin = served_run(pytester, server, f"--sebench-baseline={base}", f"--sebench-report={now}", *options)
    assert report_of(now)["comparison"]["paired"]["overall"]["method"] == "bootstrap"
    command = sebench("compare", base, now, *compare_args(options))
    assert command.returncode == plugin.ret, command.stdout + command.stderr
    assert_same_conclusions(base, now, options)


def test_incomparable_reports_are_refused_unless_forced(pytester):
    base = make_baseline(pytester, BASE)
    now = pytester.path / "now.json"
    rollout_run(pytester, "now", NOW, f"--sebench-report={now}")
    data = report_of(base)
    data["provenance"]["split_fingerprints"]["rollouts"] = "0123456789abcdef"
    base.write_text(json.dumps(data))
    refused = sebench("compare", base, now)
    assert refused.returncode == USAGE_ERROR
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "split rollouts: the problems differ" in lines[0] and "--force" in lines[0]
    forced = sebench("compare", base, now, "--force")
    assert forced.returncode == 1  # the regression fails, as with --sebench-baseline-force
    assert "warning: split rollouts: the problems differ" in forced.stdout


@pytest.mark.parametrize("args, message", [
    (("missing.json", "now.json"), "missing.json: no such file"),
    (("broken.json", "now.json"), "broken.json:1: not JSON"),
    (("now.json", "broken.json"), "broken.json:1: not JSON"),
    (("now.json", "now.json", "--max-drop=120"), "argument --max-drop: expected percentage points from 0 to 100"),
    (("now.json", "now.json", "--fail-under=nosuch:0.5"), "argument --fail-under: unknown split 'nosuch'"),
    (("now.json",), "the following arguments are required: NEW.json"),
])
def test_bad_input_is_one_message_and_exit_2(pytester, args, message):
    rollout_run(pytester, "now", NOW, f"--sebench-report={pytester.path / 'now.json'}")
    (pytester.path / "broken.json").write_text("{not json")
    result = subprocess.run([sys.executable, "-m", "pytest_sebench", "compare", *args], capture_output=True,
                            text=True, cwd=pytester.path, timeout=120)
    assert result.returncode == USAGE_ERROR
    assert message in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_the_console_script_is_installed():
    script = Path(sys.executable).with_name("sebench")
    result = subprocess.run([str(script), "compare", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "BASE.json NEW.json" in result.stdout


def test_names_from_reports_are_printed_as_written(pytester):
    """rich would read a model name or a function name as markup, and stop at a stray closing tag."""
    base = make_baseline(pytester, BASE)
    now = pytester.path / "now.json"
    rollout_run(pytester, "now", NOW, f"--sebench-report={now}")
    data = report_of(now)
    data["provenance"]["model"] = {"name": "ckpt[/bold][red]x", "revision": "step-[b]1"}
    data["summary"]["model"] = "ckpt[/bold][red]x"
    for item in data["items"][:1]:
        item["library_functions"] = ["qel.[/i]evil"]
    now.write_text(json.dumps(data))
    result = sebench("compare", base, now, "--width", "200")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "ckpt[/bold][red]x@step-[b]1" in result.stdout and "qel.[/i]evil" in result.stdout
