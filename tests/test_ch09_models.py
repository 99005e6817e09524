"""Chapter 9 models: intensity calculators, number formats, the 2:4 model, the book check and the grader,
each against hand-computed values, and the grader on a right and a wrong answer."""
from __future__ import annotations

import pytest
import torch

import perflab as pl
from labs.ch09_arithmetic_intensity import book_check, intensity, numerics, sparsity, traffic


def test_fusion_and_tiling_intensities():
    assert intensity.unfused_intensity(4) == 0.125          # 1 FLOP per 4 B read + 4 B written
    assert intensity.fused_intensity(3, 4) == 0.375
    assert intensity.fused_intensity(2, 2) == 0.5
    assert intensity.tiled_intensity(1, 4) == 0.25          # untiled: 2 FLOP per two 4-byte loads
    assert intensity.tiled_intensity(32, 4) == 8.0 and intensity.tiled_intensity(128, 2) == 64.0


def test_calculator_text_says_the_numbers():
    text = intensity.fusion(3, "float32")
    assert "24 B per element" in text and "0.375 FLOP/B" in text and "3× fewer bytes" in text
    assert "32 multiply-adds" in intensity.tiling(32, "float32")
    text = intensity.precision(4096, "float8")
    assert "4× fp32" in text and "2,731 FLOP/B" in text
    assert "Blackwell" in intensity.precision(4096, "fp4 (e2m1)")


def test_quantize_formats():
    assert float(numerics.quantize(torch.tensor([1 + 2 ** -11]), "tf32")[0]) == 1.0
    assert float(numerics.quantize(torch.tensor([1 + 2 ** -9]), "tf32")[0]) == 1 + 2 ** -9
    assert numerics.quantize(torch.tensor([0.3, -2.6, 6.0]), "fp4 (e2m1)").tolist() == [0.5, -3.0, 6.0]
    x = torch.tensor([448.0, 1.0, -0.5])                     # fp8 e4m3 holds these exactly (scale 1)
    assert numerics.quantize(x, "float8 e4m3").tolist() == x.tolist()
    with pytest.raises(ValueError, match="unknown format"):
        numerics.quantize(x, "float7")


def test_emulated_errors_grow_down_the_ladder():
    table = numerics.emulated_errors(n=64)
    err = {row[0]: float(row[4]) for row in table.rows}
    assert err["float32"] < err["tf32"] == err["float16"] < err["bfloat16"] < err["float8 e4m3"] < err["fp4 (e2m1)"]
    for row in table.rows:                       # every format the ladder declares passes its own gate
        if row[5] != "—":
            assert float(row[4]) < float(row[5])


def test_formats_and_underflow_tables():
    rows = {r[0]: r for r in numerics.formats_table().rows}
    assert rows["float8 e4m3"][4] == "448" and rows["float16"][4] == "6.55e+04" and rows["tf32"][7] == "4"
    under = {r[0]: r for r in numerics.underflow_table(1e-8).rows}
    assert under["float16"][2] == "0" and under["bfloat16"][2] != "0" and under["float16"][3] != "0"


def test_two_four_sparsity():
    w = torch.tensor([[0.1, -3.0, 2.0, 0.5, 4.0, 0.0, -1.0, 0.2]])
    pruned = sparsity.prune_24(w)
    assert pruned.tolist() == [[0.0, -3.0, 2.0, 0.0, 4.0, 0.0, -1.0, 0.0]]
    values, pos = sparsity.compress_24(pruned)
    assert torch.equal(sparsity.decompress_24(values, pos), pruned)
    assert sparsity.compressed_bytes(4, 8, 2) == 16 * 2 + 16 * 0.25        # 16 values + 2 bits each
    assert sparsity.compressed_bytes(100, 100, 2) / (100 * 100 * 2) == 0.5625
    _, _, small = sparsity.speedup(batch=1)
    _, _, big = sparsity.speedup(batch=8192)
    assert 1.7 < small < 1.8 and big == pytest.approx(2.0)
    with pytest.raises(ValueError, match="multiple of 4"):
        sparsity.prune_24(torch.ones(2, 6))
    assert "✅" in str(sparsity.demo())


def test_book_check_recounts_the_book():
    text = str(book_check.table())
    assert "0.083 FLOP/B" in text and "x·x 0.125" in text and "row sum 0.25" in text and "chain 0.15" in text
    assert "one pass (row kept in registers) 0.375" in text and "eager/fused bytes 2.5×" in text
    assert "each staged element feeds 32 multiply-adds" in text
    assert "1,365 → 2,731 → 5,461 → 10,923" in text
    assert len(book_check.table().rows) == 10


def test_traffic_summary_lists_every_modelled_variant():
    t = traffic.summary("ch09.l2norm", size=(10, 100))
    assert [r[0] for r in t.rows] == ["eager_chain", "torch_normalize", "torch_compile", "triton_fused"]
    assert [r[3] for r in t.rows][0] == "20.2"           # 20 B per element plus the per-row values
    assert "unavailable" in str(traffic.counters("ch09.l2norm", ["eager_chain"], (10, 100))) or \
        pl.env().tier == "gpu"


def test_grader_passes_the_starter_and_fails_a_wrong_answer():
    from labs.ch09_arithmetic_intensity import rmsnorm, solutions
    assert solutions.triton_fused is rmsnorm.triton_fused
    assert pl.grade("ch09.rmsnorm", rmsnorm.eager_chain).correct

    def sums_instead_of_mean(x, w):
        return x * torch.rsqrt((x * x).sum(dim=1, keepdim=True) + rmsnorm.EPS) * w
    g = pl.grade("ch09.rmsnorm", sums_instead_of_mean)
    assert not g.passed and "❌" in repr(g)


def test_compiled_wrapper_says_why_when_there_is_no_compiler(monkeypatch):
    from labs.ch09_arithmetic_intensity import _common
    from perflab import machine
    fake = machine.env().__class__(**{**machine.env().as_dict(),
                                      "tools": {"torch.compile": "unavailable: no C++ compiler"}})
    monkeypatch.setattr(machine, "env", lambda: fake)
    fn = _common.compiled(lambda x: x + 1)
    with pytest.raises(RuntimeError, match="torch.compile cannot run here"):
        fn(torch.ones(3))
