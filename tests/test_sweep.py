"""Sweeps as data: Plans in, typed Results out (one point per size × variant), views that run nothing."""
import pytest

import perflab as pl
from perflab import runner
from perflab import sweeps as sw
from labtests import fake_ceilings
from tests import toylab


@pytest.fixture(autouse=True)
def no_sink_and_fake_ceilings(monkeypatch):
    fake_ceilings(monkeypatch)
    monkeypatch.delenv("PERFLAB_RESULTS", raising=False)


@pytest.fixture(scope="module")
def res():
    with pytest.MonkeyPatch.context() as mp:
        fake_ceilings(mp)
        yield sw.sweep(toylab, sizes=[1003, 37], variants=["two_ops", "fused", "skips_last"], rep_ms=2)


def test_plan_is_frozen_and_checks_its_knobs():
    p = sw.Plan(1003, knobs={"rep_ms": 5})
    assert p.knobs == (("rep_ms", 5),) and hash(p)
    with pytest.raises(Exception):
        p.size = 5
    with pytest.raises(ValueError, match="'reps' is not one of"):
        sw.Plan(1003, knobs={"reps": 5})
    assert sw.Plan([3, 5]).size == (3, 5)


def test_results_hold_one_typed_point_per_size_and_variant(res):
    df = res.to_frame()
    assert len(df) == 6 and set(df["size"]) == {1003, 37}
    assert list(df.columns[:4]) == ["lab", "variant", "size", "elements"]
    wrong = df[df.variant == "skips_last"]
    assert set(wrong.status) == {"wrong"} and wrong.median_s.isna().all()     # the gate still rules
    timed = df[df.status == "timed"]
    assert len(timed) == 4 and (timed.gbps > 0).all()
    assert len(res.measurements) == 4 and all(r.lab.endswith("toylab") for r in res.records)
    for p in res.points:
        if p.measurement:
            assert p.record.gbps == pytest.approx(p.measurement.gbps) and p.ceiling.label == "copy"


def test_default_sweep_is_the_labs_sizes_ordered_by_element_count(monkeypatch):
    assert sw.sweep_sizes(toylab) == [37, 1003]
    monkeypatch.setattr(toylab, "OPTIONS", pl.LabOptions(sweep={"cpu": [(3, 5), (2, 2)], "gpu": [7]}))
    assert sw.sweep_sizes(toylab) == [(2, 2), (3, 5)]


def test_plans_sharing_a_size_share_one_gated_run(monkeypatch):
    calls = []
    real = runner.run
    monkeypatch.setattr(runner, "run", lambda lab, **k: calls.append(k) or real(lab, **k))
    out = sw.sweep(toylab, [sw.Plan(37, variant="two_ops"), sw.Plan(37, variant="fused"), sw.Plan(1003, variant="fused")],
                   rep_ms=1)
    assert [c["size"] for c in calls] == [37, 1003] and calls[0]["variants"] == ["two_ops", "fused"]
    assert [(p.plan.size, p.variant) for p in out.points] == [(37, "two_ops"), (37, "fused"), (1003, "fused")]


def test_bad_sweeps_are_refused_before_any_run(monkeypatch):
    monkeypatch.setattr(runner, "run", lambda *a, **k: pytest.fail("no run before the plans are checked"))
    with pytest.raises(TypeError, match="Plan values"):
        sw.sweep(toylab, [1003])
    with pytest.raises(ValueError):
        sw.sweep(toylab, [sw.Plan(-5)])
    with pytest.raises(ValueError, match="either plans or sizes"):
        sw.sweep(toylab, [sw.Plan(37)], sizes=[37])


def test_views_read_results_without_running(res, monkeypatch):
    monkeypatch.setattr(runner, "run", lambda *a, **k: pytest.fail("a view ran the lab"))
    fig = sw.figure(res)
    names = [t.name for t in fig.data]
    assert names[:2] == ["two_ops", "fused"] and any(n.startswith("measured ceiling") for n in names)
    two = next(t for t in fig.data if t.name == "two_ops")
    assert list(two.x) == [37, 1003]                       # ordered by size, log x
    assert fig.layout.xaxis.type == "log" and "GB/s" in fig.layout.title.text
    text = sw.text(res)
    assert "37" in text and "1003" in text and "skips_last: wrong" in text
    us = sw.figure(res, "us")
    ceil = next(t for t in us.data if t.name.startswith("measured ceiling"))
    assert list(ceil.y) == pytest.approx([toylab.bytes(s, "float32") / 10e9 * 1e6 for s in (37, 1003)])
    gbps = next(t for t in fig.data if t.name.startswith("measured ceiling"))
    assert list(gbps.y) == pytest.approx([10.0, 10.0])      # the fake copy ceiling, as a line
    with pytest.raises(ValueError, match="metric 'ms'"):
        sw.figure(res, "ms")


def test_reference_curve_is_drawn_from_every_recorded_size(res, monkeypatch):
    from perflab import results
    recs = [results.Record(chapter="tests", lab=res.lab.name, variant="fused", size=s, dtype="float32",
                           correct=True, median_s=1e-6 * s, gbps=g) for s, g in ((1000, 50.0), (100, 20.0))]
    monkeypatch.setattr(results, "reference", lambda lab=None, key=None: recs)
    monkeypatch.setattr(results, "reference_manifest", lambda key=None: {"ceilings": {"copy_gbps": 4000.0}})
    fig = sw.figure(res)
    ceil = [t for t in fig.data if t.name.endswith("measured copy ceiling")]
    assert len(ceil) == 1 and list(ceil[0].y) == [4000.0, 4000.0]     # the reference device's copy ceiling
    ref = [t for t in fig.data if "· fused" in t.name]
    assert len(ref) == 1 and list(ref[0].x) == [100, 1000] and list(ref[0].y) == [20.0, 50.0]
    assert ref[0].mode == "lines+markers"


def test_default_variants_are_those_timed_here_and_the_rest_get_a_note():
    out = sw.sweep(toylab, sizes=[37], rep_ms=1)
    assert out.variants == ["two_ops", "fused", "skips_last"]
    assert any(n.startswith("needs_gpu: not swept here (needs cuda") for n in out.notes)
    assert "needs_gpu: not swept here" in sw.text(out)
