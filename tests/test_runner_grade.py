"""The runner's correctness gate and the grader, on a toy lab with planted bugs."""
import pytest
import torch

import perflab as pl
from perflab import results
from perflab.check import compare

import toylab
from labtests import fake_ceilings


@pytest.fixture(scope="module")
def toy_run():
    return pl.run(toylab, rep_ms=10, record=False)


def test_wrong_variant_is_caught_not_timed_and_gets_no_speedup(toy_run):
    bad = toy_run["skips_last"]
    assert bad.status == "wrong" and bad.measurement is None
    assert bad.record.correct is False and bad.record.speedup_vs_baseline is None
    assert "not timed" in bad.why


def test_correct_variants_are_timed_with_speedup_and_ceiling(toy_run):
    base, fused = toy_run["two_ops"], toy_run["fused"]
    assert base.status == fused.status == "timed"
    assert base.record.speedup_vs_baseline == 1.0
    assert fused.record.speedup_vs_baseline == pytest.approx(base.measurement.median / fused.measurement.median)
    assert 0 < fused.record.ceiling_fraction and fused.record.ceiling == "copy"


def test_unavailable_variant_says_what_it_needs(toy_run):
    if pl.env().tier == "gpu":
        pytest.skip("cpu-tier behaviour")
    row = toy_run["needs_gpu"]
    assert row.status == "skipped" and row.why.startswith("needs cuda")


def test_table_names_device_and_failure(toy_run):
    text = str(toy_run.table())
    assert pl.env().device in text and "❌" in text and "skips_last" in text


def test_a_variant_that_raises_is_reported_not_fatal():
    def boom(x):
        raise RuntimeError("index out of range")
    r = pl.run(toylab, variants=[boom, "two_ops"], rep_ms=10, record=False)
    assert r["boom"].status == "error" and "index out of range" in r["boom"].why
    assert r["two_ops"].status == "timed"


def test_results_sink_collects_records(tmp_path, monkeypatch):
    monkeypatch.setenv("PERFLAB_RESULTS", str(tmp_path / "out.json"))
    pl.run(toylab, variants=["two_ops", "skips_last"], rep_ms=10)
    _, recs = results.read(tmp_path / "out.json")
    assert {(r.variant, r.correct) for r in recs} == {("two_ops", True), ("skips_last", False)}

    def mine(x):                      # a learner's own variant: shown in the table, never kept as a record
        return x * 2 + 1
    run = pl.run(toylab, variants=["two_ops", mine], rep_ms=10)
    assert "mine" in {r.name for r in run.rows}
    assert "mine" not in {r.variant for r in results.read(tmp_path / "out.json")[1]}


def test_grade_passes_right_and_fails_wrong():
    good = pl.grade(toylab, toylab.fused)
    assert good.correct and "✅" in repr(good)
    bad = pl.grade(toylab, toylab.skips_last)
    assert not bad.passed and "❌" in repr(bad)

    def off_by_one(x):
        return x * 2 + 1.001
    assert not pl.grade(toylab, off_by_one).passed


def test_grade_reports_a_crash():
    def crash(x):
        raise IndexError("boom")
    g = pl.grade(toylab, crash)
    assert not g.passed and "IndexError" in repr(g)


def test_compare_catches_one_wrong_element_even_at_loose_tolerance():
    ref = torch.randn(1_000_000, dtype=torch.float64)
    out = ref.clone()
    out[123_456] += 3 * ref.std()
    assert compare(out, ref, "tf32").ok is False          # the norm alone would hide it
    assert compare(ref.float(), ref, "float32").ok
    assert "shape" in compare(ref[:-1], ref).reason
    assert "returned NoneType" in compare(None, ref).reason


def test_a_lab_can_name_the_link_that_bounds_it():
    import types
    from perflab.peaks import Ceilings
    from perflab.roofline import Ceiling
    from perflab.runner import LabRun
    mod = types.ModuleType("h2d_lab")
    mod.OPTIONS = pl.LabOptions(bandwidth="h2d_pinned")
    lab = pl.Lab("ch99.h2d", mod)
    c = Ceilings(device="d", device_key="d", tier="gpu", copy_gbps=4000.0, h2d_pinned_gbps=50.0)
    run = LabRun(lab=lab, size=1, dtype="float32", rows=[], ceilings=c, device="d")
    assert run.ceiling_for("float32", 1e9, 0) == Ceiling("bandwidth", "h2d_pinned", 50.0)
    c.h2d_pinned_gbps = None                       # not measured (cpu tier): the copy stands in
    assert run.ceiling_for("float32", 1e9, 0) == Ceiling("bandwidth", "copy", 4000.0)


def test_compare_in_chunks_finds_the_first_bad_element_anywhere(monkeypatch):
    from perflab import check
    monkeypatch.setattr(check, "CHUNK", 7)                 # many chunks for a 5 × 9 tensor
    ref = torch.arange(1.0, 46.0).reshape(5, 9)
    assert check.compare(ref.clone(), ref).ok
    bad = ref.clone()
    bad[3, 4] = 0.0                                        # flat 31: in the fifth chunk
    c = check.compare(bad, ref)
    assert not c.ok and c.mismatches == 1 and c.first_bad == ((3, 4), 0.0, 32.0)
    nan = ref.clone()
    nan[4, 8] = float("nan")
    c = check.compare(nan, ref)
    assert not c.ok and "NaN/Inf" in c.reason and c.first_bad[0] == (4, 8)
    drift = ref * (1 + 3e-5)                               # every element a little off: the norm catches it
    assert not check.compare(drift, ref, "float32", tol=1e-5).ok


def test_headless_panel_reuses_the_run_above_and_runs_when_there_is_none(monkeypatch, capsys):
    from perflab import runner
    monkeypatch.setattr(runner, "_LAST", {})
    lab = pl.load(toylab)
    pl.panel(toylab, rep_ms=5)                                   # nothing ran yet: it measures
    assert "showing one run as text" in capsys.readouterr().out
    monkeypatch.setattr(runner, "run", lambda *a, **k: (_ for _ in ()).throw(AssertionError("ran again")))
    pl.panel(toylab, rep_ms=5)                                   # the same lab, size and variants: reused
    assert "not measured again" in capsys.readouterr().out
    assert runner.last_run(lab.name, lab.SIZES["cpu"][0], "float32", ["two_ops"]) is not None
    assert runner.last_run(lab.name, lab.SIZES["cpu"][1], "float32", ["two_ops"]) is None     # another size


def test_a_busy_machine_is_flagged_in_the_measurement_and_the_table(monkeypatch):
    """Synthetic load: one busy process per core. The flag is asserted, never a timing."""
    import os
    import subprocess
    import sys
    from perflab.timer import _cores
    if not os.path.exists("/proc/stat"):
        pytest.skip("needs /proc/stat (Linux) to see other processes' CPU time")
    fake_ceilings(monkeypatch)
    # not our children (bench counts its own children, loader workers say, as its own work): each launcher
    # starts a spinner, prints its pid and exits, so the spinner is another process, as a browser would be
    launch = ("import subprocess, sys; p = subprocess.Popen([sys.executable, '-c', 'while True: pass'], "
              "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); print(p.pid)")
    spinners = [int(subprocess.run([sys.executable, "-c", launch], capture_output=True, text=True,
                                   timeout=60).stdout) for _ in range(_cores())]
    try:
        import time
        time.sleep(0.5)
        r = pl.run(toylab, variants=["two_ops", "fused"], rep_ms=50, record=False)
    finally:
        for pid in spinners:
            os.kill(pid, 9)
    m = r["two_ops"].measurement
    assert m.busy.startswith("other processes used") and m.threads >= 1
    assert "BUSY MACHINE" in r.table().title
    assert any("BUSY MACHINE while timing" in n for n in r.table().notes)
    assert any("torch thread" in n for n in r.table().notes)
    assert "busy machine" in r["two_ops"].record.note


def test_records_variant_keeps_listed_and_generated_variants_only():
    """The results sink keeps the lab's variants and its sweeps' generated ones (ch08's heat map), not a learner's."""
    lab = pl.load("ch08.ilp_stream")
    assert lab.records_variant(lab.variant_names()[0]) and lab.records_variant("cuda_t256_ilp4")
    assert not lab.records_variant("my_kernel") and not pl.load(toylab).records_variant("cuda_t256_ilp4")
