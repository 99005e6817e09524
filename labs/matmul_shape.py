"""What every C = A @ B lab shares (ch10, ch14, ch20): sizes are (M, N, K); random A (M × K) and B (K × N);
a float64 reference; bytes = read A and B once, write C once; FLOPs = 2·M·N·K."""
from __future__ import annotations

import torch


def make_inputs(size, device="cpu", dtype="bfloat16", seed: int = 0) -> dict:
    m, n, k = size
    g = torch.Generator(device=device).manual_seed(seed)
    t = getattr(torch, dtype)
    return {"a": torch.randn(m, k, generator=g, device=device).to(t),
            "b": torch.randn(k, n, generator=g, device=device).to(t)}


def reference(a, b) -> torch.Tensor:
    return a.double() @ b.double()


def bytes(size, dtype="bfloat16") -> int:
    m, n, k = size
    return (m * k + k * n + m * n) * getattr(torch, dtype).itemsize


def flops(size, dtype="bfloat16") -> int:
    m, n, k = size
    return 2 * m * n * k
