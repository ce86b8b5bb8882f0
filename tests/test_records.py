"""Typed records: one JSON form each way, the light form the controller keeps, the spool, and the
report file's layout (one item per line, read back one item at a time)."""

from __future__ import annotations

import io
import json
import os
import stat

import pytest

from pytest_sebench.grade.verdict import CaseVerdict
from pytest_sebench.records.item import ItemRecord, RecordError, SampleRecord
from pytest_sebench.records.report_file import ReportFileError, read_report, write_report
from pytest_sebench.records.spool import RecordSpool

SAMPLE = SampleRecord(sample=1, category="result_error", reason="1 of 2 cases returned a wrong value",
                      code="def f(x):\n    return x\n",
                      cases=(CaseVerdict("x=1", "2", "1", False, detail="1 != 2"), CaseVerdict("x=2", "2", "2", True)),
                      seconds=0.01, stderr="warn\n", skipped_names=("zwc.pi",),
                      answer={"response": "```python\n...```", "reasoning": "hmm", "truncated": False,
                              "reused": True, "finish_reason": "stop", "latency": 1.5},
                      taxonomy="wrong_value")
ITEM = ItemRecord(id="single_test/0001-diff", split="single_test", row=1, functions=("diff",),
                  library_functions=("zwc.bar",), where="single_test.jsonl:2",
                  samples=(SampleRecord(0, "correct", "all 2 cases match"), SAMPLE), stopped_run=None)


def test_item_round_trips_through_json():
    data = json.loads(json.dumps(ITEM.to_json()))  # plain builtins only: xdist and the report carry it
    assert ItemRecord.from_json(data) == ITEM
    assert data["samples"][1]["passed"] is False and data["samples"][1]["cases"][0]["detail"] == "1 != 2"
    assert "source_line" not in data and "stopped_run" not in data


@pytest.mark.parametrize("made", ["from the record", "from its JSON"])
def test_light_keeps_the_figures_and_drops_the_text(made):
    light = ITEM.light() if made == "from the record" else ItemRecord.from_json(ITEM.to_json(), light=True)
    assert light == ITEM.light()
    assert light.counts == ITEM.counts and light.counts.text() == "1/2"
    sample = light.samples[1]
    assert (sample.category, sample.taxonomy, sample.reused, sample.truncated) == ("result_error", "wrong_value",
                                                                                  True, False)
    assert sample.code == "" and sample.cases == () and "response" not in sample.answer


def test_without_response_drops_the_models_text_only():
    answer = SAMPLE.without_response().answer
    assert "response" not in answer and "reasoning" not in answer and answer["latency"] == 1.5


@pytest.mark.parametrize("data, why", [
    ({"split": "x"}, "an item needs an 'id'"),
    ({"id": "a", "samples": {}}, "item a: 'samples' must be a list"),
    ({"id": "a", "samples": [{"reason": "?"}]}, "item a: a sample needs a 'category'"),
    ({"id": "a", "samples": [{"category": "correct", "cases": ["x"]}]}, "item a: a case must be an object"),
])
def test_malformed_records_are_named(data, why):
    with pytest.raises(RecordError, match=why):
        ItemRecord.from_json(data)


def test_spool_gives_back_full_records_in_the_asked_order(tmp_path):
    spool = RecordSpool()
    try:
        first, second = ITEM.to_json(), dict(ITEM.to_json(), id="single_test/0002-x")
        spool.put(first["id"], first)
        spool.put(second["id"], second)
        spool.put(first["id"], dict(first, row=7))  # a later record of one id replaces the earlier
        assert [record["id"] for record in spool.in_order(["single_test/0002-x", ITEM.id, "absent"])] == [
            "single_test/0002-x", ITEM.id]
        assert spool.get(ITEM.id)["row"] == 7 and spool.get(ITEM.id)["samples"][1]["answer"]["reasoning"] == "hmm"
    finally:
        spool.close()


def written(items: list[dict]) -> str:
    out = io.StringIO()
    write_report(out, {"summary": {"items": len(items)}}, iter(items), {"provenance": {"model": {"name": "m"}}})
    return out.getvalue()


def test_report_layout_is_json_with_one_item_per_line(tmp_path):
    items = [dict(ITEM.to_json(), id=f"single_test/{index:04d}") for index in range(3)]
    text = written(items)
    assert json.loads(text)["items"] == items  # still one JSON document
    lines = text.splitlines()
    assert lines[2] == '"items": ['
    assert [json.loads(line.rstrip(",")) for line in lines[3:3 + len(items)]] == items
    path = tmp_path / "r.json"
    path.write_text(text, encoding="utf-8")
    contents = read_report(path)
    assert contents.top == {"schema_version": 1, "summary": {"items": 3}, "provenance": {"model": {"name": "m"}}}
    assert [item for _, item in contents.items] == items


@pytest.mark.parametrize("count", [0, 1])
def test_any_layout_of_the_same_json_reads_the_same(tmp_path, count):
    items = [ITEM.to_json()] * count
    path = tmp_path / "r.json"
    path.write_text(json.dumps(json.loads(written(items)), indent=2), encoding="utf-8")  # re-indented by a tool
    contents = read_report(path)
    assert contents.top["schema_version"] == 1 and [item for _, item in contents.items] == items
    path.write_text(written(items), encoding="utf-8")
    assert [item for _, item in read_report(path).items] == items


def test_a_cut_item_line_is_named(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(written([ITEM.to_json(), ITEM.to_json()]).replace('"samples"', '"samp', 1).replace(
        '"where"', '"wh', 1), encoding="utf-8")
    with pytest.raises(ReportFileError, match=r"r.json: items\[0\]: not JSON"):
        list(read_report(path).items)


def test_an_output_is_written_with_the_permissions_open_would_give(tmp_path):
    """mkstemp makes owner-only files; a report or page is meant to be shared (served, uploaded)."""
    from pytest_sebench.report.files import open_atomically

    old = os.umask(0o027)
    try:
        with open_atomically(tmp_path / "page.html") as out:
            out.write("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "page.html").stat().st_mode) == 0o640
