"""Chapter 9 attention labs: shape, every runnable variant against the float64 reference at extra odd sizes (causal
and not, one query; the lab's two sizes: tests/test_contract.py), planted kernel bugs the gate must catch, the FLOP
model, and GPU-only variants skipping cleanly."""
from __future__ import annotations

import math

import pytest
import torch

import labtests
import perflab as pl
from perflab.check import compare
from perflab.lab import info

from labs.ch09_arithmetic_intensity import attention_prefill as P
from labs.ch09_arithmetic_intensity import _attention as A

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
# sizes beyond the contract's two: lengths prime, so the last query and key tiles are partial
EXTRA = {"ch09.attention_prefill": [(2, 1, 53, 16, 0), (1, 2, 1, 32, 1)], "ch09.attention_decode": [(1, 3, 17, 64)]}


def gate(fn, out, ref, dtype):
    meta = info(fn)
    return compare(out, ref, meta.precision or dtype, meta.tol)


@pytest.mark.parametrize("name", EXTRA)
def test_lab_shape(name):
    lab = pl.load(name)
    names = lab.variant_names()
    assert names[0] == "eager" and names[1:5] == ["sdpa_math", "sdpa_efficient", "sdpa_flash", "sdpa_cudnn"]
    assert names[-1].startswith("triton") and info(lab.variants[-1]).backend == "triton"
    assert lab.DTYPES[0] == "bfloat16"
    assert info(lab.get_variant("sdpa_flash")).needs == ("cuda", "sm_80")
    for tier in ("cpu", "gpu"):
        assert len(lab.SIZES[tier]) >= 2
        for size in lab.SIZES[tier]:
            seq = size[2]
            assert seq % 16 and seq % 64, f"{name} {size}: the sequence must leave a partial tile"


@pytest.mark.parametrize("name", EXTRA)
def test_gpu_only_variants_say_why_here(name):
    lab = pl.load(name)
    for v in ("sdpa_efficient", "sdpa_flash", "sdpa_cudnn"):
        why = labtests.runnable(lab.get_variant(v))
        if DEVICE == "cpu":
            assert why and why.startswith("needs cuda"), (v, why)


CASES = [(n, fn.__name__, size, dt) for n in EXTRA for fn in pl.load(n).variants
         for size in EXTRA[n] for dt in ("bfloat16", "float32")]


@pytest.mark.parametrize("name, variant, size, dtype", CASES)
def test_variant_matches_reference(name, variant, size, dtype):
    lab = pl.load(name)
    fn = lab.get_variant(variant)
    if (why := labtests.runnable(fn)) is not None:
        pytest.skip(why)
    inputs = lab.make_inputs(size, DEVICE, dtype, seed=100 + size[2])
    if variant in ("sdpa_flash", "sdpa_cudnn") and dtype == "float32":
        with pytest.raises(ValueError, match="bfloat16 or float16"):
            fn(**inputs)
        return
    check = gate(fn, fn(**inputs), lab.reference(**inputs), dtype)
    assert check.ok, f"{name}.{variant} at {size}, {dtype}: {check.reason}"


def test_each_head_has_its_own_scale():
    one = P.make_inputs((1, 3, 77, 64, 1), "cpu", "float32", 1)     # seeding: tests/test_contract.py
    assert one["k"].std(dim=(2, 3)).std() > 0.05                  # each head has its own scale


# ---- planted bugs: the gate must reject each ----------------------------------------------------

def flash_without_causal_mask(q, k, v, causal):
    return P.flash_forward(q, k, v, False)


def flash_drops_last_partial_tile(q, k, v, causal):
    """Launch as if S were a whole number of key tiles: keys (and queries) of the partial tile are lost."""
    B, H, S, D = q.shape
    cfg = P.plan(D, causal)
    cut = S // cfg["BLOCK_N"] * cfg["BLOCK_N"]
    o = torch.zeros_like(q)
    P._flash_fwd[(math.ceil(S / cfg["BLOCK_M"]), B * H)](
        q, k, v, o, cut, H, P.LOG2E / D ** 0.5, q.stride(0), q.stride(1), q.stride(2), D=D, CAUSAL=causal,
        DOT_F32=True, **cfg)
    return o


def flash_unscaled_scores(q, k, v, causal):
    """Forgets the 1/√d: the softmax gets too sharp."""
    return P.flash_forward(q * q.shape[-1] ** 0.5, k, v, causal)


@pytest.mark.parametrize("bug", [flash_without_causal_mask, flash_drops_last_partial_tile, flash_unscaled_scores])
@pytest.mark.parametrize("size", [(1, 2, 37, 32, 1), (1, 3, 77, 64, 1)])
def test_planted_prefill_bug_is_caught(bug, size):
    inputs = P.make_inputs(size, DEVICE, "float32", seed=7)
    assert not compare(bug(**inputs), P.reference(**inputs), "float32").ok, bug.__name__


def test_decode_kernel_that_skips_the_last_key_is_caught():
    from labs.ch09_arithmetic_intensity import attention_decode as Dl
    from labs.inference.decode_attention import decode
    inputs = Dl.make_inputs((2, 2, 133, 32), DEVICE, "float32", 3)
    S = inputs["k"].shape[2]
    short = torch.full((2,), S - 1, dtype=torch.int32, device=DEVICE)
    out = decode(inputs["q"], inputs["k"], inputs["v"], short, longest=S)
    assert not compare(out, Dl.reference(**inputs), "float32").ok


def test_the_gate_accepts_the_kernel_and_the_reference_agrees_with_sdpa():
    inputs = P.make_inputs((1, 2, 37, 32, 1), DEVICE, "float64" if DEVICE == "cpu" else "float32", 9)
    ref = P.reference(**inputs)
    sdpa = torch.nn.functional.scaled_dot_product_attention(inputs["q"], inputs["k"], inputs["v"], is_causal=True)
    torch.testing.assert_close(sdpa.double(), ref, rtol=1e-6, atol=1e-6)


# ---- the models ---------------------------------------------------------------------------------

def test_causal_flops_count_the_visible_half():
    full, causal = P.flops((2, 3, 101, 64, 0)), P.flops((2, 3, 101, 64, 1))
    assert full == 4 * 2 * 3 * 101 * 101 * 64
    assert causal == 4 * 2 * 3 * 64 * (101 * 102 // 2)
    assert 0.5 < causal / full < 0.51
    assert P.bytes((2, 3, 101, 64, 1), "bfloat16") == 4 * 2 * 3 * 101 * 64 * 2
    assert P.score_bytes((1, 1, 100, 64, 0), "float32") == 6 * 100 * 100 * 4


def test_decode_model_is_the_cache_read():
    from labs.ch09_arithmetic_intensity import attention_decode as Dl
    size = (16, 32, 8_191, 128)
    assert Dl.bytes(size, "bfloat16") == (2 * 8_191 + 2) * 16 * 32 * 128 * 2
    assert Dl.flops(size) / Dl.bytes(size, "bfloat16") < 1.01               # ~1 FLOP/byte: memory-bound


def test_bad_sizes_and_dtypes_name_the_fix():
    with pytest.raises(ValueError, match="batch, heads, seq, head_dim, causal"):
        P.bytes((1, 2, 3), "bfloat16")
    q = torch.zeros(1, 1, 5, 24)
    with pytest.raises(ValueError, match="head_dim 24"):
        P.flash_forward(q, q, q, True)
    with pytest.raises(ValueError, match="bfloat16 or float16"):
        A.sdpa(q, q, q, False, "flash")
