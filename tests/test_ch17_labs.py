"""Chapter 17: the KV relayout lab's grader (variants and planted bugs: tests/test_contract.py), the KV handoff
(pack, digest, torchrun with gloo), and the book check."""
from __future__ import annotations

import pytest
import torch

import perflab as pl
from labtests import lower_offline

from labs.ch17_disaggregation import book_check, goodput, handoff, kv_handoff, kv_relayout, solutions
from labs.ch17_disaggregation.workloads import make_workload

LAB = "ch17.kv_relayout"


def test_only_kv_relayout_is_a_lab():
    assert sorted(n for n in pl.list_labs() if n.startswith("ch17.")) == [LAB]


def test_bytes_count_one_read_and_one_write():
    assert kv_relayout.bytes((2, 301, 4, 32), "float32") == 2 * 2 * 2 * 301 * 4 * 32 * 4
    assert kv_relayout.flops((2, 301, 4, 32)) == 0


def test_starter_and_solution_pass_the_grader():
    assert pl.grade(LAB, kv_relayout.per_head_copies).correct
    assert pl.grade(LAB, solutions.relayout).correct


# ---- the handoff ------------------------------------------------------------------------------

def _filled_cache(prompt: int):
    from labs.inference.kv_cache import KVCache
    from labs.inference.model import ModelConfig, build_model
    cfg = ModelConfig.tiny()
    model = build_model(cfg)
    cache = KVCache.empty(cfg, 1, prompt + 4)
    with torch.inference_mode():
        model(torch.randint(0, cfg.vocab_size, (1, prompt), generator=torch.Generator().manual_seed(0)), cache)
    return cfg, model, cache


def test_pack_unpack_round_trip_and_byte_count():
    from labs.inference.kv_cache import KVCache
    cfg, _, cache = _filled_cache(37)
    buf = kv_handoff.pack(cache, 37)
    assert buf.is_contiguous() and tuple(buf.shape) == (cfg.n_layers, 2, cfg.n_heads, 37, cfg.head_dim)
    assert buf.numel() * buf.element_size() == 37 * cfg.kv_bytes_per_token(4)
    other = KVCache.empty(cfg, 1, 41)
    kv_handoff.unpack(buf, other)
    assert int(other.lengths[0]) == 37
    for a, b in zip(cache.k + cache.v, other.k + other.v):
        assert torch.equal(a[:, :, :37], b[:, :, :37])


def test_digest_catches_one_flipped_bit():
    _, _, cache = _filled_cache(16)
    buf = kv_handoff.pack(cache, 16)
    bad = buf.clone()
    bad.view(torch.int32).view(-1)[123] ^= 1
    assert torch.equal(kv_handoff.digest(buf), kv_handoff.digest(buf.clone()))
    assert not torch.equal(kv_handoff.digest(buf), kv_handoff.digest(bad))


def test_decode_continues_from_a_copied_cache():
    from labs.inference.kv_cache import KVCache
    cfg, model, cache = _filled_cache(20)
    other = KVCache.empty(cfg, 1, 24)
    kv_handoff.unpack(kv_handoff.pack(cache, 20), other)
    with torch.inference_mode():
        assert kv_handoff.decode_from(model, other, 7, 3, "cpu") == kv_handoff.decode_from(model, cache, 7, 3, "cpu")


def test_torchrun_gloo_handoff_is_bit_exact():
    if handoff.gpu_count() >= 2:
        pytest.skip("this machine would use NCCL; the gloo path is tested on CPU machines")
    res = handoff.measure(verbose=False)
    assert res is not None and res.backend == "gloo" and res.world_size == 2
    for r in res.rows:
        assert r.bit_exact and r.tokens_equal, r
        assert r.bytes == r.prompt * res.kv_bytes_per_token and r.gbps > 0
    assert "✅" in str(handoff.table(res)) and "❌" not in str(handoff.table(res))


def test_handoff_table_without_a_measurement_says_so():
    assert "not measured here" in handoff.table(None).title


# ---- book check ---------------------------------------------------------------------------------

def test_book_check_table():
    from labs.ch17_disaggregation.sim import CostModel
    cost = CostModel(prefill_fixed_s=0.4e-3, prefill_per_token_s=20e-6, decode_fixed_s=0.3e-3, decode_per_seq_s=10e-6)
    wl = make_workload(120, 200, 16, seed=0)
    cmp = goodput.compare(cost, wl, goodput.slo_for(cost, wl), configs=[(2, 1)])
    text = str(book_check.table(cmp))
    assert "3.33 RPS/GPU" in text and "min(11.2, 10) / 3" in text and "6.25× in total" in text
    assert "L7401 vs L7421" in text


TRITON_OFFLINE = r"""
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from triton.runtime.jit import JITFunction
from labs.ch17_disaggregation import kv_relayout as kr
fn = kr._relayout_kernel
fn = fn if isinstance(fn, JITFunction) else JITFunction(fn.fn)
for dt, bd, arch in (("fp32", 64, 75), ("bf16", 128, 90)):
    sig = {"src_ptr": f"*{dt}", "out_ptr": f"*{dt}", "T": "i32", "H": "i32", "D": "i32",
           "BLOCK_T": "constexpr", "BLOCK_D": "constexpr"}
    k = triton.compile(ASTSource(fn=fn, signature=sig, constexprs={"BLOCK_T": kr.BLOCK_T, "BLOCK_D": bd}),
                       target=GPUTarget("cuda", arch, 32), options={"num_warps": 4})
    print(arch, "st.global" in k.asm["ptx"])
"""


def test_triton_relayout_lowers_offline_for_sm75_and_sm90():
    out = lower_offline(TRITON_OFFLINE)
    assert out.count("True") == 2, out
