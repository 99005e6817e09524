"""Merging a run into the reference: whole labs replaced, run logged, pending list and sidecars updated."""
import json

from perflab import results
from perflab.reference_merge import merge_run
from perflab.results import Record


def rec(lab, variant, median, size=100):
    return Record(lab.split(".")[0], lab, variant, size, "float32", True, median_s=median,
                  speedup_vs_baseline=1.0)


def test_merge_replaces_whole_labs_and_updates_pending(tmp_path):
    ref = tmp_path / "ref" / "dev.json"
    results.write(ref, [rec("ch01.a", "old_only", 1.0), rec("ch01.a", "base", 2.0), rec("ch02.b", "base", 3.0)],
                  {"device": "Dev", "device_key": "dev", "runs": []})
    run_dir = tmp_path / "wb"
    results.write(run_dir / "results.json", [rec("ch01.a", "base", 5.0), rec("ch03.c", "base", 7.0)],
                  {"device": "Dev", "date": "2026-11-28", "commit": "abc", "ceilings": {"copy_gbps": 4000.4,
                                                                                         "matmul_tflops": {"bfloat16": 700.2}}})
    (run_dir / "ch20_space-x.json").write_text("{}")
    pending = tmp_path / "pending.json"
    pending.write_text(json.dumps({"ch03.c": "not run", "ch04.d": "not run"}))

    summary = merge_run(run_dir / "results.json", ref, "test run", pending_path=pending)

    manifest, records = results.read(ref)
    got = {(r.lab, r.variant): r.median_s for r in records}
    assert got == {("ch01.a", "base"): 5.0, ("ch02.b", "base"): 3.0, ("ch03.c", "base"): 7.0}   # old_only gone
    assert manifest["runs"][-1] == {"labs": "ch01.a, ch03.c", "how": "test run", "date": "2026-11-28",
                                    "commit": "abc", "ceilings": {"copy_gbps": 4000, "matmul_bfloat16_tflops": 700}}
    assert json.loads(pending.read_text()) == {"ch04.d": "not run"}
    assert (ref.parent / "ch20_space-x-dev.json").exists() and summary["sidecars"] == ["ch20_space-x-dev.json"]
