import json
import os
import subprocess
import sys

import pytest

from perflab import results
from perflab.paths import REPO
from perflab.results import Record


def rec(variant, median=1e-3, size=10):
    return Record(chapter="ch07", lab="ch07.x", variant=variant, size=size, dtype="float32", correct=True,
                  median_s=median, p20_s=median, p80_s=median, speedup_vs_baseline=1.0)


def test_roundtrip_with_manifest(tmp_path):
    path = results.write(tmp_path / "r.json", [rec("a"), rec("b", size=[3, 4])])
    manifest, records = results.read(path)
    assert {"device", "torch", "triton", "date", "commit"} <= set(manifest)
    assert [r.variant for r in records] == ["a", "b"] and records[1].size == [3, 4]
    assert [p for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == [path]   # no temp file left
    assert results.read(results.write(tmp_path / "empty.json", []))[1] == []


def test_merge_replaces_same_key_and_keeps_others(tmp_path):
    path = tmp_path / "r.json"
    results.write(path, [rec("a", 1e-3), rec("b", 2e-3)])
    results.merge(path, [rec("a", 5e-3), rec("c")])
    by = {r.variant: r for r in results.read(path)[1]}
    assert set(by) == {"a", "b", "c"} and by["a"].median_s == 5e-3


def test_a_missing_file_is_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        results.read(tmp_path / "missing.json")


def test_unknown_fields_are_ignored_on_read():
    r = Record.from_dict(dict(chapter="ch07", lab="l", variant="v", size=1, dtype="f", correct=False,
                              future_field=3))
    assert r.variant == "v" and not r.correct


# ---- issue 16: atomic writes, locked merges, malformed files named ----------------------------------

_WRITER = """
import sys
from perflab import results
from perflab.results import Record
path, who, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
man = {"device": "test"}
for i in range(n):
    results.merge(path, [Record("ch07", "ch07.x", f"{who}{i}", 10, "float32", True)], man)
"""


def test_two_processes_merging_one_file_lose_nothing(tmp_path):
    path, n = tmp_path / "r.json", 120
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), who, str(n)], cwd=REPO)
             for who in ("a", "b")]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    variants = {r.variant for r in results.read(path)[1]}
    assert variants == {f"{w}{i}" for w in "ab" for i in range(n)}
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))


_RUNNER = """
import sys
sys.path.insert(0, "tests")
import perflab as pl, toylab
for size in range(int(sys.argv[1]), int(sys.argv[1]) + 12):
    pl.run(toylab, size=size, variants=["two_ops", "fused"], rep_ms=5)
"""


def test_two_pl_run_processes_sharing_perflab_results_lose_nothing(tmp_path):
    """The workbook's sink (PERFLAB_RESULTS) written by real lab runs from two processes at once."""
    sink = tmp_path / "sink.json"
    env = dict(os.environ, PERFLAB_RESULTS=str(sink))
    procs = [subprocess.Popen([sys.executable, "-c", _RUNNER, str(start)], cwd=REPO, env=env)
             for start in (100, 200)]
    assert [p.wait(timeout=600) for p in procs] == [0, 0]
    keys = {(r.variant, r.size) for r in results.read(sink)[1]}
    assert keys == {(v, s) for v in ("two_ops", "fused") for start in (100, 200)
                    for s in range(start, start + 12)}                   # 48 records, none lost


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    path = results.write(tmp_path / "r.json", [rec("a")])
    before = path.read_text()

    def boom(*a, **k):
        raise OSError("disk full (simulated)")
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        results.merge(path, [rec("b")])
    assert path.read_text() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_record_that_cannot_be_read_back_is_refused_before_writing(tmp_path):
    bad = rec("a")
    bad.median_s = float("nan")
    with pytest.raises(ValueError, match="'median_s'.*finite number"):
        results.write(tmp_path / "r.json", [bad])
    assert not (tmp_path / "r.json").exists()


def test_a_size_may_hold_a_knob_beside_its_dimensions(tmp_path):
    """ch15.moe_layer's size ends with its routing skew, a float: the record is valid and reads back."""
    path = results.write(tmp_path / "r.json", [rec("a", size=[4099, 2048, 1408, 64, 6, 0.5])])
    assert results.read(path)[1][0].size == [4099, 2048, 1408, 64, 6, 0.5]


GOOD = dict(chapter="ch07", lab="ch07.x", variant="v", size=10, dtype="float32", correct=True)


@pytest.mark.parametrize("content, expect", [
    (b'{"manifest": {}, "rec', "not valid JSON"),
    (json.dumps({"rows": []}).encode(), "not a perflab results file"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\xff", "not text"),
    (json.dumps({"manifest": {}, "records": {"a": GOOD}}).encode(), "'records' should be a JSON list"),
    (json.dumps({"manifest": [], "records": []}).encode(), "'manifest' should be a JSON object"),
    (json.dumps([GOOD]).encode(), "not a perflab results file"),
    (json.dumps({"manifest": {}, "records": [GOOD, "x"]}).encode(), "record 1 should be a JSON object"),
    (json.dumps({"manifest": {}, "records": [{k: v for k, v in GOOD.items() if k != "lab"}]}).encode(),
     "record 0 lacks the field 'lab'"),
    (json.dumps({"manifest": {}, "records": [dict(GOOD, size="big")]}).encode(), "record 0 field 'size'"),
    (json.dumps({"manifest": {}, "records": [dict(GOOD, correct="yes")]}).encode(), "field 'correct'"),
    (json.dumps({"manifest": {}, "records": [dict(GOOD, median_s="1ms")]}).encode(), "field 'median_s'"),
    (json.dumps({"manifest": {}, "records": [dict(GOOD, size=[3, True])]}).encode(), "field 'size'"),
    (json.dumps({"manifest": {}, "records": [dict(GOOD, size=[3, None])]}).encode(), "field 'size'"),
])
def test_malformed_files_name_the_file_and_the_field(tmp_path, content, expect):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=expect) as info:
        results.read(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_reference_device_is_the_closest_committed_one(tmp_path, monkeypatch):
    monkeypatch.setenv("PERFLAB_DATA", str(tmp_path))
    (tmp_path / "reference").mkdir()
    for name in ("nvidia-h200.json", "pending.json", "ch09_launch_sweep-nvidia-h200.json"):
        (tmp_path / "reference" / name).write_text("{}")
    assert results.reference_devices() == ["nvidia-h200"]
    assert results.reference_device("nvidia-h100-80gb-hbm3") == "nvidia-h200"       # no H100 file yet
    (tmp_path / "reference" / "nvidia-h100.json").write_text("{}")
    assert results.reference_device("nvidia-h100-80gb-hbm3") == "nvidia-h100"
    assert results.reference_device("nvidia-h200") == "nvidia-h200"
    assert results.reference_device("nvidia-h100-pcie") == "nvidia-h100"
    assert results.reference_device("cpu-x86_64") == "nvidia-h200"
    assert results.reference_device("nvidia-a100-sxm4-40gb") == "nvidia-h200"
    assert results.device_label("nvidia-h100") == "H100"


def test_add_ceilings_writes_what_the_records_were_scored_against(tmp_path):
    from perflab.peaks import Ceilings
    path = results.write(tmp_path / "r.json", [rec("a")], {"device": "x"})
    c = Ceilings(device="x", device_key="x", tier="gpu", copy_gbps=3000.0, matmul_tflops={"bfloat16": 680.0})
    results.add_ceilings(path, c)
    man, records = results.read(path)
    assert man["ceilings"]["copy_gbps"] == 3000.0 and man["device"] == "x" and len(records) == 1
