"""Decode attention in Triton: one query per sequence over its cached K/V, contiguous or paged, 16/8-bit KV.

The kernel is "split-KV" (flash-decoding): a sequence's keys are cut into ``splits`` chunks, one program
per (sequence, head, chunk) computes a partial softmax-weighted sum with its own running max and sum,
and a second small kernel merges the chunks. With one query per sequence the work is a matrix-vector
product, so the kernel is bound by the bytes of K and V it reads; the split keeps every SM reading
even when batch × heads is small.

Where a key lives (the part that makes paging cheap):

    contiguous  k[b, h, pos, :]                                       (B, H, S, D)
    paged       pool[table[b, pos // bs], pos % bs, h, :]            (num_blocks, bs, H, D), the engine's layout

Quantized pools (int8 or float8 e4m3) carry one float32 scale per (slot, head); the kernel decodes
in registers, so the bytes read are the codes' (1 per element) plus the scales'.

    out = decode(q, k, v, lengths)                                   # contiguous (B, H, S, D)
    out = decode(q, pool_k, pool_v, lengths, table=table)            # paged
    out = decode(q, codes_k, codes_v, lengths, table=table, k_scale=sk, v_scale=sv)
"""
from __future__ import annotations

import math
import os

import torch
import triton
import triton.language as tl

LOG2E = 1.4426950408889634


@triton.jit
def _partial(q_ptr, k_ptr, v_ptr, ks_ptr, vs_ptr, table_ptr, len_ptr, part_ptr, ml_ptr,
             H, chunk, qk_scale, s_qb, s_qh, s_kb, s_kh, s_kt, s_sb, s_sh, s_st, s_table,
             D: tl.constexpr, BLOCK_N: tl.constexpr, PAGE: tl.constexpr, PAGED: tl.constexpr,
             QUANT: tl.constexpr, SPLITS: tl.constexpr):
    bh = tl.program_id(0)
    split = tl.program_id(1)
    b = bh // H
    h = bh % H
    length = tl.load(len_ptr + b)
    start = split * chunk
    end = tl.minimum(start + chunk, length)
    offs_d = tl.arange(0, D)
    q = tl.load(q_ptr + b * s_qb + h * s_qh + offs_d).to(tl.float32) * qk_scale      # (D,), log2 units
    m_i = tl.max(tl.full([BLOCK_N], float("-inf"), dtype=tl.float32), axis=0)     # fp32 scalars
    l_i = tl.sum(tl.zeros([BLOCK_N], dtype=tl.float32), axis=0)
    acc = tl.zeros([D], dtype=tl.float32)
    for n0 in range(start, end, BLOCK_N):
        pos = n0 + tl.arange(0, BLOCK_N)
        live = pos < end
        if PAGED:      # the block table maps a position to (block, slot); page = (b, slot) otherwise
            block = tl.load(table_ptr + b * s_table + pos // PAGE, mask=live, other=0).to(tl.int64)
            row = block * PAGE + pos % PAGE
            k_off = row * s_kt + h * s_kh
            s_off = row * s_st + h * s_sh
        else:
            k_off = b.to(tl.int64) * s_kb + h * s_kh + pos.to(tl.int64) * s_kt
            s_off = b * s_sb + h * s_sh + pos * s_st
        k = tl.load(k_ptr + k_off[:, None] + offs_d[None, :], mask=live[:, None], other=0.0).to(tl.float32)
        s = tl.sum(k * q[None, :], axis=1)                                             # (BLOCK_N,)
        if QUANT:
            s = s * tl.load(ks_ptr + s_off, mask=live, other=0.0)
        s = tl.where(live, s, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(s, axis=0))
        p = tl.math.exp2(s - m_new)
        alpha = tl.math.exp2(m_i - m_new)
        v = tl.load(v_ptr + k_off[:, None] + offs_d[None, :], mask=live[:, None], other=0.0).to(tl.float32)
        if QUANT:
            p_v = p * tl.load(vs_ptr + s_off, mask=live, other=0.0)
        else:
            p_v = p
        l_i = l_i * alpha + tl.sum(p, axis=0)
        acc = acc * alpha + tl.sum(p_v[:, None] * v, axis=0)
        m_i = m_new
    out = bh * SPLITS + split
    tl.store(part_ptr + out * D + offs_d, acc)
    tl.store(ml_ptr + out * 2, m_i)
    tl.store(ml_ptr + out * 2 + 1, l_i)


@triton.jit
def _merge(part_ptr, ml_ptr, o_ptr, H, s_ob, s_oh, D: tl.constexpr, SPLITS: tl.constexpr):
    bh = tl.program_id(0)
    sp = tl.arange(0, SPLITS)
    offs_d = tl.arange(0, D)
    m = tl.load(ml_ptr + (bh * SPLITS + sp) * 2)
    l = tl.load(ml_ptr + (bh * SPLITS + sp) * 2 + 1)
    m_all = tl.max(m, axis=0)                      # finite: every sequence has ≥ 1 key, so some chunk does
    w = tl.math.exp2(m - m_all)                    # empty chunks: m = -inf, weight 0
    part = tl.load(part_ptr + (bh * SPLITS + sp)[:, None] * D + offs_d[None, :])
    out = tl.sum(part * w[:, None], axis=0) / tl.sum(l * w, axis=0)
    tl.store(o_ptr + (bh // H) * s_ob + (bh % H) * s_oh + offs_d, out.to(o_ptr.dtype.element_ty))


def plan(batch_heads: int, longest: int) -> dict:
    """Chunks per sequence and keys per step: enough programs to give every SM about two (read off the
    device), chunks of at least 4 steps, a power of two the merge kernel can hold."""
    if os.environ.get("TRITON_INTERPRET") == "1":
        return {"splits": 2, "BLOCK_N": 32, "num_warps": 4}
    sms = torch.cuda.get_device_properties(torch.cuda.current_device()).multi_processor_count
    block_n = 64
    want = max(1, 2 * sms // max(batch_heads, 1))
    most = max(1, longest // (4 * block_n))
    splits = 1 << (min(want, most, 64).bit_length() - 1)
    return {"splits": splits, "BLOCK_N": block_n, "num_warps": 4}


def decode(q, k, v, lengths, table=None, k_scale=None, v_scale=None, block_size: int | None = None,
           longest: int | None = None, **knobs) -> torch.Tensor:
    """softmax(q kᵀ/√d) v for one query per sequence over its first ``lengths[b]`` keys.

    q: (B, H, D) or (B, H, 1, D). Contiguous: k, v (B, H, S, D). Paged: k, v are pools (num_blocks,
    block_size, H, D) and ``table`` (B, ≥ ceil(S / block_size)) the block ids. int8 / float8 pools need
    ``k_scale``, ``v_scale`` (same layout without D, float32). ``longest``: max(lengths) if the caller
    knows it (saves a device read). Returns (B, H, D) or (B, H, 1, D) like q, in q's dtype.
    """
    squeeze = q.dim() == 3
    q4 = q[:, :, None] if squeeze else q
    B, H, one, D = q4.shape
    if one != 1:
        raise ValueError(f"decode takes one query per sequence, got {one} (use a prefill kernel for more)")
    if D & (D - 1) or D < 16:
        raise ValueError(f"head_dim {D} must be a power of two ≥ 16")
    quant = k.dtype in (torch.int8, torch.float8_e4m3fn)
    if quant and (k_scale is None or v_scale is None):
        raise ValueError(f"{k.dtype} K/V needs k_scale and v_scale (one float32 per slot and head)")
    paged = table is not None
    if paged:
        page = k.shape[1] if block_size is None else block_size
        s_kb, s_kh, s_kt = 0, k.stride(2), k.stride(1)
        sc = k_scale if quant else k
        s_sb, s_sh, s_st = (0, sc.stride(2), sc.stride(1)) if quant else (0, 0, 0)
    else:
        page = 1
        s_kb, s_kh, s_kt = k.stride(0), k.stride(1), k.stride(2)
        s_sb, s_sh, s_st = (k_scale.stride(0), k_scale.stride(1), k_scale.stride(2)) if quant else (0, 0, 0)
    if k.stride(-1) != 1 or v.stride() != k.stride():
        raise ValueError("k and v must share one layout with a contiguous last dimension")
    longest = int(lengths.max()) if longest is None else longest
    cfg = {**plan(B * H, longest), **knobs}
    splits = cfg.pop("splits")
    chunk = triton.cdiv(triton.cdiv(max(longest, 1), splits), cfg["BLOCK_N"]) * cfg["BLOCK_N"]
    part = torch.empty(B * H * splits, D, device=q.device, dtype=torch.float32)
    ml = torch.empty(B * H * splits, 2, device=q.device, dtype=torch.float32)
    dummy = lengths
    _partial[(B * H, splits)](
        q4, k, v, k_scale if quant else dummy, v_scale if quant else dummy, table if paged else dummy,
        lengths, part, ml, H, chunk, LOG2E / math.sqrt(D), q4.stride(0), q4.stride(1),
        s_kb, s_kh, s_kt, s_sb, s_sh, s_st, table.stride(0) if paged else 0,
        D=D, PAGE=page, PAGED=paged, QUANT=quant, SPLITS=splits, **cfg)
    o = torch.empty(B, H, 1, D, device=q.device, dtype=q.dtype)
    _merge[(B * H,)](part, ml, o, H, o.stride(0), o.stride(1), D=D, SPLITS=splits)
    return o[:, :, 0] if squeeze else o
