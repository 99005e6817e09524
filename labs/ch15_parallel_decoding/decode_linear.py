"""Lab: M tokens through the engine's MLP up-projection, one token per call (decode one request at a time,
or verify draft tokens one by one) vs all M in one GEMM (batched decode, prefill, speculative verification).

One token per call reads the whole weight matrix for 2·d·4d FLOPs: about 1 FLOP per 2 bytes in fp32, far
left of any GPU's ridge point. One GEMM reads it once for all M tokens: intensity grows with M.
"""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch
import torch.nn.functional as F

from labs.inference.model import ModelConfig, tier_of

TITLE = "M tokens × the engine's MLP up-projection: one matrix-vector product per token vs one GEMM"
SIZES = {"gpu": [61, 5, 253, 1021], "cpu": [61, 5, 253]}        # M tokens (GPT-2 768→3072 on a GPU; tiny 128→512 on a CPU)
DTYPES = ["float32"]


def _shape(device) -> tuple[int, int]:
    cfg = ModelConfig.for_tier(tier_of(device))
    return cfg.d_model, 4 * cfg.d_model


def _dims() -> tuple[int, int]:
    cfg = ModelConfig.for_tier(pl.env().tier)
    return cfg.d_model, 4 * cfg.d_model


def make_inputs(size: int, device="cpu", dtype="float32", seed: int = 0) -> dict:
    d, h = _shape(device)
    g = torch.Generator(device=device).manual_seed(seed)
    dt = getattr(torch, dtype)
    x = torch.randn(size, d, generator=g, device=device, dtype=dt)
    w = torch.randn(h, d, generator=g, device=device, dtype=dt)                 # nn.Linear layout (out, in)
    b = torch.randn(h, generator=g, device=device, dtype=dt)
    return {"x": x, "w": w, "b": b}


def reference(x, w, b) -> torch.Tensor:
    return F.linear(x.double(), w.double(), b.double())


def bytes(size: int, dtype="float32") -> int:
    d, h = _dims()
    return getattr(torch, dtype).itemsize * (size * d + h * d + h + size * h)


def flops(size: int, dtype="float32") -> int:
    d, h = _dims()
    return 2 * size * d * h


@pl.variant(note="one F.linear per token: the weights cross memory M times (decode one request at a time)")
def one_token_at_a_time(x, w, b):
    out = torch.empty(x.shape[0], w.shape[0], device=x.device, dtype=x.dtype)
    for i in range(x.shape[0]):
        out[i:i + 1] = F.linear(x[i:i + 1], w, b)
    return out


@pl.variant(note="one F.linear for all M tokens: the weights cross memory once (batched decode / verify)")
def one_gemm(x, w, b):
    return F.linear(x, w, b)


variants = [one_token_at_a_time, one_gemm]
