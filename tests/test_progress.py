"""The live display of model requests: snapshot summing, pytest's output routed around it, and when it shows."""

from __future__ import annotations

import io
import os
import pty
import select
import struct
import subprocess
import sys
import time

import pytest
from rich.console import Console

from conftest import FIXTURE_DATA
from pytest_sebench.model.progress import Totals, _Router, read_snapshots, write_snapshot
from pytest_sebench.testing import FakeServer, ServerConfig, table_responder
from test_served_run import BENCH, correct_answers

SOME = "0000 or 0001 or 0002"  # a few items of each split: quick runs
SELECTED = sum(1 for problem in BENCH.problems if any(n in problem.id for n in SOME.split(" or ")))
DISPLAY_TEXT = "in flight"  # part of the display's counts, never of pytest's output
DISPLAY_CONTROLS = ("\x1b[?25l", "\x1b[1A", "\x1b[2K")  # hide the cursor, move up, erase: the Live's


def test_snapshots_are_summed(tmp_path):
    write_snapshot(tmp_path, "gw0", {"answered": 5, "in_flight": 2, "retried": 1, "failed": 0,
                                     "cached": 3, "planned": 40, "present": 10})
    write_snapshot(tmp_path, "gw1", {"answered": 7, "in_flight": 1, "retried": 0, "failed": 2,
                                     "cached": 1, "planned": 40, "present": 14})
    (tmp_path / "gw2.json").write_text("{not json")  # never whole: ignored, not fatal
    (tmp_path / ".x.tmp").write_text('{"answered": 100}')  # a temp file being written: not a snapshot
    totals = Totals.of(read_snapshots(tmp_path))
    # every worker plans the whole selection: planned is the maximum; the earliest count of cached
    # answers (the lowest) leaves the most to ask
    assert totals == Totals(answered=12, in_flight=3, retried=1, failed=2, planned=40, to_ask=30)
    assert totals.text() == "12/30 answered · 3 in flight · 1 retried · 2 failed · 10 cached"
    assert Totals.of([]) == Totals()
    write_snapshot(tmp_path / "absent", "main", {"answered": 1})  # no display asked: nothing written
    assert not (tmp_path / "absent").exists()


def test_router_prints_whole_lines_and_holds_the_unfinished_one():
    out, shown = io.StringIO(), io.StringIO()
    router = _Router(raw=None, out=out)
    router.write("header\nsebench ..")
    assert out.getvalue() == "header\nsebench .." and router.pending == "sebench .."
    router.console = Console(file=shown, width=80, color_system=None)  # live from here on
    router.write(".")
    assert router.pending == "sebench ..." and shown.getvalue() == ""  # drawn in the live area only
    router.write("   [100%]\n\x1b[32mgreen\x1b[0m\ncollecting 1\rcollecting 2")
    assert shown.getvalue() == "sebench ...   [100%]\ngreen\n"  # above the display, colors decoded
    assert router.pending == "collecting 2"  # "\r" rewinds the line, as on a terminal
    assert out.getvalue() == "header\nsebench .."  # nothing went around the console


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
    result.stdout.fnmatch_lines(["*SE-Bench summary*", f"requests: {SELECTED} answered*"])
    assert text.rindex(DISPLAY_TEXT) < text.index("SE-Bench summary")  # gone before the summary


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


@pytest.mark.parametrize("extra_env, extra_args, shown", [({}, [], True), ({"CI": "true"}, [], False),
                                                        ({}, ["-q"], False)], ids=["terminal", "CI", "quiet"])
def test_auto_shows_on_a_terminal_only(pytester, slow_server, extra_env, extra_args, shown):
    env = {name: value for name, value in os.environ.items()
           if name not in ("CI", "TTY_COMPATIBLE", "FORCE_COLOR", "PYTEST_ADDOPTS", "COLUMNS", "LINES")}
    env.update(TERM="xterm-256color", **extra_env)
    code, output = run_in_pty([sys.executable, "-m", "pytest", *sebench_args(slow_server, *extra_args)], env, pytester.path)
    assert code == 0, output
    assert f"{SELECTED} passed" in output and f"requests: {SELECTED} answered" in output
    assert (DISPLAY_TEXT in output) is shown
    assert any(control in output for control in DISPLAY_CONTROLS) is shown
