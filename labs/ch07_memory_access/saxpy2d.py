"""Exercise lab: y = a*x + b on a row-major matrix, with lanes walking down columns (slow) or along rows."""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch
import triton
import triton.language as tl

TITLE = "2-D saxpy: y = a*x + b on a row-major (R, C) float32 matrix; which way should lanes walk?"
SIZES = {"gpu": [(12_007, 13_001), (4_099, 4_093)], "cpu": [(509, 1_021), (257, 131)]}    # (rows, cols); 624 MB per matrix on a GPU
DTYPES = ["float32"]
OPTIONS = pl.LabOptions(target=0.8)

BLOCK = 1024         # elements per Triton program


def make_inputs(size: tuple[int, int] | int, device="cpu", dtype="float32", seed: int = 0) -> dict:
    """x of shape ``size`` (ch08.ilp_stream passes one int: a flat array); a, b scalars in [0.5, 1.5)."""
    g = torch.Generator(device=device).manual_seed(seed)
    x = torch.randn(size, generator=g, device=device, dtype=getattr(torch, dtype))
    a, b = (torch.rand(2, generator=g, device=device, dtype=torch.float64) + 0.5).tolist()  # in [0.5, 1.5)
    return {"x": x, "a": a, "b": b}


def reference(x: torch.Tensor, a: float, b: float) -> torch.Tensor:
    return a * x.double() + b


def bytes(size: tuple[int, int], dtype="float32") -> int:
    rows, cols = size
    return 2 * rows * cols * getattr(torch, dtype).itemsize     # read x, write y


def flops(size: tuple[int, int], dtype="float32") -> int:
    rows, cols = size
    return 2 * rows * cols


@triton.jit
def _saxpy_column_walk_kernel(x_ptr, y_ptr, a, b, rows, cols, BLOCK: tl.constexpr):
    t = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    r = t % rows                   # neighbouring lanes take neighbouring ROWS of one column ...
    c = t // rows
    offs = r * cols + c            # ... so their addresses are `cols` floats apart
    mask = t < rows * cols
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(y_ptr + offs, a * x + b, mask=mask)


@triton.jit
def _saxpy_row_walk_kernel(x_ptr, y_ptr, a, b, rows, cols, BLOCK: tl.constexpr):
    t = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    # neighbouring lanes take neighbouring COLUMNS of one row: (r, c) = divmod(t, cols), and the
    # row-major address r*cols + c is t itself, so a warp reads 32 consecutive floats
    offs = t
    mask = t < rows * cols
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(y_ptr + offs, a * x + b, mask=mask)


def _launch(kernel, x: torch.Tensor, a: float, b: float) -> torch.Tensor:
    if x.dim() != 2 or not x.is_contiguous():
        raise ValueError(f"x must be a contiguous (rows, cols) matrix, got shape {tuple(x.shape)}")
    rows, cols = x.shape
    y = torch.empty_like(x)
    kernel[(triton.cdiv(rows * cols, BLOCK),)](x, y, float(a), float(b), rows, cols, BLOCK=BLOCK, num_warps=4)
    return y


@pl.variant(backend="triton", note="lanes walk down a column: addresses C floats apart, one sector per lane")
def column_walk(x, a, b):
    return _launch(_saxpy_column_walk_kernel, x, a, b)


@pl.variant(backend="triton", note="lanes walk along a row: consecutive addresses, coalesced (the solution)")
def row_walk(x, a, b):
    return _launch(_saxpy_row_walk_kernel, x, a, b)


@pl.variant(backend="torch", note="one eager torch op, b + a*x: torch.add with alpha=a")
def torch_eager(x, a, b):
    # a 0-d CPU tensor counts as a scalar on any device, so this is a single elementwise kernel
    return torch.add(torch.tensor(b, dtype=x.dtype), x, alpha=a)


variants = [column_walk, row_walk, torch_eager]
