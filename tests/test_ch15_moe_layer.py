"""ch15.moe_layer: every variant equals the float64 reference at odd token and expert counts, each step does
what it says (permutation inverts, gates sum to one, skew skews), and planted bugs are caught."""
from __future__ import annotations

import pytest
import torch

import perflab as pl
from perflab.check import compare
from perflab.runner import check_variant
from labs.ch15_parallel_decoding import moe_layer as ml

LAB = pl.load("ch15.moe_layer")
# odd token counts, odd and prime expert counts, top-1 and top-k = E − 1
SIZES = [(131, 72, 136, 7, 2, 0.0), (67, 40, 88, 13, 3, 1.5), (29, 16, 24, 5, 4, 0.5), (1, 8, 8, 3, 1, 0.0)]


def test_lab_is_listed_with_the_grouped_gemm_where_torch_has_it():
    assert "ch15.moe_layer" in pl.list_labs()
    names = LAB.variant_names()
    assert names[:2] == ["expert_loop", "padded_bmm"]
    assert ("grouped_mm" in names) == (ml.GROUPED_MM is not None)


@pytest.mark.parametrize("size", SIZES, ids=str)
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_variants_match_the_reference(size, dtype):
    inputs = ml.make_inputs(size, "cpu", dtype, seed=4)
    ref = ml.reference(**inputs)
    for fn in LAB.variants:
        check = compare(fn(**inputs), ref, dtype)
        assert check.ok, f"{fn.__name__} at {size} {dtype}: {check.reason}"


def test_permute_then_unpermute_with_unit_gates_is_the_identity_per_slot():
    inp = ml.make_inputs((37, 16, 24, 5, 3, 1.0), "cpu", "float32", seed=1)
    ids, gates = ml.route(inp["x"], inp["w_gate"], 3, 1.0)
    p = ml.permute(inp["x"], ids, 5)
    assert torch.equal(p.expert, torch.sort(p.expert).values)                     # grouped by expert
    assert torch.equal(p.counts, torch.bincount(ids.reshape(-1), minlength=5))
    assert int(p.offsets[-1]) == 37 * 3
    assert torch.allclose(gates.sum(1), torch.ones(37))
    # identity experts with one-hot gates on slot j give back x for every token
    onehot = torch.zeros_like(gates)
    onehot[:, 1] = 1
    assert torch.equal(ml.unpermute(p.x, p, onehot), inp["x"])


def test_skew_concentrates_the_load():
    def busiest(skew):
        inp = ml.make_inputs((509, 16, 24, 16, 2, skew), "cpu", "float32", seed=0)
        ids, _ = ml.route(inp["x"], inp["w_gate"], 2, skew)
        return int(torch.bincount(ids.reshape(-1), minlength=16).max())
    assert busiest(0.0) < busiest(1.0) < busiest(2.0)
    assert busiest(2.0) > 0.6 * 509                    # the hottest expert sees most tokens


def test_bad_sizes_name_the_fix():
    with pytest.raises(ValueError, match="top_k"):
        ml.make_inputs((10, 8, 8, 3, 4, 0.0))
    with pytest.raises(ValueError, match="multiples of 8"):
        ml.make_inputs((10, 12, 8, 3, 1, 0.0))
    with pytest.raises(ValueError, match=r"\(tokens, d_model"):
        ml.make_inputs((10, 8, 8))
    with pytest.raises(ValueError, match="skew"):
        ml.make_inputs((10, 8, 8, 3, 1, -1.0))


# ---- planted bugs --------------------------------------------------------------------------------

def unpermute_without_scatter(x, w_gate, w1, w2, top_k, skew):
    """Treats the sorted rows as if they were still in (token, slot) order."""
    ids, gates = ml.route(x, w_gate, top_k, skew)
    p = ml.permute(x, ids, w1.shape[0])
    y = ml.experts_loop(p, w1, w2)
    return (y.view(x.shape[0], top_k, -1).float() * gates[..., None]).sum(1).to(x.dtype)


def gate_weight_dropped(x, w_gate, w1, w2, top_k, skew):
    """Sums the k expert outputs without weighting them by the gates."""
    ids, gates = ml.route(x, w_gate, top_k, skew)
    p = ml.permute(x, ids, w1.shape[0])
    return ml.unpermute(ml.experts_loop(p, w1, w2), p, torch.ones_like(gates))


def groups_off_by_one(x, w_gate, w1, w2, top_k, skew):
    """Each expert's slice starts one row late (a wrong exclusive/inclusive prefix sum)."""
    ids, gates = ml.route(x, w_gate, top_k, skew)
    p = ml.permute(x, ids, w1.shape[0])
    out, start = torch.zeros(p.x.shape[0], w2.shape[2], dtype=x.dtype), 0
    for e, n in enumerate(p.counts.tolist()):
        s = min(start + 1, p.x.shape[0] - n)
        out[start:start + n] = ml._ffn(p.x[s:s + n], w1[e], w2[e])
        start += n
    return ml.unpermute(out, p, gates)


@pytest.mark.parametrize("bug", [unpermute_without_scatter, gate_weight_dropped, groups_off_by_one])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_planted_bugs_are_caught(bug, dtype):
    row = check_variant(LAB, bug, LAB.SIZES["cpu"][0], dtype, seed=5)
    assert row.status == "wrong", (bug.__name__, row.status, row.why)


# ---- the imbalance sweep -------------------------------------------------------------------------

def test_imbalance_sweep_records_every_phase():
    sweep = ml.imbalance_sweep(skews=(0.0, 2.0), size=(67, 16, 24, 5, 2), rep_ms=2)
    assert [r.skew for r in sweep.rows] == [0.0, 2.0]
    low, high = sweep.rows
    assert high.busiest > low.busiest >= 1.0
    for r in sweep.rows:
        assert min(r.route_s, r.permute_s, r.unpermute_s, r.loop_s, r.padded_s) > 0
        assert r.total("expert_loop") == pytest.approx(r.route_s + r.permute_s + r.loop_s + r.unpermute_s)
        assert (r.grouped_s is None) == (ml.GROUPED_MM is None)
    text = str(sweep.table())
    assert "busiest expert" in text and "measured on" in text and len(text.splitlines()) == 1 + 2 + 2 + 2     # title, header + rule, rows, notes


# ---- the notebook's exercise -----------------------------------------------------------------------

def test_grade_passes_the_solution_and_fails_a_wrong_unpermute():
    def solution(x, w_gate, w1, w2, top_k, skew):
        return ml.moe_forward(x, w_gate, w1, w2, top_k, skew, ml.fastest_experts(), ml.unpermute)

    def first_slot_only(y_sorted, p, gates):          # forgets the other k − 1 experts of each token
        y = torch.empty_like(y_sorted)
        y[p.order] = y_sorted
        return (y.view(gates.shape[0], gates.shape[1], -1)[:, 0].float() * gates[:, :1]).to(y_sorted.dtype)

    def wrong(x, w_gate, w1, w2, top_k, skew):
        return ml.moe_forward(x, w_gate, w1, w2, top_k, skew, ml.fastest_experts(), first_slot_only)

    assert pl.grade("ch15.moe_layer", solution).correct
    assert not pl.grade("ch15.moe_layer", wrong)
