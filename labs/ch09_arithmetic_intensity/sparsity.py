"""2:4 structured sparsity as a model: prune, compress (values + 2-bit positions), count bytes, and estimate
the GEMM speedup from a roofline — explained, not measured (sparse tensor cores need cuSPARSELt on sm_80+).

>>> w = torch.tensor([[0.1, -3.0, 2.0, 0.5, 4.0, 0.0, -1.0, 0.2]])
>>> prune_24(w).tolist()
[[0.0, -3.0, 2.0, 0.0, 4.0, 0.0, -1.0, 0.0]]
>>> compressed_bytes(1, 8, 2)        # 4 kept fp16 values (8 B) + 4 positions × 2 bits (1 B)
9.0
"""
from __future__ import annotations

import torch

from perflab.table import Table
from perflab.validate import calculator_inputs


def prune_24(w: torch.Tensor) -> torch.Tensor:
    """Keep the two largest magnitudes in every group of four along the last dimension."""
    rows, cols = w.shape
    if cols % 4:
        raise ValueError(f"2:4 sparsity groups columns in fours; got {cols} columns (pad to a multiple of 4)")
    groups = w.reshape(rows, cols // 4, 4)
    keep = groups.abs().topk(2, dim=-1).indices
    mask = torch.zeros_like(groups, dtype=torch.bool).scatter_(-1, keep, True)
    return (groups * mask).reshape(rows, cols)


def compress_24(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(values, positions): the two kept values of each group of four and their 2-bit positions (0–3)."""
    rows, cols = w.shape
    groups = w.reshape(rows, cols // 4, 4)
    pos = groups.abs().topk(2, dim=-1).indices.sort(dim=-1).values
    return groups.gather(-1, pos).reshape(rows, cols // 2), pos.to(torch.uint8).reshape(rows, cols // 2)


def decompress_24(values: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    rows, half = values.shape
    out = torch.zeros(rows, half // 2, 4, dtype=values.dtype, device=values.device)
    out.scatter_(-1, positions.long().reshape(rows, half // 2, 2), values.reshape(rows, half // 2, 2))
    return out.reshape(rows, half * 2)


def compressed_bytes(rows: int, cols: int, bytes_per_value: float) -> float:
    """Half the values plus 2 bits of position per kept value."""
    kept = rows * cols / 2
    return kept * bytes_per_value + kept * 2 / 8


def speedup(batch: int = 4096, n: int = 8192, k: int = 8192, bytes_per_value: float = 2,
            peak_tflops: float = 700.0, bandwidth_gbps: float = 4200.0) -> tuple[float, float, float]:
    """(dense s, 2:4 s, speedup) of Y[batch, n] = X[batch, k] · Wᵀ on a simple roofline:
    time = max(FLOPs ÷ peak, bytes ÷ bandwidth); 2:4 halves the math sparse tensor cores do and shrinks
    W to ``compressed_bytes``. Decoding overheads are left out: real kernels reach less."""
    flops = 2 * batch * n * k
    act = (batch * k + batch * n) * bytes_per_value
    dense_t = max(flops / (peak_tflops * 1e12), (act + n * k * bytes_per_value) / (bandwidth_gbps * 1e9))
    sparse_t = max(flops / 2 / (peak_tflops * 1e12),
                   (act + compressed_bytes(n, k, bytes_per_value)) / (bandwidth_gbps * 1e9))
    return dense_t, sparse_t, dense_t / sparse_t


@calculator_inputs(positive="batch")
def explain(batch: int = 4096, dtype: str = "bfloat16") -> str:
    """One line for pl.calculator: the 2:4 model on the H200 reference's measured ceilings."""
    import perflab as pl
    b = {"bfloat16": 2, "float16": 2, "float8": 1}[dtype]
    ref = pl.reference_ceilings()
    peak = ref.peak_tflops(dtype) if ref else 700.0
    bw = ref.copy_gbps if ref else 4200.0
    n = k = 8192
    d, s, x = speedup(batch, n, k, b, peak, bw)
    ratio = compressed_bytes(n, k, b) / (n * k * b)
    bound = "compute" if 2 * batch * n * k / (peak * 1e12) > (batch * (n + k) + n * k) * b / (bw * 1e9) else "memory"
    return (f"batch {batch}, 8192×8192 {dtype} weight: dense {d * 1e3:.3g} ms ({bound}-bound), 2:4 {s * 1e3:.3g} ms "
            f"→ {x:.2f}× (model, H200 measured ceilings {peak:,.0f} TFLOP/s, {bw:,.0f} GB/s). Weight bytes ×{ratio:.3g} "
            f"(values + 2-bit positions).")


def demo(rows: int = 256, cols: int = 1024, seed: int = 0) -> Table:
    """Prune a random weight to 2:4, compress it, check the round trip, count bytes and the output change."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(rows, cols, generator=g)
    x = torch.randn(64, cols, generator=g)
    pruned = prune_24(w)
    values, pos = compress_24(pruned)
    exact = bool(torch.equal(decompress_24(values, pos), pruned))
    kept = float(pruned.norm() ** 2 / w.norm() ** 2)
    out_err = float((x @ pruned.T - x @ w.T).norm() / (x @ w.T).norm())
    rows_out = [["dense fp16 bytes", f"{rows * cols * 2:,}"],
                ["2:4 bytes (values + positions)", f"{compressed_bytes(rows, cols, 2):,.0f}"],
                ["ratio", f"{compressed_bytes(rows, cols, 2) / (rows * cols * 2):.4f}"],
                ["decompress(compress(w)) == pruned w", "✅" if exact else "❌"],
                ["share of the weight's energy (Σw²) kept", f"{kept:.1%}"],
                ["output error on random inputs, no fine-tuning", f"{out_err:.1%}"]]
    return Table(["2:4 on a random 256×1024 weight", "value"], rows_out,
                 title="2:4 pruning, compressed format and byte count (CPU)",
                 notes=["random weights are the worst case; real models are pruned and then fine-tuned so the "
                        "accuracy comes back"])
