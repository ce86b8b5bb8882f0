"""Progress of the model requests: snapshot summing, the live display and the progress lines, pytest's
output routed around them, and which one shows when."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import struct
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
from rich.console import Console

from conftest import FIXTURE_DATA
from pytest_sebench.model.progress import resolve_mode
from pytest_sebench.model.progress_router import Router
from pytest_sebench.model.progress_snapshots import (LINE_START, Totals, progress_line, read_snapshots,
                                                     write_snapshot)
from pytest_sebench.testing import FakeServer, ServerConfig, table_responder
from test_served_run import BENCH, correct_answers

SOME = "0000 or 0001 or 0002"  # a few items of each split: quick runs
SELECTED = sum(1 for problem in BENCH.problems if any(n in problem.id for n in SOME.split(" or ")))
DISPLAY_TEXT = "in flight"  # part of the display's counts, never of pytest's output
DISPLAY_CONTROLS = ("\x1b[?25l", "\x1b[1A", "\x1b[2K")  # hide the cursor, move up, erase: the Live's


def test_snapshots_are_summed(tmp_path):
    write_snapshot(tmp_path, "gw0", {"answered": 5, "in_flight": 2, "retried": 1, "failed": 0,
                                     "cached": 3, "planned": 40, "present": 10, "limit": 3, "abandoned": 1})
    write_snapshot(tmp_path, "gw1", {"answered": 7, "in_flight": 1, "retried": 0, "failed": 2,
                                     "cached": 1, "planned": 40, "present": 14})  # older: no limit
    (tmp_path / "gw2.json").write_text("{not json")  # never whole: ignored, not fatal
    (tmp_path / ".x.tmp").write_text('{"answered": 100}')  # a temp file being written: not a snapshot
    totals = Totals.of(read_snapshots(tmp_path))
    # every worker plans the whole selection: planned is the maximum; the earliest count of cached
    # answers (the lowest) leaves the most to ask
    assert totals == Totals(answered=12, in_flight=3, retried=1, failed=2, planned=40, to_ask=30,
                            limit=3, abandoned=1)  # each worker adapts its own limit: summed
    assert totals.text() == "12/30 answered · 3 in flight · 1 retried · 2 failed · 10 cached"
    assert Totals.of([]) == Totals()
    write_snapshot(tmp_path / "absent", "main", {"answered": 1})  # no display asked: nothing written
    assert not (tmp_path / "absent").exists()


def test_router_prints_whole_lines_and_holds_the_unfinished_one():
    out, shown = io.StringIO(), io.StringIO()
    router = Router(raw=None, out=out)
    router.write("header\nsebench ..")
    assert out.getvalue() == "header\nsebench .." and router.pending == "sebench .."
    router.console = Console(file=shown, width=80, color_system=None)  # live from here on
    router.write(".")
    assert router.pending == "sebench ..." and shown.getvalue() == ""  # drawn in the live area only
    router.write("   [100%]\n\x1b[32mgreen\x1b[0m\ncollecting 1\rcollecting 2")
    assert shown.getvalue() == "sebench ...   [100%]\ngreen\n"  # above the display, colors decoded
    assert router.pending == "collecting 2"  # "\r" rewinds the line, as on a terminal
    assert out.getvalue() == "header\nsebench .."  # nothing went around the console


def test_interjected_line_keeps_pytests_unfinished_line():
    out = io.StringIO()
    router = Router(raw=None, out=out)
    router.interject("ours")  # nothing unfinished: just the line
    router.write("sebench ..")
    router.interject("ours again")  # ended, ours, then pytest's line again: its width still counts
    router.write(".  [100%]\n")
    router.write("\x1b]9;4;1;50\x1b\\sebench ")  # a terminal-progress sequence is not written twice
    router.interject("third")
    assert out.getvalue().splitlines() == ["ours", "sebench ..", "ours again", "sebench ...  [100%]",
                                           "\x1b]9;4;1;50\x1b\\sebench ", "third", "sebench "]
    assert router.pending == "\x1b]9;4;1;50\x1b\\sebench "  # pytest's idea of its line, unchanged


def test_progress_line_text():
    waiting = Totals(in_flight=1, planned=31, to_ask=31, limit=1)
    assert progress_line(waiting, graded=0, selected=None, seconds=20.0) == (
        "sebench progress: 0/31 answered · 1 in flight · 0 graded · 0 retried · 0 failed · "
        "0.0 answers/min · time left unknown · concurrency 1")
    going = Totals(answered=12, in_flight=1, planned=31, to_ask=31, limit=1)
    assert progress_line(going, graded=10, selected=31, seconds=4 * 60) == (  # 19 left at 3/min
        "sebench progress: 12/31 answered · 1 in flight · 10/31 graded · 0 retried · 0 failed · "
        "3.0 answers/min · about 6 min left · concurrency 1")
    troubled = Totals(answered=20, retried=3, failed=2, planned=40, to_ask=30, limit=6, abandoned=2)
    assert progress_line(troubled, graded=25, selected=40, seconds=30.0) == (  # 8 left at 40/min
        "sebench progress: 20/30 answered · 0 in flight · 25/40 graded · 3 retried · 2 failed · "
        "2 abandoned · 10 cached · 40.0 answers/min · under a minute left · concurrency 6")
    slow = Totals(answered=1, planned=200, to_ask=200)  # an older snapshot: no limit, none shown
    assert progress_line(slow, graded=1, selected=200, seconds=60.0).endswith(
        "1.0 answers/min · about 3.3 h left")
    done = Totals(answered=31, planned=31, to_ask=31, limit=2)
    assert "· nothing left to ask ·" in progress_line(done, graded=31, selected=31, seconds=60.0)


@pytest.mark.parametrize("choice, terminal, ci, verbosity, pdb, mode", [
    ("auto", True, "", 0, False, "live"), ("auto", False, "", 0, False, "lines"),
    ("auto", True, "true", 0, False, "lines"), ("auto", True, "", -1, False, "lines"),
    ("auto", True, "", 0, True, "lines"), ("live", False, "true", 0, False, "live"),
    ("lines", True, "", 0, False, "lines"), ("off", False, "true", 0, False, "off")])
def test_mode_resolution(monkeypatch, choice, terminal, ci, verbosity, pdb, mode):
    monkeypatch.setenv("CI", ci)  # empty: unset, as far as the choice goes
    config = SimpleNamespace(get_verbosity=lambda: verbosity, getoption=lambda name, default=None: pdb)
    stream = SimpleNamespace(isatty=lambda: terminal)
    assert resolve_mode(choice, config, stream) == mode  # type: ignore[arg-type]


@pytest.fixture
def slow_server():
    with FakeServer(table_responder(correct_answers()), ServerConfig(latency=0.3)) as running:
        yield running


def sebench_args(server: FakeServer, *more: str) -> list[str]:
    return ["--sebench-model=ckpt", f"--sebench-base-url={server.base_url}", f"--sebench-data={FIXTURE_DATA}",
            "--sebench-cache=off", "--sebench-concurrency=2", "-p", "no:cacheprovider", "-k", SOME, *more]


@pytest.mark.parametrize("workers", ["-n0", "-n2"])
def test_display_on_keeps_every_result_and_the_summary(pytester, monkeypatch, slow_server, workers):
    # Not a terminal, so rich is told to draw anyway: the display and the routing of pytest's output
    # through it really run, and everything pytest reports must still be there after it.
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    result = pytester.runpytest_subprocess(*sebench_args(slow_server, workers, "--sebench-progress=on"))
    assert result.ret == 0
    result.assert_outcomes(passed=SELECTED)
    text = result.stdout.str()
    assert DISPLAY_TEXT in text  # it did draw
    result.stdout.fnmatch_lines(["*SE-Bench summary*", f"requests: {SELECTED} sent: {SELECTED} answered*"])
    assert text.rindex(DISPLAY_TEXT) < text.index("SE-Bench summary")  # gone before the summary


@pytest.fixture
def slower_server():
    """Slow enough (with one or two requests at once) for several lines at an interval of 0.5 s."""
    with FakeServer(table_responder(correct_answers()), ServerConfig(latency=1.0)) as running:
        yield running


LINE = re.compile(rf"{LINE_START}(\d+)/{SELECTED} answered · \d+ in flight · (\d+)(/{SELECTED})? graded · "
                  r"\d+ retried · 0 failed · \d+\.\d answers/min · "
                  r"(time left unknown|under a minute left|about \d+ min left|nothing left to ask)"
                  r"( · concurrency \d+)?")


def pytest_lines(text: str) -> list[str]:
    """The output as pytest wrote it: each progress line out, with the copy of pytest's unfinished
    line it ended (written again after it)."""
    kept: list[str] = []
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.startswith(LINE_START):
            after = lines[index + 1] if index + 1 < len(lines) else ""
            if kept and kept[-1] and after.startswith(kept[-1]):
                kept.pop()
        else:
            kept.append(line)
    return kept


def assert_progress_lines(text: str) -> None:
    lines = [line for line in text.splitlines() if LINE_START in line]
    assert lines, text
    counts = []
    for line in lines:
        match = LINE.fullmatch(line)  # the whole line: nothing of pytest's before or after it
        assert match, line
        counts.append((int(match[1]), int(match[2])))
    assert counts == sorted(counts) and all(graded <= SELECTED for _, graded in counts)  # only grow


@pytest.mark.parametrize("verbosity", ["", "-q", "-v"])
@pytest.mark.parametrize("workers", ["-n0", "-n2"])
def test_lines_under_ci_keep_pytests_output(pytester, monkeypatch, slower_server, workers, verbosity):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("COLUMNS", "80")
    args = sebench_args(slower_server, workers, "--sebench-progress-interval=0.5", "--sebench-concurrency=1")
    result = pytester.runpytest_subprocess(*args, *([verbosity] if verbosity else []))
    assert result.ret == 0
    result.assert_outcomes(passed=SELECTED)
    text = result.stdout.str()
    assert_progress_lines(text)
    assert not any(control in text for control in DISPLAY_CONTROLS)  # plain lines, nothing drawn
    # Take our lines out and pytest's output is whole: every result, each line as wide as pytest
    # made it (so its "[100%]" column is where it belongs), and the summary after the last line.
    plain = pytest_lines(text)
    width = 79  # COLUMNS less the one column pytest leaves free
    if verbosity == "-v":
        # "sebench::... PASSED  [ 16%]" (-n0), "[gw0] [ 16%] PASSED sebench::..." (xdist)
        result_line = re.compile(r"PASSED +\[ *\d+%\]$|^\[gw\d+\] \[ *\d+%\] PASSED ")
        results = [line for line in plain if result_line.search(line)]
        assert len(results) == SELECTED, plain
        assert all(len(line) == width for line in results if line.endswith("%]")), results
    else:
        dots = [line for line in plain if re.fullmatch(r"(sebench )?\.+ +\[100%\]", line)]
        assert len(dots) == 1 and dots[0].count(".") == SELECTED and len(dots[0]) == width, plain
    result.stdout.fnmatch_lines(["*SE-Bench summary*", f"requests: {SELECTED} sent: {SELECTED} answered*"])
    assert text.rindex(LINE_START) < text.index("SE-Bench summary")


@pytest.mark.parametrize("choice", ["lines", "live"])  # live cannot animate in a file: lines instead
def test_lines_without_ci(pytester, monkeypatch, slower_server, choice):
    for name in ("CI", "TTY_COMPATIBLE", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    result = pytester.runpytest_subprocess(*sebench_args(slower_server, "-n0", f"--sebench-progress={choice}",
                                                         "--sebench-progress-interval=0.5"))
    assert result.ret == 0
    result.assert_outcomes(passed=SELECTED)
    assert_progress_lines(result.stdout.str())


def test_off_prints_no_lines(pytester, monkeypatch, slower_server):
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest_subprocess(*sebench_args(slower_server, "-n0", "--sebench-progress=off",
                                                         "--sebench-progress-interval=0.5"))
    assert result.ret == 0
    result.assert_outcomes(passed=SELECTED)
    assert LINE_START not in result.stdout.str()
    assert DISPLAY_TEXT not in result.stdout.str()


def run_in_pty(args: list[str], env: dict[str, str], cwd: os.PathLike, timeout: float = 60) -> tuple[int, str]:
    import fcntl
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))  # a new pty is 0x0
    process = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd)
    os.close(slave)
    output, deadline = b"", time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
    return process.wait(), output.decode("utf-8", errors="replace")


@pytest.mark.parametrize("extra_env, extra_args, live", [({}, [], True), ({"CI": "true"}, [], False),
                                                       ({}, ["-q"], False)], ids=["terminal", "CI", "quiet"])
def test_auto_animates_on_a_terminal_only(pytester, slower_server, extra_env, extra_args, live):
    env = {name: value for name, value in os.environ.items()
           if name not in ("CI", "TTY_COMPATIBLE", "FORCE_COLOR", "PYTEST_ADDOPTS", "COLUMNS", "LINES")}
    env.update(TERM="xterm-256color", **extra_env)
    args = sebench_args(slower_server, *extra_args, "--sebench-progress-interval=0.5")
    code, output = run_in_pty([sys.executable, "-m", "pytest", *args], env, pytester.path)
    assert code == 0, output
    assert f"{SELECTED} passed" in output and f"requests: {SELECTED} sent: {SELECTED} answered" in output
    assert DISPLAY_TEXT in output  # the one or the other
    assert any(control in output for control in DISPLAY_CONTROLS) is live
    assert (LINE_START in output) is not live  # elsewhere, progress lines
