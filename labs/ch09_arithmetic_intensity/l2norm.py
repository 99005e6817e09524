"""L2 row normalization, the book's fusion example: an eager chain vs a library call vs torch.compile vs Triton."""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch
import triton
import triton.language as tl

from labs.ch09_arithmetic_intensity._common import Kernel, compiled, fused, nbytes, row_inputs, row_plan, row_shape

TITLE = "L2 row norm: y = x / sqrt(Σx² + ε) per row; eager chain vs library vs torch.compile vs one Triton kernel"
# (rows, cols); 134 M elements (537 MB of float32) per GPU size; the last is wider than one program holds
SIZES = {"gpu": [(32_771, 4_099), (131_071, 1_021), (4_099, 32_771)],
         "cpu": [(509, 1_021), (131, 2_053), (7, 9_001)]}
DTYPES = ["float32", "bfloat16"]
EPS = 1e-6


def make_inputs(size, device="cpu", dtype="float32", seed: int = 0) -> dict:
    return {"x": row_inputs(size, device, dtype, seed)}


def reference(x: torch.Tensor) -> torch.Tensor:
    xd = x.double()
    return xd / torch.sqrt((xd * xd).sum(dim=1, keepdim=True) + EPS)


def bytes(size, dtype="float32") -> int:
    rows, cols = size
    return 2 * rows * cols * nbytes(dtype)           # the minimum: read x once, write y once


def flops(size, dtype="float32") -> int:
    rows, cols = size
    return 3 * rows * cols + 2 * rows                # per element: square, add, scale; per row: + ε, sqrt


# ---- eager PyTorch ---------------------------------------------------------------------------------

def _chain(x):
    sq = x * x                                   # kernel 1: writes a full-size temporary
    total = sq.sum(dim=1, keepdim=True)          # kernel 2: reads it back, one value per row
    norm = torch.sqrt(total + EPS)               # kernels 3, 4: tiny (one value per row)
    return x / norm                              # kernel 5: reads x again, writes y


@pl.variant(backend="torch", note="five eager ops (x·x, sum, +ε, sqrt, divide): a kernel each, temporaries in memory")
def eager_chain(x):
    return _chain(x)


@pl.variant(backend="torch", note="F.normalize: one library call, still three kernels (norm, clamp, divide)")
def torch_normalize(x):
    return torch.nn.functional.normalize(x, p=2.0, dim=1, eps=1e-12)


_compiled_chain = compiled(_chain)


@pl.variant(backend="torch", note="torch.compile of the eager chain: inductor fuses it into one kernel")
def torch_compile(x):
    return _compiled_chain(x)


# ---- one Triton kernel -----------------------------------------------------------------------------

@triton.jit
def _l2norm_row(x_row, y_row, cols, eps, BLOCK: tl.constexpr, ONE_PASS: tl.constexpr):
    """One row: x_row and y_row point at its first element."""
    offs = tl.arange(0, BLOCK)
    if ONE_PASS:                              # the whole row in registers: read once, write once
        mask = offs < cols
        x = tl.load(x_row + offs, mask=mask, other=0.0).to(tl.float32)
        inv = 1.0 / tl.sqrt(tl.sum(x * x, axis=0) + eps)
        tl.store(y_row + offs, (x * inv).to(y_row.dtype.element_ty), mask=mask)
    else:                                     # the book's two passes: sum of squares, then scale
        acc = tl.zeros([BLOCK], dtype=tl.float32)
        for c0 in range(0, cols, BLOCK):
            mask = c0 + offs < cols
            x = tl.load(x_row + c0 + offs, mask=mask, other=0.0).to(tl.float32)
            acc += x * x
        inv = 1.0 / tl.sqrt(tl.sum(acc, axis=0) + eps)
        for c0 in range(0, cols, BLOCK):      # few rows in flight (plan.programs): this read hits L2
            mask = c0 + offs < cols
            x = tl.load(x_row + c0 + offs, mask=mask, other=0.0).to(tl.float32)
            tl.store(y_row + c0 + offs, (x * inv).to(y_row.dtype.element_ty), mask=mask)


@triton.jit
def _l2norm_kernel(x_ptr, y_ptr, rows, cols, stride, eps,
                   BLOCK: tl.constexpr, ONE_PASS: tl.constexpr, PERSISTENT: tl.constexpr):
    if PERSISTENT:                                # a fixed grid: each program takes every nth row
        for row in range(tl.program_id(0).to(tl.int64), rows, tl.num_programs(0)):
            _l2norm_row(x_ptr + row * stride, y_ptr + row * stride, cols, eps, BLOCK, ONE_PASS)
    else:                                         # one program per row
        row = tl.program_id(0).to(tl.int64)
        _l2norm_row(x_ptr + row * stride, y_ptr + row * stride, cols, eps, BLOCK, ONE_PASS)


def launch(x, y, plan):
    """Run the kernel on x into y with ``plan`` (a RowPlan)."""
    rows, cols = row_shape(x)
    _l2norm_kernel[plan.grid(rows)](x, y, rows, cols, x.stride(0), EPS, BLOCK=plan.block, ONE_PASS=plan.one_pass,
                                    PERSISTENT=plan.programs > 0, num_warps=plan.num_warps)
    return y


@pl.variant(backend="triton", note="one program per row (few programs looping over wide rows): fp32 math")
def triton_fused(x):
    rows, cols = row_shape(x)
    return launch(x, torch.empty_like(x), row_plan(cols, "l2norm", x.dtype))


variants = [eager_chain, torch_normalize, torch_compile, triton_fused]


# ---- traffic model ---------------------------------------------------------------------------------

def kernels(variant: str, size, dtype="float32", device: str = "cuda") -> list[Kernel]:
    """The kernels ``variant`` launches for one call and the bytes each loads and stores (the model).

    N = rows·cols elements of b bytes; per-row values (R of them) are counted too.

    >>> [k.bytes for k in kernels("eager_chain", (10, 100))]
    [8000, 4040, 80, 80, 8040]
    >>> kernels("triton_fused", (10, 100))[0].bytes == bytes((10, 100))     # one read, one write
    True
    """
    rows, cols = size
    b, n, r = nbytes(dtype), rows * cols, rows
    if variant == "eager_chain":
        return [Kernel("x·x", n * b, n * b, n), Kernel("row sum", n * b, r * b, n),
                Kernel("+ ε", r * b, r * b, r), Kernel("sqrt", r * b, r * b, r),
                Kernel("x / norm", (n + r) * b, n * b, n)]
    if variant == "torch_normalize":
        return [Kernel("row norm", n * b, r * b, 2 * n + r), Kernel("clamp", r * b, r * b, r),
                Kernel("x / norm", (n + r) * b, n * b, n)]
    return fused(variant, variants, "l2norm", size, dtype, device, flops(size))
