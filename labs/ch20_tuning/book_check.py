"""Chapter 20's book check: the numbers that can be recounted or measured here, and the ones that are
someone else's measurement (said so)."""
from __future__ import annotations

import perflab as pl
import torch
from perflab.table import Table

GPT3_PARAMS, GPT3_TOKENS = 175e9, 300e9          # the GPT-3 paper (Brown et al., 2020): 175 B parameters, 300 B tokens


def strassen_one_level(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """C = A @ B with one level of Strassen: 7 half-size products instead of 8 (n even, square)."""
    n = a.shape[0]
    if a.shape != (n, n) or b.shape != (n, n) or n % 2:
        raise ValueError(f"one Strassen level needs two square matrices of even size, got {tuple(a.shape)}, {tuple(b.shape)}")
    h = n // 2
    a11, a12, a21, a22 = a[:h, :h], a[:h, h:], a[h:, :h], a[h:, h:]
    b11, b12, b21, b22 = b[:h, :h], b[:h, h:], b[h:, :h], b[h:, h:]
    m1 = (a11 + a22) @ (b11 + b22)
    m2 = (a21 + a22) @ b11
    m3 = a11 @ (b12 - b22)
    m4 = a22 @ (b21 - b11)
    m5 = (a11 + a12) @ b22
    m6 = (a21 - a11) @ (b11 + b12)
    m7 = (a12 - a22) @ (b21 + b22)
    return torch.cat([torch.cat([m1 + m4 - m5 + m7, m3 + m5], 1), torch.cat([m2 + m4, m1 - m2 + m3 + m6], 1)], 0)


def strassen_vs_direct(n: int | None = None) -> tuple[float, float, float]:
    """(direct seconds, Strassen seconds, max relative error) for float32 n × n on this device."""
    dev = pl.device()
    n = n or (8192 if dev.type == "cuda" else 768)
    g = torch.Generator(device=dev).manual_seed(0)
    a, b = (torch.randn(n, n, generator=g, device=dev) for _ in range(2))
    direct = pl.bench(lambda: a @ b, rep_ms=50).median
    fast = pl.bench(lambda: strassen_one_level(a, b), rep_ms=50).median
    ref = a.double() @ b.double()
    err = ((strassen_one_level(a, b).double() - ref).abs().max() / ref.abs().max()).item()
    return direct, fast, err


def _gate_text(run) -> str:
    """How many of the lab's Triton candidates passed the runner's correctness gate in ``run``."""
    if run is None:
        return "run Lab 3 first"
    triton = [r for r in run.records if r.variant.startswith("triton")]
    return f"our gate: {sum(r.correct for r in triton)} of {len(triton)} Triton candidates pass"


def table(strassen=None, candidates_run=None) -> Table:
    d, s, err = strassen or strassen_vs_direct()
    rows = [
        ["L8569 · AlphaTensor: 10–20% faster than V100 cuBLAS", "10–20%",
         f"one Strassen level (7 products, not 8): {d / s:.2f}× direct; max rel. error {err:.1e}",
         "fewer multiplications ≠ faster: the extra additions are memory-bound passes, and the half-size "
         "products run less efficiently; AlphaTensor's gains were tuned for one GPU and size"],
        ["L8657 · GPT-3 ≈ 3 × 10²³ FLOPs", "3e23", f"6·N·D = 6 × 175e9 × 300e9 = {6 * GPT3_PARAMS * GPT3_TOKENS:.2e}",
         "agrees: training ≈ 6 FLOPs per parameter per token (forward 2, backward 4)"],
        ["L8795 · Adam triples memory: 100 T params → 200 T extra values", "200 T",
         f"2 states × 100e12 = {2 * 100e12:.0e} values = {2 * 100e12 * 4 / 1e12:,.0f} TB in fp32",
         "agrees (momentum and variance); with fp32 master weights and bf16 weights and grads it is 16 B/param"],
        ["L8617 · generated attention kernels 1.1–2.1× FlexAttention", "1.1–2.1×", "not reproducible here",
         "NVIDIA's measurement on H100 with its own verifier; Lab 3 shows what such a verifier must catch"],
        ["L8621 · KernelBench: 100% Level-1, 96% Level-2 correct", "100% / 96%", _gate_text(candidates_run),
         "a correctness rate is only as strict as the sizes checked: the K-tail shortcut passes an aligned check"],
        ["L8641 · RL-tuned model: ~40% working kernels, some 3× faster", "40%, 3×", "not reproducible here",
         "a reward must score 'fast but wrong' as zero (compile → correct → then speed), as the loop in Lab 3 does"],
    ]
    return Table(["book claim", "book", f"ours ({pl.env().device})", "why"], rows, title="Book check · Chapter 20")
