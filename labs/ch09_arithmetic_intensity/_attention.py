"""Plumbing shared by the attention labs: inputs, the float64 reference, SDPA with one backend forced."""
from __future__ import annotations

import math
import os

import perflab as pl  # noqa: F401  (first: sets TRITON_INTERPRET on machines without a GPU)
import torch

# the SDPA backends a variant can force, by the name torch.nn.attention.SDPBackend gives them
BACKENDS = {"math": "MATH", "efficient": "EFFICIENT_ATTENTION", "flash": "FLASH_ATTENTION",
            "cudnn": "CUDNN_ATTENTION"}
HALF = (torch.bfloat16, torch.float16)


def interpreted() -> bool:
    """True when Triton runs under its CPU interpreter (checked for correctness, never timed)."""
    return os.environ.get("TRITON_INTERPRET") == "1"


def qkv(shape_q, shape_kv, device, dtype, seed) -> dict:
    """q (B, H, Sq, D) and k, v (B, H, Skv, D) of seeded random data; each head gets its own scale so
    that a kernel reading another head's keys cannot pass."""
    g = torch.Generator(device=device).manual_seed(seed)
    B, H = shape_q[:2]
    out = {}
    for name, shape in (("q", shape_q), ("k", shape_kv), ("v", shape_kv)):
        scale = 0.5 + torch.rand(B, H, 1, 1, generator=g, device=device)
        out[name] = (torch.randn(*shape, generator=g, device=device) * scale).to(getattr(torch, dtype))
    return out


def reference(q, k, v, causal: bool) -> torch.Tensor:
    """softmax(q kᵀ/√d [+ causal mask]) v in float64. Causal aligns the queries to the last keys (query i
    of Sq sees keys 0 .. Skv − Sq + i), which is what a decode step or a chunk of prefill needs."""
    qd, kd, vd = q.double(), k.double(), v.double()
    s = qd @ kd.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if causal:
        sq, skv = q.shape[-2], k.shape[-2]
        keep = torch.arange(skv, device=q.device)[None, :] <= torch.arange(sq, device=q.device)[:, None] + skv - sq
        s = s.masked_fill(~keep, float("-inf"))
    return torch.softmax(s, dim=-1) @ vd


def eager(q, k, v, causal: bool) -> torch.Tensor:
    """matmul → scale → mask → softmax → matmul: four kernels, the S×S score matrix written and read."""
    s = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(q.shape[-1]))        # (B, H, Sq, Skv) in memory
    if causal:
        sq, skv = q.shape[-2], k.shape[-2]
        keep = torch.ones(sq, skv, dtype=torch.bool, device=q.device).tril(skv - sq)
        s = s.masked_fill(~keep, float("-inf"))
    return torch.softmax(s, dim=-1) @ v


def sdpa(q, k, v, causal: bool, backend: str) -> torch.Tensor:
    """F.scaled_dot_product_attention with only ``backend`` allowed: it runs that kernel or raises."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    if backend in ("flash", "cudnn") and q.dtype not in HALF:
        raise ValueError(f"the {backend} SDPA backend takes bfloat16 or float16, got {q.dtype}; "
                         f"run the lab with dtype='bfloat16'")
    if backend == "cudnn" and not (torch.backends.cudnn.is_available() and hasattr(SDPBackend, "CUDNN_ATTENTION")):
        raise RuntimeError("cuDNN attention is not available in this torch build")
    chosen = getattr(SDPBackend, BACKENDS[backend])
    with sdpa_kernel([chosen]):
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal)


def nbytes(dtype: str) -> int:
    return getattr(torch, dtype).itemsize
