import json

import pytest

from perflab import results
from perflab.results import Record


def rec(variant, median=1e-3, size=10):
    return Record(chapter="ch07", lab="ch07.x", variant=variant, size=size, dtype="float32", correct=True,
                  median_s=median, p20_s=median, p80_s=median, speedup_vs_baseline=1.0)


def test_roundtrip_with_manifest(tmp_path):
    path = results.write(tmp_path / "r.json", [rec("a"), rec("b", size=[3, 4])])
    manifest, records = results.read(path)
    assert {"device", "torch", "triton", "date", "commit"} <= set(manifest)
    assert [r.variant for r in records] == ["a", "b"] and records[1].size == [3, 4]
    assert list(tmp_path.iterdir()) == [path]                 # no temp file left behind


def test_merge_replaces_same_key_and_keeps_others(tmp_path):
    path = tmp_path / "r.json"
    results.write(path, [rec("a", 1e-3), rec("b", 2e-3)])
    results.merge(path, [rec("a", 5e-3), rec("c")])
    by = {r.variant: r for r in results.read(path)[1]}
    assert set(by) == {"a", "b", "c"} and by["a"].median_s == 5e-3


def test_bad_files_say_what_is_wrong(tmp_path):
    (tmp_path / "cut.json").write_text('{"manifest": {}, "rec')
    with pytest.raises(ValueError, match="not valid JSON"):
        results.read(tmp_path / "cut.json")
    (tmp_path / "other.json").write_text(json.dumps({"rows": []}))
    with pytest.raises(ValueError, match="not a perflab results file"):
        results.read(tmp_path / "other.json")
    with pytest.raises(FileNotFoundError):
        results.read(tmp_path / "missing.json")


def test_unknown_fields_are_ignored_on_read():
    r = Record.from_dict(dict(chapter="ch07", lab="l", variant="v", size=1, dtype="f", correct=False,
                              future_field=3))
    assert r.variant == "v" and not r.correct
