"""Row softmax: an eager five-op chain vs torch.softmax vs torch.compile vs one Triton kernel."""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch
import triton
import triton.language as tl

from labs.ch09_arithmetic_intensity._common import Kernel, compiled, fused, nbytes, row_inputs, row_plan, row_shape

TITLE = "Row softmax: y = exp(x − max) / Σ exp(x − max); eager chain vs torch.softmax vs torch.compile vs Triton"
# (rows, cols): attention-like rows, short rows, and vocabulary-wide rows (looped: wider than one program)
SIZES = {"gpu": [(32_771, 4_099), (131_071, 1_021), (4_099, 32_003)],
         "cpu": [(509, 1_021), (131, 2_053), (7, 9_001)]}
DTYPES = ["float32", "bfloat16"]
OPTIONS = pl.LabOptions(
    # why the best variant is under the 85% memory gate on the H200 (shown by perflab report)
    gate_note=(
        'two points under the gate with the same launch plan as layernorm (a 4,099-column row padded to 8,192'
        ' lanes, one row per program); tuning rows per program and warps on the H200 is open (issue #4).'),
)


def make_inputs(size, device="cpu", dtype="float32", seed: int = 0) -> dict:
    return {"x": row_inputs(size, device, dtype, seed)}


def reference(x: torch.Tensor) -> torch.Tensor:
    return torch.softmax(x.double(), dim=1)


def bytes(size, dtype="float32") -> int:
    rows, cols = size
    return 2 * rows * cols * nbytes(dtype)           # read x once, write y once


def flops(size, dtype="float32") -> int:
    rows, cols = size
    return 5 * rows * cols       # per element: max-compare, subtract, exp, add, divide (exp counted as one)


def _chain(x):
    m = x.amax(dim=1, keepdim=True)              # kernel 1: row max
    e = torch.exp(x - m)                         # kernels 2, 3: subtract, exp (two full-size temporaries)
    return e / e.sum(dim=1, keepdim=True)        # kernels 4, 5: row sum, divide


@pl.variant(backend="torch", note="five eager ops (max, subtract, exp, sum, divide), temporaries in memory")
def eager_chain(x):
    return _chain(x)


@pl.variant(backend="torch", note="torch.softmax: the library's one fused kernel")
def torch_softmax(x):
    return torch.softmax(x, dim=1)


_compiled_chain = compiled(_chain)


@pl.variant(backend="torch", note="torch.compile of the eager chain: one inductor kernel (online softmax)")
def torch_compile(x):
    return _compiled_chain(x)


@triton.jit
def _softmax_row(x_row, y_row, cols, BLOCK: tl.constexpr, ONE_PASS: tl.constexpr):
    """One row: x_row and y_row point at its first element."""
    offs = tl.arange(0, BLOCK)
    if ONE_PASS:                              # the row stays in registers: one read, one write
        mask = offs < cols
        x = tl.load(x_row + offs, mask=mask, other=float("-inf")).to(tl.float32)
        e = tl.exp(x - tl.max(x, axis=0))     # masked lanes: exp(-inf) = 0
        inv = 1.0 / tl.sum(e, axis=0)         # one divide per row, a multiply per element
        tl.store(y_row + offs, (e * inv).to(y_row.dtype.element_ty), mask=mask)
    else:
        # pass 1, "online": a running max and a running sum per lane, rescaled when the max grows.
        # m starts at a finite floor, so a lane that has seen only masked (-inf) values stays at 0.
        m = tl.full([BLOCK], -3.0e38, dtype=tl.float32)
        s = tl.zeros([BLOCK], dtype=tl.float32)
        for c0 in range(0, cols, BLOCK):
            x = tl.load(x_row + c0 + offs, mask=c0 + offs < cols, other=float("-inf")).to(tl.float32)
            m_new = tl.maximum(m, x)
            s = s * tl.exp(m - m_new) + tl.exp(x - m_new)
            m = m_new
        row_max = tl.max(m, axis=0)
        inv = 1.0 / tl.sum(s * tl.exp(m - row_max), axis=0)
        for c0 in range(0, cols, BLOCK):      # pass 2: normalise and write (few rows in flight: from L2)
            mask = c0 + offs < cols
            x = tl.load(x_row + c0 + offs, mask=mask, other=float("-inf")).to(tl.float32)
            tl.store(y_row + c0 + offs, (tl.exp(x - row_max) * inv).to(y_row.dtype.element_ty), mask=mask)


@triton.jit
def _softmax_kernel(x_ptr, y_ptr, rows, cols, stride,
                    BLOCK: tl.constexpr, ONE_PASS: tl.constexpr, PERSISTENT: tl.constexpr):
    if PERSISTENT:                                # a fixed grid: each program takes every nth row
        for row in range(tl.program_id(0).to(tl.int64), rows, tl.num_programs(0)):
            _softmax_row(x_ptr + row * stride, y_ptr + row * stride, cols, BLOCK, ONE_PASS)
    else:                                         # one program per row
        row = tl.program_id(0).to(tl.int64)
        _softmax_row(x_ptr + row * stride, y_ptr + row * stride, cols, BLOCK, ONE_PASS)


def launch(x, y, plan):
    """Run the kernel on x into y with ``plan`` (a RowPlan)."""
    rows, cols = row_shape(x)
    _softmax_kernel[plan.grid(rows)](x, y, rows, cols, x.stride(0), BLOCK=plan.block, ONE_PASS=plan.one_pass,
                                     PERSISTENT=plan.programs > 0, num_warps=plan.num_warps)
    return y


@pl.variant(backend="triton", note="one program per row (few programs looping over wide rows): fp32 math")
def triton_fused(x):
    rows, cols = row_shape(x)
    return launch(x, torch.empty_like(x), row_plan(cols, "softmax", x.dtype))


variants = [eager_chain, torch_softmax, torch_compile, triton_fused]


def kernels(variant: str, size, dtype="float32", device: str = "cuda") -> list[Kernel]:
    """The kernels ``variant`` launches and the bytes each loads and stores (the traffic model).

    >>> round(sum(k.bytes for k in kernels("eager_chain", (100, 1000))) / (100 * 1000))  # 8 passes × 4 B
    32
    """
    rows, cols = size
    b, n, r = nbytes(dtype), rows * cols, rows
    if variant == "eager_chain":
        return [Kernel("row max", n * b, r * b, n), Kernel("x − max", (n + r) * b, n * b, n),
                Kernel("exp", n * b, n * b, n), Kernel("row sum", n * b, r * b, n),
                Kernel("e / sum", (n + r) * b, n * b, n)]
    if variant == "torch_softmax":
        # one kernel; it picks a register, shared-memory or looped version by width and alignment, so
        # the model counts the least it can move (one read) — the Nsight counters tell which it chose
        return [Kernel("softmax (library: ≥ 1 read)", n * b, n * b, flops(size))]
    return fused(variant, variants, "softmax", size, dtype, device, flops(size))
