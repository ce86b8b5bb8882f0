"""``sebench history``: accuracy per split over checkpoints, from real reports made by runs of the plugin.

Each checkpoint after the first also ran with ``--sebench-baseline=<the one before>``, so its report
holds the gate's own paired comparison: the history's change must be exactly that. Served
checkpoints (pytester runs against the fake model server, K = 2, both splits) test the revision
order and the bootstrap; rollout files (K = 1, runs shared by the module's tests, which edit copies)
test the time order, McNemar, refused and unpaired items.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURE_DATA, write_rows
from gate_runs import plugin_run
from pytest_sebench.cli.main import main
from pytest_sebench.data.benchmark import load_benchmark
from pytest_sebench.model.reference import reference_response
from pytest_sebench.testing import FakeServer, table_responder

BENCH = load_benchmark(data=str(FIXTURE_DATA), docs=None, splits=("single_test", "multiple_test"),
                       splits_explicit=True, rollouts=None, cache_dir=Path("."))
SELECTED = "000"  # -k: items 0000-0009 of both splits
PROBLEMS = [problem for problem in BENCH.problems if SELECTED in problem.id]
SINGLE = [problem for problem in BENCH.problems if problem.split == "single_test"]
WRONG = "```python\nimport qel\ndef {name}(*args, **kwargs):\n    return qel.{sum}([0.5])\n```"
K = 2
# correct samples of item i at each checkpoint (of K); lexicographic order would put step-1200 first
CHECKPOINTS = {"step-90": lambda i: i % 3 % K, "step-900": lambda i: 2 if i % 4 else 1,
               "step-1200": lambda i: (i + 1) % 3 % K}
SPLITS = ("single_test", "multiple_test", "overall")


def right(problem) -> str:
    return reference_response(problem, BENCH.library)


def wrong(problem) -> str:
    return WRONG.format(name=problem.entry_point, sum=BENCH.library.main["sum"])


def sebench(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_sebench", *map(str, args)], capture_output=True,
                          text=True, timeout=120, env=dict(os.environ))


def report_of(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def history_json(*paths: Path) -> dict:
    done = sebench("history", "--json", *paths)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def served_checkpoint(pytester: pytest.Pytester, revision: str, baseline: Path | None) -> Path:
    solved = CHECKPOINTS[revision]
    table = {problem.signature: [right(problem)] * solved(index) + [wrong(problem)] * (K - solved(index))
             for index, problem in enumerate(PROBLEMS)}
    report = pytester.path / f"{revision}.json"
    with FakeServer(table_responder(table)) as server:
        pytester.runpytest_subprocess(
            "-p", "no:randomly", f"--sebench-data={FIXTURE_DATA}", "--sebench-model=ckpt",
            f"--sebench-base-url={server.base_url}", f"--sebench-model-revision={revision}",
            "--sebench-backoff=0.01", f"--sebench-samples={K}", "--sebench-cache=off", "-k", SELECTED,
            f"--sebench-report={report}", *([f"--sebench-baseline={baseline}"] if baseline else []))
    data = report_of(report)
    counts = {item["id"]: sum(sample["passed"] for sample in item["samples"]) for item in data["items"]}
    assert counts == {problem.id: solved(index) for index, problem in enumerate(PROBLEMS)}  # the setup
    return report


def expected_change(report: dict) -> dict:
    """The gate's paired comparison of a run made with --sebench-baseline, as history gives it."""
    return report["comparison"]["paired"]


def figures(summary: dict) -> dict:
    return {"items": summary["items"], "k": summary["k"], "mean_at_k": summary["mean_at_k"],
            "mean_at_k_ci95": summary["mean_at_k_ci95"]}


def test_checkpoints_in_revision_order_with_the_gates_figures(pytester):
    reports: dict[str, Path] = {}
    previous = None
    for revision in CHECKPOINTS:  # each against the one before, as CI would run them
        previous = reports[revision] = served_checkpoint(pytester, revision, previous)
    shuffled = [reports["step-1200"], reports["step-90"], reports["step-900"]]
    table = history_json(*shuffled)
    assert table["splits"] == list(SPLITS)
    rows = table["checkpoints"]
    assert [row["revision"] for row in rows] == ["step-90", "step-900", "step-1200"]
    for row in rows:
        data = report_of(Path(row["report"]))
        assert row["label"] == f"ckpt@{row['revision']}" and row["items"] == len(PROBLEMS) and row["samples"] == K
        assert row["time"] == data["provenance"]["time"]
        summary = data["summary"]
        assert row["splits"] == {name: figures(summary["splits"].get(name) or summary[name]) for name in SPLITS}
        if row["revision"] == "step-90":
            assert row["change"] is None
            continue
        change = row["change"]
        assert change["compared"] and change["unpaired_errors"] == [] and change["notes"] == []
        assert change["splits"] == expected_change(data)  # the gate's bootstrap, same seed, same items
        assert change["splits"]["overall"]["method"] == "bootstrap"
    # the table a person reads: rows in that order, each figure as the JSON has it
    done = sebench("history", *shuffled, "--width=250")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    starts = [next(i for i, line in enumerate(lines) if line.lstrip().startswith(f"ckpt@{revision} "))
              for revision in ("step-90", "step-900", "step-1200")]
    assert starts == sorted(starts)
    for row, start in zip(rows, starts, strict=True):
        line = lines[start]
        for name in SPLITS:
            split = row["splits"][name]
            low, high = split["mean_at_k_ci95"]
            assert f"{100 * split['mean_at_k']:.1f}% [{100 * low:.1f}, {100 * high:.1f}]" in line
            if row["change"] is not None:
                diff = row["change"]["splits"][name]
                assert (f"{100 * diff['difference']:+.1f} [{100 * diff['low']:+.1f}, {100 * diff['high']:+.1f}]"
                        in lines[start + 1])
                assert f"p={diff['p_value']:.3g}" in lines[start + 2]


# -- rollout files: K = 1, no revision -------------------------------------------------------------

def rollout_checkpoint(where: Path, name: str, solved: list[bool], time: str, baseline: Path | None = None) -> Path:
    """A rollout run's report with its provenance time set (two runs can share a second)."""
    rows = [{"query": problem.query, "function_name": problem.signature,
             "selected_functions": list(problem.functions),
             "test_cases": [{"input": case.input} for case in problem.cases],
             "right_exe_result": "#".join(case.expected for case in problem.cases),
             "response": right(problem) if ok else wrong(problem)}
            for problem, ok in zip(SINGLE, solved, strict=True)]
    rollouts = write_rows(where / f"{name}.jsonl", rows)
    report = where / f"{name}.json"
    plugin_run(where, f"--sebench-rollouts={rollouts}", f"--sebench-report={report}",
               *([f"--sebench-baseline={baseline}"] if baseline else []))
    assert report.is_file()
    return edit_provenance(report, time=time)


def edit_provenance(report: Path, **changes: object) -> Path:
    """Sets provenance fields, in place: the report keeps its one-item-per-line layout."""
    lines = report.read_text(encoding="utf-8").splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.startswith('"provenance": '))
    provenance, end = json.JSONDecoder().raw_decode(lines[index], len('"provenance": '))
    lines[index] = f'"provenance": {json.dumps({**provenance, **changes})}{lines[index][end:]}'
    report.write_text("".join(lines), encoding="utf-8")
    return report


N = len(SINGLE)
EARLY = [index % 2 == 0 for index in range(N)]
LATE = [index % 3 != 0 for index in range(N)]
EARLY_TIME, LATE_TIME = "2026-01-01T00:00:00+00:00", "2026-01-02T00:00:00+00:00"


@pytest.fixture(scope="module")
def made_pair(tmp_path_factory) -> tuple[Path, Path]:
    """Two rollout checkpoints, the later one run against the earlier (shared by the module's tests,
    which edit copies)."""
    where = tmp_path_factory.mktemp("pair")
    early = rollout_checkpoint(where, "early", EARLY, EARLY_TIME)
    return early, rollout_checkpoint(where, "late", LATE, LATE_TIME, baseline=early)


@pytest.fixture
def pair(made_pair, tmp_path) -> tuple[Path, Path]:
    early, late = (Path(shutil.copy(path, tmp_path / path.name)) for path in made_pair)
    return early, late


def test_without_revisions_the_time_orders_and_mcnemar_pairs(pair):
    early, late = pair
    rows = history_json(late, early)["checkpoints"]
    assert [row["report"] for row in rows] == [str(early), str(late)]
    assert rows[1]["change"]["splits"] == expected_change(report_of(late))
    assert rows[1]["change"]["splits"]["rollouts"]["method"] == "mcnemar"
    assert history_json(early, late)["checkpoints"] == rows  # the order given does not matter
    # one report with a revision and one without: the time decides, not the revision
    edit_provenance(late, model={"name": "rollouts", "revision": "step-1"})
    assert [row["report"] for row in history_json(late, early)["checkpoints"]] == [str(early), str(late)]


def test_unpaired_errors_are_left_out_as_the_gate_leaves_them(pair, tmp_path):
    early, _ = pair
    lines = early.read_text(encoding="utf-8").splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.startswith('{"id": "rollouts/0002"'))
    lines[index] = lines[index].replace('"category": "correct"', '"category": "error"')
    early.write_text("".join(lines), encoding="utf-8")
    late = rollout_checkpoint(tmp_path, "again", LATE, LATE_TIME, baseline=early)  # the gate against it
    change = history_json(early, late)["checkpoints"][1]["change"]
    assert change["unpaired_errors"] == ["rollouts/0002"] == report_of(late)["comparison"]["unpaired_errors"]
    assert change["splits"] == expected_change(report_of(late)) and change["splits"]["overall"]["items"] == N - 1
    done = sebench("history", early, late, "--width=250")
    assert "1 item left out of the pairing (an infrastructure error on either side): rollouts/0002" in done.stdout


def test_reports_of_other_problems_are_not_compared(pair):
    early, late = pair
    fingerprint = report_of(late)["provenance"]["split_fingerprints"]["rollouts"]
    late.write_text(late.read_text(encoding="utf-8").replace(fingerprint, "0123456789abcdef"), encoding="utf-8")
    change = history_json(early, late)["checkpoints"][1]["change"]
    assert not change["compared"] and change["splits"] == {} and change["why"] == "other problems"
    assert change["not_compared_because"] == [f"split rollouts: the problems differ (dataset fingerprint "
                                              f"{fingerprint} in the baseline, 0123456789abcdef now)"]
    done = sebench("history", early, late, "--width=250")
    assert done.returncode == 0 and "not compared: other problems" in done.stdout
    assert f"not compared: split rollouts: the problems differ (dataset fingerprint {fingerprint}" in done.stdout


def test_one_report_is_one_row_and_names_print_literally(pair, capsys):
    early, _ = pair
    hostile = "[bold]ckpt[/bold]\x1b[2J\x1b]0;pwned\x07"
    edit_provenance(early, model={"name": hostile, "revision": "[red]r1"})
    assert main(["history", str(early), "--width=200"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    rows = [line for line in out.splitlines() if "pwned" in line]
    assert len(rows) == 1 and "[bold]ckpt[/bold]\\x1b[2J\\x1b]0;pwned\\x07@[red]r1" in rows[0]
    summary = report_of(early)["summary"]["splits"]["rollouts"]
    low, high = summary["mean_at_k_ci95"]
    assert f"{100 * summary['mean_at_k']:.1f}% [{100 * low:.1f}, {100 * high:.1f}]" in rows[0]
    assert main(["history", "--json", str(early)]) == 0
    table = json.loads(capsys.readouterr().out)
    assert len(table["checkpoints"]) == 1 and table["checkpoints"][0]["change"] is None
    assert table["checkpoints"][0]["label"] == f"{hostile}@[red]r1"


@pytest.mark.parametrize("content, why", [
    (None, "no such file"),
    ("", "the file is empty"),
    ('{"schema_version": 1, "summary": {}, "items": []}', "not a pytest-sebench report (no 'summary' with 'splits')"),
    ('{"schema_version": 1, "summary": {"splits": {"s": {"items": 1}}}, "items": []}',
     "summary.splits.s has no mean@k with its interval"),
])
def test_unreadable_reports_are_one_line(pair, tmp_path, content, why):
    good, _ = pair
    path = tmp_path / "broken.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    done = sebench("history", good, path)
    assert done.returncode == 2 and done.stdout == "" and "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("sebench history: error: ")
    assert str(path) in lines[0] and why in lines[0]
