"""Malformed input data: one message naming the file and line (or the option), exit code 4, no
traceback, nothing graded.

Each broken input is a copy of fixtures/qel with one thing changed (a :class:`Broken` case). Every case
is loaded directly with ``load_benchmark``, which must raise DataError (the plugin turns exactly that
into a usage error; any other exception would be a traceback) with the expected message; one case of
each kind also goes through the plugin in a subprocess, for the exit code and the single ERROR line.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

from conftest import FIXTURE_DATA, read_rows, write_rows
from pytest_sebench.data.benchmark import load_benchmark
from pytest_sebench.data.jsonl import DataError, read_jsonl
from pytest_sebench.data.library import load_library
from pytest_sebench.model.reference import translate
from pytest_sebench.settings import DEFAULT_SPLITS, OPTIONS

REQUIRED = ["query", "function_name", "test_cases", "right_exe_result", "selected_functions"]


@dataclass(frozen=True)
class Broken:
    """One broken input: the options that load it, and what the message must contain."""

    data: str
    fragments: tuple[str, ...]
    docs: str | None = None
    split: str | None = None
    rollouts: str | None = None

    def args(self) -> list[str]:
        args = [f"--sebench-rollouts={self.rollouts}"] if self.rollouts else ["--sebench-model=reference"]
        args.append(f"--sebench-data={self.data}")
        args += [f"--sebench-docs={self.docs}"] if self.docs is not None else []
        return args + ([f"--sebench-split={self.split}"] if self.split is not None else [])

    def load(self, cache_dir: Path) -> None:
        load_benchmark(data=self.data, docs=self.docs, rollouts=self.rollouts, cache_dir=cache_dir,
                       splits=tuple(self.split.split(",")) if self.split else DEFAULT_SPLITS,
                       splits_explicit=self.split is not None)


def copy_fixture(base: Path, *drop: str) -> Path:
    folder = base / "data"
    shutil.copytree(FIXTURE_DATA, folder)
    for name in drop:
        (folder / name).unlink()
    return folder


def change_row(folder: Path, index: int, change: Callable[[dict], Any], name: str = "single_test") -> str:
    """Apply ``change`` to row ``index`` of ``name``.jsonl; returns the ``file:line`` to be named."""
    path = folder / f"{name}.jsonl"
    rows = read_rows(path)
    change(rows[index])
    write_rows(path, rows)
    return f"{path}:{index + 1}"


def set_field(folder: Path, index: int, field: str, value: Any, name: str = "single_test") -> str:
    return change_row(folder, index, lambda row: row.__setitem__(field, value), name)


def replace_line(path: Path, index: int, text: str) -> str:
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[index] = text
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return f"{path}:{index + 1}"


def rollout_rows(count: int = 3) -> list[dict]:
    """Correct rollouts: the first rows' NumPy references translated into qel, as the reference model does."""
    library = load_library(FIXTURE_DATA / "api_doc.jsonl")
    rows = read_rows(FIXTURE_DATA / "single_test.jsonl")[:count]
    return [{"query": row["query"], "test_cases": row["test_cases"],
             "right_exe_result": row["right_exe_result"], "function_name": row["function_name"],
             "response": "```python\n" + translate(row["example_output"][0], library) + "\n```"}
            for row in rows]


CASES: dict[str, Callable[[Path], Broken]] = {}


def case(name: str):
    def register(build: Callable[[Path], Broken]) -> Callable[[Path], Broken]:
        CASES[name] = build
        return build
    return register


# -- problem rows ----------------------------------------------------------------------------------

@case("not-json")
def _(base):
    folder = copy_fixture(base)
    where = replace_line(folder / "single_test.jsonl", 2, '{"query": "unterminated')
    return Broken(str(folder), (f"{where}: not valid JSON",))


for _text, _kind in [("[1, 2]", "list"), ('"a string"', "str"), ("42", "int"), ("null", "NoneType")]:
    @case(f"not-an-object-{_kind}")
    def _(base, text=_text, kind=_kind):
        folder = copy_fixture(base)
        where = replace_line(folder / "multiple_test.jsonl", 1, text)
        return Broken(str(folder), (f"{where}: expected a JSON object, got {kind}",))

for _field in REQUIRED:
    @case(f"missing-{_field}")
    def _(base, field=_field):
        folder = copy_fixture(base)
        where = change_row(folder, 4, lambda row: row.pop(field))
        return Broken(str(folder), (f"{where}: missing required field '{field}'",))

WRONG_TYPES = [
    ("query", 5, "field 'query' must be str, got int"),
    ("function_name", None, "field 'function_name' must be str, got NoneType"),
    ("test_cases", {"input": "x=1"}, "field 'test_cases' must be list, got dict"),
    ("test_cases", ["x=1"], "test_cases[0] needs a string 'input'"),
    ("test_cases", [{"input": 1}], "test_cases[0] needs a string 'input'"),
    ("right_exe_result", ["1"], "field 'right_exe_result' must be str, got list"),
    ("selected_functions", "cumsum", "field 'selected_functions' must be list, got str"),
    ("selected_functions", [], "'selected_functions' must be a non-empty list of names"),
    ("selected_functions", ["cumsum", 3], "'selected_functions' must be a non-empty list of names"),
]
for _field, _value, _message in WRONG_TYPES:
    @case(f"type-{_field}={json.dumps(_value)}")
    def _(base, field=_field, value=_value, message=_message):
        folder = copy_fixture(base)
        return Broken(str(folder), (f"{set_field(folder, 0, field, value)}: {message}",))

for _signature in ["running_balance(opening, transactions)", "", "def (x):", "class Balance:"]:
    @case(f"signature-{_signature!r}")
    def _(base, signature=_signature):
        folder = copy_fixture(base)
        where = set_field(folder, 0, "function_name", signature)
        return Broken(str(folder), (f"{where}: 'function_name' must be a signature line", repr(signature)))

for _label, _count in [("fewer", 6), ("more", 8)]:
    @case(f"label-{_label}-pieces")
    def _(base, label=_label, count=_count):
        folder = copy_fixture(base)  # row 0 has 7 cases
        expected = read_rows(folder / "single_test.jsonl")[0]["right_exe_result"]
        changed = expected.rsplit("#", 1)[0] if label == "fewer" else expected + "#[1]"
        where = set_field(folder, 0, "right_exe_result", changed)
        return Broken(str(folder), (f"{where}: 'right_exe_result' has {count} '#'-separated outputs",
                                    "'test_cases' has 7 cases"))


@case("empty-test-cases")
def _(base):
    folder = copy_fixture(base)
    where = change_row(folder, 3, lambda row: row.update(test_cases=[], right_exe_result=""))
    return Broken(str(folder), (f"{where}: 'test_cases' is empty",))


@case("split-files-without-rows")
def _(base):
    folder = copy_fixture(base)
    (folder / "single_test.jsonl").write_text("\n\n", encoding="utf-8")
    (folder / "multiple_test.jsonl").write_text("", encoding="utf-8")
    return Broken(str(folder), (f"{folder}: no problems in single_test, multiple_test",))


for _name in ["single_test.jsonl", "api_doc.jsonl"]:
    @case(f"not-utf8-{_name}")
    def _(base, name=_name):
        folder = copy_fixture(base)
        lines = (folder / name).read_bytes().splitlines(keepends=True)
        lines[2] = lines[2].replace(b'"', b'"\xff', 1)  # a Latin-1 byte inside the third line
        (folder / name).write_bytes(b"".join(lines))
        return Broken(str(folder), (f"{folder / name}:3: not UTF-8 text",))


# -- where the data and the docs are ---------------------------------------------------------------

@case("data-missing")
def _(base):
    source = base / "no" / "such" / "folder"
    return Broken(str(source), (f"--sebench-data={source}: no such file or folder",))


@case("data-missing-relative")
def _(base):  # the run's folder is ``base``; more than one slash cannot be a hub id
    return Broken("no/such/folder", ("--sebench-data=no/such/folder: no such file or folder",))


@case("data-is-a-file")
def _(base):
    source = copy_fixture(base) / "single_test.jsonl"
    return Broken(str(source), (f"--sebench-data={source}: expected a folder",))


@case("no-api-doc")
def _(base):
    folder = copy_fixture(base, "api_doc.jsonl")
    return Broken(str(folder), (f"--sebench-data={folder} has no api_doc.jsonl", "pass --sebench-docs="))


for _docs in ["nowhere/api_doc.jsonl", "."]:
    @case(f"docs-option-{_docs}")
    def _(base, docs=_docs):
        return Broken(str(FIXTURE_DATA), (f"--sebench-docs={docs}: no such file",), docs=docs)

BAD_MAPPINGS = [
    ("not json at all", "'func_mapping' must be a JSON object"),
    (["np.cumsum", "qel.x"], "'func_mapping' must be a JSON object"),
    ({"np.cumsum": "qel"}, "func_mapping target 'qel' is not 'lib.name'"),
    ({"np.cumsum": "qel.cum sum"}, "func_mapping target 'qel.cum sum' is not 'lib.name'"),
    ({"cumsum": "qel.gojo"}, "cannot place func_mapping entry 'cumsum'"),
    ({"np.linalg.inv": "qel.inv"}, "np.linalg.inv must map into the linalg submodule"),
    ({"np.cumsum": "other.gojo"}, "func_mapping names library part 'other', earlier rows 'qel'"),
    ({"np.array": "qel.other"}, "np.array maps to 'qel.other' here but to 'pihirib' elsewhere"),
    ({"np.cumsum": 3}, "func_mapping entries must map names to names"),
]
for _mapping, _message in BAD_MAPPINGS:
    for _as_string in (False, True):  # SE-Bench stores the mapping as a string holding JSON
        @case(f"mapping-{'string' if _as_string else 'object'}-{json.dumps(_mapping)}")
        def _(base, mapping=_mapping, message=_message, as_string=_as_string):
            folder = copy_fixture(base)
            value = json.dumps(mapping) if as_string and not isinstance(mapping, str) else mapping
            return Broken(str(folder), (f"{set_field(folder, 5, 'func_mapping', value, 'api_doc')}: {message}",))


@case("api-doc-without-mappings")
def _(base):
    folder = copy_fixture(base)
    path = write_rows(folder / "api_doc.jsonl", [])
    return Broken(str(folder), (f"{path}: no func_mapping entries found",))


# -- splits and rollout files ----------------------------------------------------------------------

for _split, _missing in [("multiple_test", "multiple_test"), ("single_test,train", "train")]:
    @case(f"split-absent-{_split}")
    def _(base, split=_split, missing=_missing):
        folder = copy_fixture(base, "multiple_test.jsonl")
        return Broken(str(folder), (f"--sebench-split asks for {missing}", "(splits there: single_test)"),
                      split=split)


@case("no-split-at-all")
def _(base):
    folder = copy_fixture(base, "single_test.jsonl", "multiple_test.jsonl")
    return Broken(str(folder), (f"{folder} has none of the splits single_test, multiple_test",
                                "(splits there: none)"))


@case("rollout-missing-response")
def _(base):
    rows = rollout_rows()
    del rows[1]["response"]
    path = write_rows(base / "rollouts.jsonl", rows)
    return Broken(str(FIXTURE_DATA), (f"{path}:2: missing required field 'response'",), rollouts=str(path))


@case("rollout-bad-signature")
def _(base):
    rows = rollout_rows()
    rows[2]["function_name"] = "solve"
    path = write_rows(base / "rollouts.jsonl", rows)
    return Broken(str(FIXTURE_DATA), (f"{path}:3: 'function_name' must be a signature line",),
                  rollouts=str(path))


for _content in ["", "\n  \n"]:
    @case(f"rollouts-empty-{_content!r}")
    def _(base, content=_content):
        path = base / "rollouts.jsonl"
        path.write_text(content, encoding="utf-8")
        return Broken(str(FIXTURE_DATA), (f"--sebench-rollouts={path}: the file holds no rollout lines",),
                      rollouts=str(path))


@case("rollouts-missing")
def _(base):
    path = base / "absent.jsonl"
    return Broken(str(FIXTURE_DATA), (f"--sebench-rollouts={path}: no such file",), rollouts=str(path))


# One of each kind, through the whole plugin.
THROUGH_PLUGIN = ["not-json", "not-an-object-list", "missing-right_exe_result", "type-query=5",
                  "signature-''", "label-fewer-pieces", "empty-test-cases", "not-utf8-single_test.jsonl",
                  "data-missing", "data-missing-relative", "no-api-doc", "docs-option-nowhere/api_doc.jsonl",
                  'mapping-string-{"np.cumsum": "qel"}', "split-absent-multiple_test",
                  "rollout-missing-response", "rollouts-empty-''", "rollouts-missing"]


@pytest.fixture(autouse=True)
def no_sebench_environment(monkeypatch):
    for option in OPTIONS:
        monkeypatch.delenv(option.env_var, raising=False)


@pytest.mark.parametrize("name", list(CASES))
def test_broken_input_is_one_data_error(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    broken = CASES[name](tmp_path)
    with pytest.raises(DataError) as caught:
        broken.load(tmp_path / "cache")
    message = str(caught.value)
    assert "\n" not in message
    for fragment in broken.fragments:
        assert fragment in message


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:randomly", *args)


@pytest.mark.parametrize("name", THROUGH_PLUGIN)
def test_broken_input_is_a_usage_error(name, pytester):
    broken = CASES[name](pytester.path)
    result = run(pytester, *broken.args())
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert len(errors) == 1, result.stderr.str()
    for fragment in broken.fragments:
        assert fragment in errors[0]
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert "SE-Bench summary" not in result.stdout.str() and "passed" not in result.stdout.str()


# -- what must still load --------------------------------------------------------------------------


def test_split_asked_for_in_environment_is_explicit(pytester, monkeypatch):
    monkeypatch.setenv("SEBENCH_SPLIT", "train")
    result = run(pytester, "--sebench-model=reference", f"--sebench-data={FIXTURE_DATA}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: *asks for train*(splits there: multiple_test, single_test)"])


def test_default_split_absent_warns_and_runs(pytester):
    folder = copy_fixture(pytester.path, "multiple_test.jsonl")
    result = run(pytester, "--sebench-model=reference", f"--sebench-data={folder}", "-k", "0000 or 0001")
    result.assert_outcomes(passed=2, deselected=29)
    assert result.ret == 0
    # said at the top and again at the end, naming the setting (not a warning located in our code)
    result.stdout.fnmatch_lines([
        f"sebench: WARNING: {folder} has no multiple_test: loaded single_test only (the default "
        "--sebench-split; name the splits to run, e.g. --sebench-split=single_test)",
        "*SE-Bench summary*", f"WARNING: {folder} has no multiple_test*"])
    assert "plugin.py" not in result.stdout.str()


def test_api_doc_given_separately(pytester):
    folder = copy_fixture(pytester.path, "api_doc.jsonl")
    result = run(pytester, "--sebench-model=reference", f"--sebench-data={folder}",
                 f"--sebench-docs={FIXTURE_DATA / 'api_doc.jsonl'}", "--co")
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(["sebench: *library=qel problems=49 *"])


def test_byte_order_mark_is_accepted(tmp_path):
    # editors on Windows write one; it is still UTF-8
    folder = copy_fixture(tmp_path)
    path = folder / "single_test.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    benchmark = load_benchmark(data=str(folder), docs=None, splits=DEFAULT_SPLITS, splits_explicit=False,
                               rollouts=None, cache_dir=tmp_path / "cache")
    assert len(benchmark.problems) == 49


def test_read_jsonl_skips_blank_lines_and_keeps_numbers(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"a": 1}\r\n\r\n   \n{"b": "\xc3\xa9"}')
    lines = list(read_jsonl(path))
    assert [(line.number, line.record) for line in lines] == [(1, {"a": 1}), (4, {"b": "é"})]
    with pytest.raises(DataError, match="cannot read"):
        list(read_jsonl(tmp_path / "absent.jsonl"))


def test_valid_rollouts_still_grade(pytester):
    # the control for the rollout cases: the same rows, unbroken, are graded and pass
    path = write_rows(pytester.path / "rollouts.jsonl", rollout_rows())
    result = run(pytester, f"--sebench-rollouts={path}", f"--sebench-data={FIXTURE_DATA}")
    result.assert_outcomes(passed=3)
