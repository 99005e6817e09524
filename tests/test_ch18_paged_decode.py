"""ch18 paged decode attention: every variant against the float64 reference at odd lengths, planted kernel
bugs (ignoring the block table, dropping the last partial block, forgetting the scales) caught by the gate,
the quantized pools against ch18's quantizer, and the traffic model."""
from __future__ import annotations

import pytest
import torch

import labtests
import perflab as pl
from perflab.check import compare
from perflab.lab import info

from labs.ch18_kv_tuning import kv_quant
from labs.ch18_kv_tuning import paged_decode as PD
from labs.inference.decode_attention import decode

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
SIZES = [*PD.SIZES["cpu"], (5, 37, 2, 64, 16)]


def gate(fn, out, ref, dtype):
    meta = info(fn)
    return compare(out, ref, meta.precision or dtype, meta.tol)


def test_lab_shape_and_lengths():
    lab = pl.load("ch18.paged_decode")
    assert lab.variant_names()[:2] == ["gather_sdpa", "triton_paged"]
    assert {info(f).backend for f in lab.variants} == {"torch", "triton"}
    for size in SIZES + PD.SIZES["gpu"]:
        lengths = PD.lengths_of(size)
        assert len(lengths) == size[0] and all(n % size[4] for n in lengths), "every last block must be partial"
        assert min(lengths) < size[1] < max(lengths) or size[0] == 1


CASES = [(fn.__name__, i, dt) for fn in PD.variants for i in range(len(SIZES)) for dt in PD.DTYPES]


@pytest.mark.parametrize("variant, i, dtype", CASES)
def test_variant_matches_reference(variant, i, dtype):
    fn = pl.load("ch18.paged_decode").get_variant(variant)
    if (why := labtests.runnable(fn)) is not None:
        pytest.skip(why)
    inputs = PD.make_inputs(SIZES[i], DEVICE, dtype, seed=40 + i)
    check = gate(fn, fn(**inputs), PD.reference(**inputs), dtype)
    assert check.ok, f"{variant} at {SIZES[i]}, {dtype}: {check.reason}"


def test_quantized_pools_are_ch18s_quantizer_per_slot_and_head():
    inputs = PD.make_inputs((3, 77, 2, 32, 16), "cpu", "bfloat16", 1)
    codes, scale = inputs["int8"]["k"]
    assert codes.dtype == torch.int8 and codes.shape == inputs["k"].shape and scale.shape == inputs["k"].shape[:3]
    back = codes.float() * scale[..., None]
    qt = kv_quant.quantize(inputs["k"].transpose(1, 2), "int8", "token", window=0)
    assert torch.equal(back, qt.dequantize(torch.float32).transpose(1, 2))
    err = (back - inputs["k"].float()).abs() / scale[..., None]
    assert float(err.max()) <= 0.5 + 1e-3                       # int8: at most half a step per element
    assert inputs["fp8"]["k"][0].dtype == torch.float8_e4m3fn


# ---- planted bugs ------------------------------------------------------------------------------

def ignores_the_table(q, k, v, table, lengths, int8, fp8):
    """Reads blocks 1, 2, 3, ... in order, as if the pool were contiguous per sequence."""
    B, nb = table.shape
    fake = (torch.arange(B * nb, device=table.device).view(B, nb) % (k.shape[0] - 1) + 1).to(table.dtype)
    return decode(q, k, v, lengths, table=fake)


def drops_the_last_partial_block(q, k, v, table, lengths, int8, fp8):
    bs = k.shape[1]
    return decode(q, k, v, torch.clamp(lengths // bs * bs, min=1), table=table)


def forgets_the_scales(q, k, v, table, lengths, int8, fp8):
    (ck, sk), (cv, sv) = int8["k"], int8["v"]
    return decode(q, ck, cv, lengths, table=table, k_scale=torch.ones_like(sk), v_scale=torch.ones_like(sv))


def uses_the_first_sequences_length_for_all(q, k, v, table, lengths, int8, fp8):
    return decode(q, k, v, lengths[:1].expand_as(lengths).contiguous(), table=table)


@pytest.mark.parametrize("bug", [ignores_the_table, drops_the_last_partial_block, forgets_the_scales,
                                 uses_the_first_sequences_length_for_all])
@pytest.mark.parametrize("i", [0, 3])
def test_planted_bug_is_caught(bug, i):
    inputs = PD.make_inputs(SIZES[i], DEVICE, "bfloat16", seed=9)
    assert not compare(bug(**inputs), PD.reference(**inputs), "bfloat16", 2e-2).ok, bug.__name__


def test_fp8_would_fail_the_int8_tolerance_so_its_declaration_matters():
    fn = PD.triton_paged_fp8
    if (why := labtests.runnable(fn)) is not None:
        pytest.skip(why)
    inputs = PD.make_inputs((3, 77, 2, 32, 16), DEVICE, "bfloat16", 2)
    out, ref = fn(**inputs), PD.reference(**inputs)
    assert compare(out, ref, "float8").ok and not compare(out, ref, "bfloat16").ok


# ---- models ------------------------------------------------------------------------------------

def test_bytes_flops_and_traffic_model():
    size = (3, 77, 2, 32, 16)
    tokens = sum(PD.lengths_of(size))
    assert tokens == 38 + 77 + 116
    assert PD.bytes(size, "bfloat16") == (2 * tokens + 2 * 3) * 2 * 32 * 2
    assert PD.flops(size) == 4 * tokens * 2 * 32
    kernel, int8 = PD.kv_bytes("triton_paged", size), PD.kv_bytes("triton_paged_int8", size)
    assert int8 / kernel == (32 + 4) / (2 * 32)                 # 1-byte codes + a 4-byte scale per 32 values
    assert PD.kv_bytes("gather_sdpa", size) > 3 * kernel        # the gathered copy is written and read again


def test_bad_inputs_name_the_fix():
    with pytest.raises(ValueError, match="sequences, mean cached tokens"):
        PD.lengths_of((3, 77))
    inputs = PD.make_inputs((2, 45, 3, 16, 16), "cpu", "bfloat16", 0)
    ck, _ = inputs["int8"]["k"]
    with pytest.raises(ValueError, match="k_scale and v_scale"):
        decode(inputs["q"], ck, ck, inputs["lengths"], table=inputs["table"])
    with pytest.raises(ValueError, match="one query per sequence"):
        decode(torch.zeros(1, 2, 3, 16), inputs["k"], inputs["v"], inputs["lengths"], table=inputs["table"])
