"""Lab (and exercise): one decode-shaped linear layer, y = x @ W^T, with W stored as int8 + per-channel scales.

The weights were quantized offline (``quant.quantize_int8``): that halves the memory. Whether it also
halves the *time* depends on the kernel. A decode step multiplies a few rows of x by W, so the time is
the time to read W. Keeping a bf16 copy reads 2 bytes per weight; widening the int8 weights with torch
ops first writes and reads a bf16 temporary (5 bytes per weight in all); a fused kernel that widens them
in registers reads 1 byte. ``bytes()`` counts that 1 byte, so the bf16 copy tops out near 50% here.
"""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch

from labs.ch19_adaptive_inference.quant import (Int8Weight, empty_int8, fp8_linear, int8_linear_torch,
                                                int8_linear_triton, quantize_fp8, quantize_int8)

TITLE = "Decode GEMV with int8 weights: y = x @ (q·scale)^T for a few rows of x"
# (rows of x, N outputs, K inputs); gpu default: 420 MB of int8 weights (0.1 ms at 4 TB/s), 840 MB as bf16
SIZES = {"gpu": [(1, 20_483, 20_477), (1, 8_191, 8_189), (3, 12_289, 12_287)],
         "cpu": [(1, 771, 517), (3, 389, 1_031)]}
DTYPES = ["bfloat16"]
OPTIONS = pl.LabOptions(
    target=0.5,    # exercise: half of the measured copy bandwidth on the 1-byte weights
    # why the best variant is under the 85% memory gate (shown by perflab report)
    gate_note=(
        'measured on an H100 (2026-12-07): fp8_scaled_mm 70% of copy, int8_triton 65%, bf16 weights 38%. A '
        'GEMV at batch 1 only reads (419 MB of int8 weights, one pass), while the gate is a copy that reads '
        'and writes. Our kernel gives each program 16 weight rows (1,281 programs, 9.7 per SM), so the last '
        'wave is partly empty, and each loop step has only one 4 KB tile in flight per program. Nsight Compute '
        'on an H100 (labs.gate_counters, 491d8e4): DRAM bytes 1.01× the minimum for both, DRAM throughput 63% '
        '(int8_triton, 39% occupancy at 64 registers) and 69% (fp8_scaled_mm, 13% occupancy at 168 '
        'registers): too few bytes in flight, not extra bytes. A sweep of BLOCK_N, BLOCK_K, warps and stages '
        'is the next measurement.'),
)


def make_inputs(size, device="cpu", dtype="bfloat16", seed: int = 0) -> dict:
    """x (rows, K) in bf16 and W (N, K) drawn N(0, 1/K) then quantized to int8 per output channel."""
    m, n, k = size
    g = torch.Generator(device=device).manual_seed(seed)
    x = torch.randn(m, k, generator=g, device=device).to(getattr(torch, dtype))
    w = empty_int8(n, k, device)                    # rows 16-byte aligned, as quantize_int8 makes them
    scale = torch.empty(n, device=device)
    for r0 in range(0, n, 4096):                    # quantize in slices: never a full fp32 W in memory
        part = quantize_int8(torch.randn(min(4096, n - r0), k, generator=g, device=device) / k ** 0.5)
        w[r0:r0 + 4096], scale[r0:r0 + 4096] = part.q, part.scale
    return {"x": x, "w": Int8Weight(w, scale)}


def reference(x, w: Int8Weight) -> torch.Tensor:
    """fp32 x @ (q·scale)^T, a slice of rows of W at a time."""
    xf = x.float()
    return torch.cat([xf @ (w.q[r0:r0 + 4096].float() * w.scale[r0:r0 + 4096, None]).t()
                      for r0 in range(0, w.q.shape[0], 4096)], dim=1)


def bytes(size, dtype="bfloat16") -> int:
    m, n, k = size
    return n * k + 4 * n + 2 * m * k + 2 * m * n         # 1-byte weights, fp32 scales, x and y in bf16


def flops(size, dtype="bfloat16") -> int:
    m, n, k = size
    return 2 * m * n * k


def _copy(w: Int8Weight, kind: str):
    """A prepared copy of the same weights (made on the first call, as a serving engine does at load)."""
    if kind not in w.copies:
        w.copies[kind] = w.dequantize(torch.bfloat16) if kind == "bf16" else quantize_fp8(w.dequantize())
    return w.copies[kind]


@pl.variant(note="a bf16 copy of the weights and one cuBLAS GEMV: 2 bytes per weight")
def bf16_weights(x, w):
    return torch.nn.functional.linear(x, _copy(w, "bf16"))


@pl.variant(note="int8 widened to bf16 by torch, then cuBLAS: read 1 + write 2 + read 2 bytes per weight")
def int8_torch(x, w):
    return int8_linear_torch(x, w)


@pl.variant(backend="triton", note="fused Triton GEMV: int8 loaded, widened in registers, 1 byte per weight "
                                   "(the exercise's solution)")
def int8_triton(x, w):
    return int8_linear_triton(x, w)


@pl.variant(needs="sm_89", precision="float8",
            note="e4m3 weights (1 byte) and activations on fp8 tensor cores, padded to multiples of 16")
def fp8_scaled_mm(x, w):
    return fp8_linear(x, _copy(w, "fp8"))


variants = [bf16_weights, int8_torch, int8_triton, fp8_scaled_mm]
