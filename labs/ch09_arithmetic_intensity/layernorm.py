"""Layer normalization over rows: an eager nine-op chain vs F.layer_norm vs torch.compile vs one Triton kernel."""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch
import triton
import triton.language as tl

from labs.ch09_arithmetic_intensity._common import Kernel, compiled, fused, nbytes, row_inputs, row_plan, row_shape

TITLE = "LayerNorm: y = (x − mean) / sqrt(var + ε) · w + b per row; eager chain vs F.layer_norm vs compile vs Triton"
# (rows, cols): hidden sizes one past a power of two, and a row too wide for one program (looped)
SIZES = {"gpu": [(32_771, 4_099), (16_411, 8_191), (4_099, 32_771)],
         "cpu": [(509, 1_021), (131, 2_053), (7, 9_001)]}
DTYPES = ["float32", "bfloat16"]
OPTIONS = pl.LabOptions(
    # why the best variant is under the 85% memory gate on the H200 (shown by perflab report)
    gate_note=(
        'one program per row with the row padded to the next power of two (8,192 lanes for 4,099 columns) '
        "leaves half of each program's lanes idle, and w and b are re-read for every row; torch.compile "
        'reaches 64%, our Triton kernel 45%. Tuning the launch plan (rows per program, warps) on the H200 is '
        'open (issue #4).'),
)
EPS = 1e-5


def make_inputs(size, device="cpu", dtype="float32", seed: int = 0) -> dict:
    rows, cols = size
    x = row_inputs(size, device, dtype, seed)              # rows with their own mean and spread
    g = torch.Generator(device=device).manual_seed(seed + 7919)
    w = (1 + 0.2 * torch.randn(cols, generator=g, device=device)).to(x.dtype)
    b = (0.2 * torch.randn(cols, generator=g, device=device)).to(x.dtype)
    return {"x": x, "w": w, "b": b}


def reference(x, w, b) -> torch.Tensor:
    xd = x.double()
    mean = xd.mean(dim=1, keepdim=True)
    var = ((xd - mean) ** 2).mean(dim=1, keepdim=True)
    return (xd - mean) / torch.sqrt(var + EPS) * w.double() + b.double()


def bytes(size, dtype="float32") -> int:
    rows, cols = size
    return (2 * rows * cols + 2 * cols) * nbytes(dtype)        # read x, write y, read w and b once


def flops(size, dtype="float32") -> int:
    rows, cols = size
    return 7 * rows * cols     # per element: sum, subtract, square, sum, scale, ×w, +b


def _chain(x, w, b):
    mean = x.mean(dim=1, keepdim=True)           # 1: row mean
    d = x - mean                                 # 2: full-size temporary
    var = (d * d).mean(dim=1, keepdim=True)      # 3, 4: square (full size), row mean
    y = d * torch.rsqrt(var + EPS)               # 5, 6 (tiny), 7: scale
    return y * w + b                             # 8, 9: two more full-size passes


@pl.variant(backend="torch", note="nine eager ops (mean, subtract, square, mean, +ε, rsqrt, scale, ×w, +b)")
def eager_chain(x, w, b):
    return _chain(x, w, b)


@pl.variant(backend="torch", note="F.layer_norm: the library's fused kernel(s)")
def torch_layer_norm(x, w, b):
    return torch.nn.functional.layer_norm(x, (x.shape[1],), w, b, EPS)


_compiled_chain = compiled(_chain)


@pl.variant(backend="torch", note="torch.compile of the eager chain: one inductor kernel (Welford statistics)")
def torch_compile(x, w, b):
    return _compiled_chain(x, w, b)


@triton.jit
def _layernorm_row(x_row, y_row, w_ptr, b_ptr, cols, eps, BLOCK: tl.constexpr, ONE_PASS: tl.constexpr):
    """One row: x_row and y_row point at its first element."""
    offs = tl.arange(0, BLOCK)
    if ONE_PASS:                              # the row stays in registers: statistics, then scale
        mask = offs < cols
        x = tl.load(x_row + offs, mask=mask, other=0.0).to(tl.float32)
        mean = tl.sum(x, axis=0) / cols
        d = tl.where(mask, x - mean, 0.0)
        inv = 1.0 / tl.sqrt(tl.sum(d * d, axis=0) / cols + eps)
        w = tl.load(w_ptr + offs, mask=mask, other=0.0).to(tl.float32)
        b = tl.load(b_ptr + offs, mask=mask, other=0.0).to(tl.float32)
        tl.store(y_row + offs, (d * inv * w + b).to(y_row.dtype.element_ty), mask=mask)
    else:
        # pass 1: mean and variance together, from sums of x − k and (x − k)² with k = the row's first
        # value (shifting by a value of the row keeps the subtraction var = E[d²] − E[d]² accurate)
        k = tl.load(x_row).to(tl.float32)
        s1 = tl.zeros([BLOCK], dtype=tl.float32)
        s2 = tl.zeros([BLOCK], dtype=tl.float32)
        for c0 in range(0, cols, BLOCK):
            mask = c0 + offs < cols
            d = tl.where(mask, tl.load(x_row + c0 + offs, mask=mask, other=0.0).to(tl.float32) - k, 0.0)
            s1 += d
            s2 += d * d
        dm = tl.sum(s1, axis=0) / cols
        mean = k + dm
        inv = 1.0 / tl.sqrt(tl.maximum(tl.sum(s2, axis=0) / cols - dm * dm, 0.0) + eps)
        for c0 in range(0, cols, BLOCK):      # pass 2: scale and write (few rows in flight: x from L2)
            mask = c0 + offs < cols
            x = tl.load(x_row + c0 + offs, mask=mask, other=0.0).to(tl.float32)
            w = tl.load(w_ptr + c0 + offs, mask=mask, other=0.0).to(tl.float32)
            b = tl.load(b_ptr + c0 + offs, mask=mask, other=0.0).to(tl.float32)
            tl.store(y_row + c0 + offs, ((x - mean) * inv * w + b).to(y_row.dtype.element_ty), mask=mask)


@triton.jit
def _layernorm_kernel(x_ptr, w_ptr, b_ptr, y_ptr, rows, cols, stride, eps,
                      BLOCK: tl.constexpr, ONE_PASS: tl.constexpr, PERSISTENT: tl.constexpr):
    if PERSISTENT:                                # a fixed grid: each program takes every nth row
        for row in range(tl.program_id(0).to(tl.int64), rows, tl.num_programs(0)):
            _layernorm_row(x_ptr + row * stride, y_ptr + row * stride, w_ptr, b_ptr, cols, eps, BLOCK, ONE_PASS)
    else:                                         # one program per row
        row = tl.program_id(0).to(tl.int64)
        _layernorm_row(x_ptr + row * stride, y_ptr + row * stride, w_ptr, b_ptr, cols, eps, BLOCK, ONE_PASS)


def launch(x, w, b, y, plan):
    """Run the kernel on x, w, b into y with ``plan`` (a RowPlan)."""
    rows, cols = row_shape(x)
    if w.shape != (cols,) or b.shape != (cols,):
        raise ValueError(f"w and b must have shape ({cols},), got {tuple(w.shape)} and {tuple(b.shape)}")
    _layernorm_kernel[plan.grid(rows)](x, w.contiguous(), b.contiguous(), y, rows, cols, x.stride(0), EPS,
                                       BLOCK=plan.block, ONE_PASS=plan.one_pass, PERSISTENT=plan.programs > 0,
                                       num_warps=plan.num_warps)
    return y


@pl.variant(backend="triton", note="one program per row (few programs looping over wide rows): fp32 math")
def triton_fused(x, w, b):
    rows, cols = row_shape(x)
    return launch(x, w, b, torch.empty_like(x), row_plan(cols, "layernorm", x.dtype))


variants = [eager_chain, torch_layer_norm, torch_compile, triton_fused]


def kernels(variant: str, size, dtype="float32", device: str = "cuda") -> list[Kernel]:
    """The kernels ``variant`` launches and the bytes each loads and stores (the traffic model).

    >>> round(sum(k.bytes for k in kernels("eager_chain", (100, 1000))) / (100 * 1000))  # 12 passes × 4 B
    48
    """
    rows, cols = size
    b, n, r, c = nbytes(dtype), rows * cols, rows, cols
    wb = 2 * c * b                                            # w and b, read once (they stay in cache)
    if variant == "eager_chain":
        return [Kernel("row mean", n * b, r * b, n), Kernel("x − mean", (n + r) * b, n * b, n),
                Kernel("d·d", n * b, n * b, n), Kernel("row mean", n * b, r * b, n),
                Kernel("+ ε", r * b, r * b, r), Kernel("rsqrt", r * b, r * b, r),
                Kernel("d · inv", (n + r) * b, n * b, n), Kernel("· w", (n + c) * b, n * b, n),
                Kernel("+ b", (n + c) * b, n * b, n)]
    if variant == "torch_layer_norm":
        # statistics, then normalise: two reads of x (one kernel or two, by alignment)
        return [Kernel("layer_norm (library: 2 reads)", 2 * n * b + wb, n * b, flops(size))]
    return fused(variant, variants, "layernorm", size, dtype, device, flops(size), extra=wb)
