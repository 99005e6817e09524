"""KV layout conversion on the decode side: token-major K/V from a prefill worker -> the decode cache's layout.

The prefill worker's projection produces K and V as (tokens, heads, head_dim) per layer: token-major. The
decode worker's cache (labs.inference.kv_cache) keeps (heads, tokens, head_dim): head-major, so attention
reads one head's keys contiguously. When the two sides disagree, the receiver converts after the transfer
and before the first decode step (the book's "layout conversion kernel", L7127 and L7241). Every byte is
read once and written once; the lesson is how many kernels it takes to do it.

    src: (layers, 2, tokens, heads, head_dim)  ->  out: (layers, 2, heads, tokens, head_dim)
"""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch
import triton
import triton.language as tl

TITLE = "KV relayout after a handoff: token-major (L, 2, T, H, D) -> head-major (L, 2, H, T, D)"
# (layers, tokens, heads, head_dim): the cpu sizes are the tiny engine's shape, the gpu ones GPT-2 small's
# (12 layers, 12 heads of 64) at 4001 and 1023 prompt tokens, and a 24-layer, 16-head, 128-dim model.
SIZES = {"cpu": [(2, 301, 4, 32), (2, 77, 4, 32)],
         "gpu": [(12, 4001, 12, 64), (12, 1023, 12, 64), (24, 2047, 16, 128)]}
DTYPES = ["float32", "bfloat16"]
OPTIONS = pl.LabOptions(target=0.5)    # the exercise: half of the measured copy bandwidth on a GPU

BLOCK_T = 32          # tokens per Triton program


def make_inputs(size, device="cpu", dtype="float32", seed: int = 0) -> dict:
    layers, tokens, heads, dim = size
    g = torch.Generator(device=device).manual_seed(seed)
    src = torch.randn(layers, 2, tokens, heads, dim, generator=g, device=device, dtype=torch.float32)
    return {"src": src.to(getattr(torch, dtype))}


def reference(src: torch.Tensor) -> torch.Tensor:
    return src.transpose(2, 3).contiguous()


def bytes(size, dtype="float32") -> int:
    layers, tokens, heads, dim = size
    return 2 * layers * 2 * tokens * heads * dim * getattr(torch, dtype).itemsize     # read once, write once


def flops(size, dtype="float32") -> int:
    return 0


@pl.variant(backend="torch", note="one copy per (layer, K/V, head): 2·L·H small strided copies, as a naive receiver")
def per_head_copies(src):
    layers, two, tokens, heads, dim = src.shape
    out = torch.empty(layers, two, heads, tokens, dim, device=src.device, dtype=src.dtype)
    for l in range(layers):
        for s in range(two):
            for h in range(heads):
                out[l, s, h].copy_(src[l, s, :, h])
    return out


@pl.variant(backend="torch", note="one transposing copy per (layer, K/V): 2·L kernels")
def per_layer_copies(src):
    layers, two, tokens, heads, dim = src.shape
    out = torch.empty(layers, two, heads, tokens, dim, device=src.device, dtype=src.dtype)
    for l in range(layers):
        for s in range(two):
            out[l, s].copy_(src[l, s].transpose(0, 1))
    return out


@pl.variant(backend="torch", note="src.transpose(2, 3).contiguous(): one strided-copy kernel for the whole set")
def one_copy(src):
    return src.transpose(2, 3).contiguous()


@triton.jit
def _relayout_kernel(src_ptr, out_ptr, T, H, D, BLOCK_T: tl.constexpr, BLOCK_D: tl.constexpr):
    # program (p, j): K-or-V slab p // H, head p % H, tokens j·BLOCK_T …; each token row is D contiguous values
    p = tl.program_id(0).to(tl.int64)
    slab, h = p // H, p % H
    t = tl.program_id(1) * BLOCK_T + tl.arange(0, BLOCK_T)
    d = tl.arange(0, BLOCK_D)
    mask = (t[:, None] < T) & (d[None, :] < D)
    rows = tl.load(src_ptr + slab * T * H * D + (t[:, None] * H + h) * D + d[None, :], mask=mask)
    tl.store(out_ptr + slab * H * T * D + h * T * D + t[:, None] * D + d[None, :], rows, mask=mask)


@pl.variant(backend="triton", note="one kernel: a program per (slab, head, 32 tokens) moves whole token rows")
def triton_relayout(src):
    layers, two, tokens, heads, dim = src.shape
    src = src.contiguous()
    out = torch.empty(layers, two, heads, tokens, dim, device=src.device, dtype=src.dtype)
    grid = (layers * two * heads, triton.cdiv(tokens, BLOCK_T))
    _relayout_kernel[grid](src, out, tokens, heads, dim, BLOCK_T=BLOCK_T,
                           BLOCK_D=triton.next_power_of_2(dim), num_warps=4)
    return out


variants = [per_head_copies, per_layer_copies, one_copy, triton_relayout]
