"""Merging a run into the reference: whole labs replaced, run logged, pending list and sidecars updated."""
import json

import pytest

from perflab import reference_check, results
from perflab.reference_merge import main, merge_run
from perflab.results import Record


def rec(lab, variant, median):
    return Record(lab.split(".")[0], lab, variant, 100, "float32", True, median_s=median, speedup_vs_baseline=1.0)


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
                                    "commit": "abc", "ceilings": {"copy_gbps": 4000.4, "matmul_tflops": {"bfloat16": 700.2}}}
    assert reference_check.run_ceilings(manifest) == {"ch01.a": {"copy_gbps": 4000.4, "matmul_tflops": {"bfloat16": 700.2}},
                                                      "ch03.c": {"copy_gbps": 4000.4, "matmul_tflops": {"bfloat16": 700.2}}}
    assert json.loads(pending.read_text()) == {"ch04.d": "not run"}
    assert (ref.parent / "ch20_space-x-dev.json").exists() and summary["sidecars"] == ["ch20_space-x-dev.json"]


# ---- issue 16: checked before writing, pending list of the target, idempotent, several devices ----------

def _setup(tmp_path, existing=False):
    """An H100 run and the H100 reference it merges into (holding ch02.b if ``existing``): (folder, run, target)."""
    ref_dir = tmp_path / "reference"
    run = tmp_path / "wb" / "results.json"
    results.write(run, [rec("ch01.a", "base", 5.0), rec("ch03.c", "base", 7.0)],
                  {"device": "NVIDIA H100", "device_key": "nvidia-h100-80gb-hbm3", "date": "2026-12-07",
                   "commit": "abc"})
    target = ref_dir / "nvidia-h100.json"
    if existing:
        results.write(target, [rec("ch02.b", "base", 3.0)], {"device": "NVIDIA H100", "device_key": "nvidia-h100"})
    return ref_dir, run, target


def test_pending_list_comes_from_the_target_not_the_repository(tmp_path):
    ref_dir, run, target = _setup(tmp_path, existing=True)
    own = ref_dir / "pending-nvidia-h100.json"
    own.write_text(json.dumps({"ch03.c": "not run", "ch04.d": "not run"}))
    repo_pending = reference_check.PENDING.read_bytes()
    summary = merge_run(run, target, "test")
    assert json.loads(own.read_text()) == {"ch04.d": "not run"} and summary["left_pending"] == ["ch04.d"]
    assert reference_check.PENDING.read_bytes() == repo_pending          # the H200's list untouched
    assert reference_check.pending_path(ref_dir / "nvidia-h200.json") == ref_dir / "pending.json"


def test_a_retry_does_not_duplicate_the_run(tmp_path):
    ref_dir, run, target = _setup(tmp_path)
    merge_run(run, target, "test")
    first = target.read_text()
    merge_run(run, target, "test")
    assert target.read_text() == first
    assert len(results.read(target)[0]["runs"]) == 1


def test_a_new_reference_starts_with_every_other_lab_pending(tmp_path):
    ref_dir, run, target = _setup(tmp_path)
    summary = merge_run(run, target, "test")
    pending = json.loads((ref_dir / "pending-nvidia-h100.json").read_text())
    assert "ch07.copy_ladder" in pending and "ch01.a" not in pending
    assert summary["left_pending"] == sorted(pending)


@pytest.mark.parametrize("spoil, expect", [
    (lambda d: (d / "pending-nvidia-h100.json").write_text('["ch01.a"]'), "lab name -> reason"),
    (lambda d: (d.parent / "wb" / "ch20_space.json").write_text("{cut"), "sidecar"),
    (lambda d: (d / "nvidia-h100.json").write_text('{"manifest": {}, "records": [{"lab": 1}]}'), "record 0"),
])
def test_everything_is_checked_before_the_first_write(tmp_path, spoil, expect):
    ref_dir, run, target = _setup(tmp_path, existing=True)
    (ref_dir / "pending-nvidia-h100.json").write_text(json.dumps({"ch03.c": "not run"}))
    spoil(ref_dir)
    before = {p.name: p.read_bytes() for p in ref_dir.iterdir()}
    with pytest.raises(ValueError, match=expect):
        merge_run(run, target, "test")
    assert {p.name: p.read_bytes() for p in ref_dir.iterdir()} == before


def test_a_run_is_refused_by_another_devices_reference(tmp_path, capsys):
    ref_dir, run, _ = _setup(tmp_path)
    target = ref_dir / "nvidia-h200.json"
    results.write(target, [rec("ch02.b", "base", 3.0)], {"device": "NVIDIA H200", "device_key": "nvidia-h200"})
    before = target.read_bytes()
    assert main([str(run), "--into", str(target), "--how", "test"]) == 2
    assert "nvidia-h100.json" in capsys.readouterr().err and target.read_bytes() == before


def test_reference_check_runs_on_every_committed_file(capsys):
    """Each reference file is checked (problems are listed, never a traceback); other files there are
    named as not being results files."""
    for path in sorted(results.reference_path().parent.glob("*.json")):
        code = reference_check.main([str(path)])
        out = capsys.readouterr()
        if path.stem in results.reference_devices():
            assert code in (0, 1) and f"{path}:" in out.out
        else:
            assert code == 2 and str(path) in out.err
