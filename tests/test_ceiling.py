"""Typed ceilings: a variant is scored against the ceiling of the arithmetic it really does."""
import types

import pytest
import torch

import perflab as pl
from perflab import peaks, report, results
from perflab.roofline import Ceiling
from perflab.runner import arithmetic

FAKE = peaks.Ceilings(device="fake", device_key="fake", tier="cpu", copy_gbps=1e6,
                      matmul_tflops={"float32": 50.0, "tf32": 370.0, "float16": 650.0})


def _matmul_lab():
    """A compute-bound matmul lab (fp16 and fp32) whose second variant declares TF32, as ch14/ch20 do."""
    mod = types.ModuleType("labs.ch99_fake.matmul")
    mod.TITLE, mod.SIZES, mod.DTYPES = "fake matmul", {"cpu": [64], "gpu": [64]}, ["float16", "float32"]

    def make_inputs(size, device, dtype, seed):
        g = torch.Generator().manual_seed(seed)
        return {k: torch.randn(size, size, generator=g).to(getattr(torch, dtype)) for k in "ab"}
    mod.make_inputs = make_inputs
    mod.reference = lambda a, b: (a.double() @ b.double()).to(a.dtype)
    mod.bytes = lambda size, dtype: 3 * size * size * torch.finfo(getattr(torch, dtype)).bits // 8
    mod.flops = lambda size, dtype: 2 * size ** 3

    def plain(a, b):
        return a @ b

    @pl.variant(precision="tf32")
    def tensor_cores(a, b):
        return a @ b
    mod.variants = [plain, tensor_cores]
    return mod


@pytest.mark.parametrize("dtype, want", [("float16", "matmul float16"), ("float32", "matmul tf32")])
def test_a_tf32_variant_is_scored_against_the_peak_of_the_lab_dtype(monkeypatch, dtype, want):
    monkeypatch.setattr(peaks, "ceilings", lambda **k: FAKE)
    monkeypatch.setattr(results, "sink", lambda: None)
    run = pl.run(_matmul_lab(), dtype=dtype, rep_ms=1)
    row = run["tensor_cores"]
    assert row.status == "timed" and row.record.ceiling == want
    assert row.ceiling == Ceiling("compute", want.split()[1], FAKE.matmul_tflops[want.split()[1]])
    assert row.record.ceiling_fraction == pytest.approx(row.measurement.tflops / row.ceiling.value)
    assert run["plain"].record.ceiling == f"matmul {dtype}"


def test_arithmetic_keeps_a_precision_that_changes_the_math():
    assert arithmetic("tf32", "float16") == "float16"
    assert arithmetic("tf32", "float32") == "tf32"
    assert arithmetic("bfloat16", "float32") == "bfloat16"       # a lower precision does change it
    assert arithmetic(None, "float16") == "float16"


def test_a_record_keeps_a_readable_label_and_code_gets_the_typed_value():
    rec = results.Record(chapter="ch99", lab="ch99.x", variant="v", size=1, dtype="float16", correct=True,
                         median_s=1.0, gbps=100.0, tflops=65.0, ceiling="matmul float16", ceiling_fraction=0.1)
    c = Ceiling.of(rec)
    assert (c.kind, c.name, c.unit, c.label) == ("compute", "float16", "TFLOP/s", "matmul float16")
    assert c.value == pytest.approx(650.0)
    rec.ceiling, rec.ceiling_fraction = "h2d_pinned", 0.5
    assert Ceiling.of(rec) == Ceiling("bandwidth", "h2d_pinned", 200.0)
    assert not report.below_gate(rec)                      # the memory gate is for the device copy only
    rec.ceiling = "copy"
    assert report.below_gate(rec)
    with pytest.raises(ValueError, match="kind"):
        Ceiling("memory", "copy", 1.0)


def test_views_draw_from_the_run_and_run_nothing(monkeypatch):
    from perflab import runner, views
    monkeypatch.setattr(peaks, "ceilings", lambda **k: FAKE)
    monkeypatch.setattr(results, "sink", lambda: None)
    run = pl.run(_matmul_lab(), dtype="float32", rep_ms=1)

    def no_running(*a, **k):
        raise AssertionError("a view ran something")
    monkeypatch.setattr(runner, "bench", no_running)
    monkeypatch.setattr(runner, "check_variant", no_running)
    text = views.bar_text(run)
    assert text.count("\n") == 1 and "plain" in text and "tensor_cores" in text
    assert "tensor_cores" in str(run.table())
    roof = views.points(run)
    assert [p.precision for p in roof.points] == ["float32", "tf32"]     # each at the peak it is scored against
    assert views.bar(run).layout.yaxis.title.text == "TFLOP/s"
