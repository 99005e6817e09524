"""Exercise lab: RMSNorm, y = x · rsqrt(mean(x²) + ε) · w per row; fuse the eager chain into one kernel."""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch
import triton
import triton.language as tl

from labs.ch09_arithmetic_intensity._common import Kernel, fused, nbytes, row_inputs, row_plan, row_shape

TITLE = "RMSNorm: y = x · rsqrt(mean(x²) + ε) · w per row; six eager kernels or one fused kernel?"
SIZES = {"gpu": [(32_771, 4_099), (65_537, 2_053)], "cpu": [(509, 1_021), (131, 2_053)]}
DTYPES = ["float32"]
OPTIONS = pl.LabOptions(target=0.75)    # of the measured copy bandwidth, over the minimum traffic (read x, write y)
EPS = 1e-6


def make_inputs(size, device="cpu", dtype="float32", seed: int = 0) -> dict:
    rows, cols = size
    x = row_inputs(size, device, dtype, seed)
    g = torch.Generator(device=device).manual_seed(seed + 104729)
    w = (1 + 0.2 * torch.randn(cols, generator=g, device=device)).to(x.dtype)
    return {"x": x, "w": w}


def reference(x, w) -> torch.Tensor:
    xd = x.double()
    return xd * torch.rsqrt((xd * xd).mean(dim=1, keepdim=True) + EPS) * w.double()


def bytes(size, dtype="float32") -> int:
    rows, cols = size
    return (2 * rows * cols + cols) * nbytes(dtype)     # read x, write y, read w once


def flops(size, dtype="float32") -> int:
    rows, cols = size
    return 4 * rows * cols                              # per element: square, add, scale, ×w


@pl.variant(backend="torch", note="the starter: six eager kernels (x·x, mean, +ε, rsqrt, scale, ×w)")
def eager_chain(x, w):
    ms = (x * x).mean(dim=1, keepdim=True)
    return x * torch.rsqrt(ms + EPS) * w


@triton.jit
def _rmsnorm_row(x_row, y_row, w_ptr, cols, eps, BLOCK: tl.constexpr, ONE_PASS: tl.constexpr):
    """One row: x_row and y_row point at its first element."""
    offs = tl.arange(0, BLOCK)
    if ONE_PASS:                              # the row stays in registers: one read of x
        mask = offs < cols
        x = tl.load(x_row + offs, mask=mask, other=0.0).to(tl.float32)
        inv = 1.0 / tl.sqrt(tl.sum(x * x, axis=0) / cols + eps)
        w = tl.load(w_ptr + offs, mask=mask, other=0.0).to(tl.float32)
        tl.store(y_row + offs, (x * inv * w).to(y_row.dtype.element_ty), mask=mask)
    else:                                     # a wide row: sum of squares, then scale
        acc = tl.zeros([BLOCK], dtype=tl.float32)
        for c0 in range(0, cols, BLOCK):
            x = tl.load(x_row + c0 + offs, mask=c0 + offs < cols, other=0.0).to(tl.float32)
            acc += x * x
        inv = 1.0 / tl.sqrt(tl.sum(acc, axis=0) / cols + eps)
        for c0 in range(0, cols, BLOCK):
            mask = c0 + offs < cols
            x = tl.load(x_row + c0 + offs, mask=mask, other=0.0).to(tl.float32)
            w = tl.load(w_ptr + c0 + offs, mask=mask, other=0.0).to(tl.float32)
            tl.store(y_row + c0 + offs, (x * inv * w).to(y_row.dtype.element_ty), mask=mask)


@triton.jit
def _rmsnorm_kernel(x_ptr, w_ptr, y_ptr, rows, cols, stride, eps,
                    BLOCK: tl.constexpr, ONE_PASS: tl.constexpr, PERSISTENT: tl.constexpr):
    if PERSISTENT:                                # a fixed grid: each program takes every nth row
        for row in range(tl.program_id(0).to(tl.int64), rows, tl.num_programs(0)):
            _rmsnorm_row(x_ptr + row * stride, y_ptr + row * stride, w_ptr, cols, eps, BLOCK, ONE_PASS)
    else:                                         # one program per row
        row = tl.program_id(0).to(tl.int64)
        _rmsnorm_row(x_ptr + row * stride, y_ptr + row * stride, w_ptr, cols, eps, BLOCK, ONE_PASS)


@pl.variant(backend="triton", note="the solution: one program per row, the row kept in registers")
def triton_fused(x, w):
    rows, cols = row_shape(x)
    y = torch.empty_like(x)
    plan = row_plan(cols, "rmsnorm", x.dtype)
    _rmsnorm_kernel[plan.grid(rows)](x, w.contiguous(), y, rows, cols, x.stride(0), EPS, BLOCK=plan.block,
                                     ONE_PASS=plan.one_pass, PERSISTENT=plan.programs > 0,
                                     num_warps=plan.num_warps)
    return y


variants = [eager_chain, triton_fused]


def kernels(variant: str, size, dtype="float32", device: str = "cuda") -> list[Kernel]:
    """The kernels ``variant`` launches and the bytes each loads and stores (the traffic model)."""
    rows, cols = size
    b, n, r, c = nbytes(dtype), rows * cols, rows, cols
    if variant == "eager_chain":
        return [Kernel("x·x", n * b, n * b, n), Kernel("row mean", n * b, r * b, n),
                Kernel("+ ε", r * b, r * b, r), Kernel("rsqrt", r * b, r * b, r),
                Kernel("x · inv", (n + r) * b, n * b, n), Kernel("· w", (n + c) * b, n * b, n)]
    return fused(variant, variants, "rmsnorm", size, dtype, device, flops(size), extra=c * b)
