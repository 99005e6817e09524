"""Decode attention: one new query per sequence over a long KV; eager vs SDPA backends vs a split-KV Triton kernel."""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch

from labs.ch09_arithmetic_intensity import _attention as A
from labs.inference.decode_attention import decode

TITLE = "Decode attention (one query over a long KV cache): eager vs SDPA backends vs split-KV Triton"
# (batch, heads, cached tokens, head_dim): odd lengths, so the last key tile is partial
SIZES = {"gpu": [(16, 32, 8_191, 128), (64, 32, 2_047, 128), (2, 32, 32_767, 128)],
         "cpu": [(3, 2, 301, 64), (2, 3, 77, 32), (1, 2, 501, 16)]}
DTYPES = ["bfloat16", "float16", "float32"]


def _unpack(size):
    if len(size) != 4:
        raise ValueError(f"size is (batch, heads, cached tokens, head_dim), got {size!r}")
    return size


def make_inputs(size, device="cpu", dtype="bfloat16", seed: int = 0) -> dict:
    B, H, S, D = _unpack(size)
    return A.qkv((B, H, 1, D), (B, H, S, D), device, dtype, seed)


def reference(q, k, v) -> torch.Tensor:
    return A.reference(q, k, v, causal=False)        # the new token sees every cached key (and itself)


def bytes(size, dtype="bfloat16") -> int:
    B, H, S, D = _unpack(size)
    return (2 * S + 2) * B * H * D * A.nbytes(dtype)  # K and V once, q in, o out: the cache dominates


def flops(size, dtype="bfloat16") -> int:
    B, H, S, D = _unpack(size)
    return 4 * B * H * S * D                          # q·kᵀ and p·V: 2 FLOP per key per channel, twice


@pl.variant(backend="torch", tol=3e-2,
            note="eager: (1 × S) scores to memory, rounded to the input dtype, softmax, then the weighted sum "
                 "(in bf16 the rounded scores cost accuracy: the gate allows it 3× the bf16 tolerance)")
def eager(q, k, v):
    return A.eager(q, k, v, causal=False)


sdpa_math = A.sdpa_variant("math", "SDPA forced to its math backend", causal=False)
sdpa_efficient = A.sdpa_variant("efficient", "SDPA forced to memory-efficient attention", needs="cuda", causal=False)
sdpa_flash = A.sdpa_variant("flash", "SDPA forced to FlashAttention-2 (bf16/fp16)", needs=("cuda", "sm_80"),
                            causal=False)
sdpa_cudnn = A.sdpa_variant("cudnn", "SDPA forced to cuDNN's fused attention (bf16/fp16)", needs=("cuda", "sm_80"),
                            causal=False)


@pl.variant(backend="triton", note="split-KV: each (sequence, head) cut into chunks read in parallel, then merged")
def triton_split_kv(q, k, v):
    lengths = torch.full((q.shape[0],), k.shape[2], dtype=torch.int32, device=q.device)
    return decode(q, k, v, lengths, longest=k.shape[2])


variants = [eager, sdpa_math, sdpa_efficient, sdpa_flash, sdpa_cudnn, triton_split_kv]
