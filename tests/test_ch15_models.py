"""Chapter 15: calculators, the MoE routing simulator and the shape capture against hand-computed values."""
from __future__ import annotations

import math

import pytest
import torch

from labs.ch15_parallel_decoding import book_check, moe, shapes
from labs.ch15_parallel_decoding import calculators as calc
from labs.inference.model import ModelConfig


# ---- calculators ------------------------------------------------------------------------------

def test_kv_bytes_per_token_by_hand():
    """GQA and bad-input cases: tests/test_ch18_calculators.py (chapter 18 uses this same function)."""
    assert calc.kv_bytes_per_token(12, 12, 64, 2) == 2 * 12 * 12 * 64 * 2 == 36_864      # GPT-2 small, fp16
    # the engine's own formula agrees (full MHA, fp32)
    assert calc.kv_bytes_per_token(12, 12, 64, 4) == ModelConfig.gpt2().kv_bytes_per_token(4)
    assert "36.0 KiB per token" in calc.explain_kv()


def test_linear_intensity_by_hand():
    # 1 token through 768→3072 in bf16: 2·768·3072 FLOPs over 2·(768 + 768·3072 + 3072) bytes
    assert calc.linear_intensity(1, 768, 3072, 2) == pytest.approx(4_718_592 / 4_726_272)
    assert calc.linear_intensity(256, 768, 3072, 2) == pytest.approx(2 * 256 * 768 * 3072 / (2 * 3_342_336))
    assert "memory-bound" in calc.explain_linear(1, 768, 2, 166) and "compute-bound" in calc.explain_linear(512, 768, 2, 166)


def test_capacity_all_to_all_and_bubble_by_hand():
    assert calc.expert_capacity(1.25, 4099, 2, 64) == math.ceil(1.25 * 4099 * 2 / 64) == 161
    assert calc.expert_capacity(1.0, 64, 2, 64) == 2                 # exact multiples do not round up
    # 8192 tokens, top-2, hidden 4096, bf16, 8 ranks: 2 · 8192 · 2 · 4096 · 2 · 7/8 bytes
    assert calc.all_to_all_bytes(8192, 2, 4096, 2, 8) == 234_881_024
    assert calc.all_to_all_bytes(100, 1, 10, 1, 4, local_fraction=1.0) == 0
    assert calc.pipeline_bubble(4, 1) == 0.75 and calc.pipeline_bubble(4, 13) == 0.1875
    assert calc.pipeline_bubble(1, 5) == 0


def test_speculative_formulas_by_hand():
    assert calc.expected_tokens(0.5, 2) == pytest.approx(1.75)                # 1 + 0.5 + 0.25
    assert calc.expected_tokens(1.0, 4) == 5 and calc.expected_tokens(0.0, 4) == 1
    assert calc.speculative_speedup(0.5, 2, 0.25) == pytest.approx(1.75 / 1.5)
    assert calc.speculative_speedup(0.8, 4, 0.1, verify=1.4) == pytest.approx(calc.expected_tokens(0.8, 4) / 1.8)
    a = calc.alpha_for_speedup(2.0, 4, 0.1)
    assert calc.speculative_speedup(a, 4, 0.1) == pytest.approx(2.0, rel=1e-6)
    assert calc.alpha_for_speedup(3.5, 4, 0.2) is None                        # 5 / 1.8 < 3.5
    assert calc.best_k(0.9, 0.05) > calc.best_k(0.6, 0.05) >= 1
    with pytest.raises(ValueError, match="alpha"):
        calc.expected_tokens(1.5, 3)


# ---- MoE routing -------------------------------------------------------------------------------

def test_queue_positions_first_come_first_served():
    a = torch.tensor([[2, 0], [0, 1], [2, 1], [0, 2]])
    assert moe.queue_positions(a, 3).tolist() == [[0, 0], [1, 0], [1, 1], [2, 2]]


def test_moe_by_hand_drops_reroute_and_all_to_all():
    # 4 tokens, 2 experts on 2 ranks, top-1, CF 1 → capacity 2. Token 0 wants expert 1, tokens 1-3 expert 0.
    prefs = torch.tensor([[1, 0], [0, 1], [0, 1], [0, 1]])
    r = moe.simulate(experts=2, top_k=1, capacity_factor=1.0, ep_ranks=2, hidden=10, dtype_bytes=2, prefs=prefs)
    assert r.capacity == 2 and r.load.tolist() == [3, 1] and r.kept.tolist() == [2, 1]
    assert r.dropped == 1 and r.keep[:, 0].tolist() == [True, True, True, False]   # token 3 came last
    # tokens 0,1 start on rank 0, tokens 2,3 on rank 1; expert e lives on rank e: token 0→e1 and token 2→e0 cross
    assert r.a2a_bytes == 2 * 2 * 10 * 2
    assert r.max_over_mean == pytest.approx(3 / 2)
    rr = moe.simulate(experts=2, top_k=1, capacity_factor=1.0, ep_ranks=2, hidden=10, dtype_bytes=2, prefs=prefs,
                      reroute=True)
    assert rr.rerouted == 1 and rr.dropped == 0 and rr.assign[3, 0] == 1
    assert rr.a2a_bytes == r.a2a_bytes                                              # token 3 → e1 stays on rank 1


@pytest.mark.parametrize("skew", [0.0, 1.0])
def test_moe_invariants(skew):
    for reroute in (False, True):
        r = moe.simulate(tokens=1001, experts=16, top_k=2, capacity_factor=1.1, skew=skew, ep_ranks=4,
                         reroute=reroute)
        assert int(r.kept.sum()) + r.dropped == 1001 * 2
        assert int(r.kept.max()) <= r.capacity
        assert all(len(set(row)) == 2 for row in r.assign.tolist())                 # never one expert twice
        assert int(r.rank_load.sum()) == int(r.kept.sum())
    uniform = moe.simulate(tokens=20_011, experts=16, top_k=2, capacity_factor=4.0, skew=0.0, ep_ranks=4,
                           hidden=64, dtype_bytes=2)
    assert uniform.dropped == 0
    assert uniform.a2a_bytes == pytest.approx(calc.all_to_all_bytes(20_011, 2, 64, 2, 4), rel=0.02)


def test_skew_drops_more_and_reroute_recovers():
    flat, skewed = (moe.simulate(capacity_factor=1.25, skew=s) for s in (0.0, 1.0))
    assert flat.drop_fraction < 0.01 < 0.2 < skewed.drop_fraction
    assert skewed.max_over_mean > 5 * flat.max_over_mean
    rr = moe.simulate(capacity_factor=1.25, skew=0.5, reroute=True)
    assert rr.drop_fraction < moe.simulate(capacity_factor=1.25, skew=0.5).drop_fraction / 5
    assert "dropped after reroute" in str(moe.sweep_table(cfs=(1.0,), skews=(0.5,)))


# ---- shapes of the engine's forward -----------------------------------------------------------

def test_capture_records_the_engine_linears():
    cfg = ModelConfig.tiny()                           # d 128, 2 layers, 4 heads, vocab 512
    ops = {o.name: o for o in shapes.capture(cfg, batch=3, new_tokens=1, context=10)}
    assert ops["attn qkv"].shape == (3, 128, 384) and ops["attn qkv"].count == 2
    assert ops["mlp fc"].shape == (3, 128, 512) and ops["mlp out"].shape == (3, 512, 128)
    assert ops["lm head"].shape == (3, 128, 512) and ops["lm head"].count == 1
    att = ops["attention"]
    assert att.shape == (12, 1, 11, 32) and att.pairs == 11 and att.count == 2
    assert att.flops() == 4 * 12 * 11 * 32 and att.bytes(4) == 4 * 12 * 32 * (2 + 22)
    fc = ops["mlp fc"]
    assert fc.flops() == 2 * 3 * 128 * 512 and fc.bytes(2) == 2 * (3 * 128 + 128 * 512 + 3 * 512)
    prefill = {o.name: o for o in shapes.capture(cfg, batch=1, new_tokens=37, context=0)}
    assert prefill["mlp fc"].shape == (37, 128, 512)
    assert prefill["attention"].pairs == 37 * 38 // 2                             # causal


def test_sweep_on_a_small_phase_list():
    s = shapes.measure(phases=[("decode B=2", 2, 1, 7), ("prefill 1×19", 1, 19, 0)], rep_ms=2)
    t = s.table()
    assert [r[0] for r in t.rows] == ["decode B=2", "prefill 1×19"]
    assert float(t.rows[1][1]) > float(t.rows[0][1])                    # prefill has the higher intensity
    roof = s.roofline()
    assert len(roof.points) == 2 and all(p.seconds > 0 for p in roof.points)
    assert "attn qkv" in str(s.shape_table("decode B=2"))


def test_book_check_without_measurements():
    t = book_check.table()
    assert len(t.rows) == 7 and t.rows[0][1] == "3.5×" and t.rows[0][2] == "—"
    assert "α ≈ 0.52–0.74" in t.rows[1][2]                                 # Medusa 2–3× at k=4, free drafts
