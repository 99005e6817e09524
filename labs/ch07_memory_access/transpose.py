"""Matrix transpose: uncoalesced writes, a shared-memory tile with bank conflicts, and the padded tile."""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch
import triton
import triton.language as tl

from labs.ch07_memory_access import _cuda

TITLE = "Transpose: out = x.T (contiguous), float32; shared-memory tiles and bank conflicts"
SIZES = {"gpu": [(8191, 8189), (4093, 4091)], "cpu": [(301, 257), (131, 517)]}     # (rows, cols) of x
DTYPES = ["float32"]
OPTIONS = pl.LabOptions(
    # why the best variant is under the 85% memory gate on the H200 (shown by perflab report)
    gate_note=(
        'measured on an H100 (2026-12-07): triton_tiled 69% of copy, the padded CUDA tile 58%, torch 33%. The '
        'sizes are odd on purpose (8,191 × 8,189): no row starts 16-byte aligned, so every load and store is a '
        '4-byte scalar (compiled for sm_90: 32 scalar loads and stores per thread per 64×64 tile, against 8 '
        '16-byte ones when both sides are multiples of 4), and each tile passes through shared memory. '
        'Nsight Compute on an H100 (labs.gate_counters, 491d8e4) confirms it: DRAM bytes 1.00× the minimum '
        '(no extra traffic), 4.9 sectors per request, 54% occupancy at 56 registers, DRAM throughput 64% of '
        "peak: the scalar accesses, not wasted bytes, hold it. The lab's lesson (naive → shared → padded → "
        'Triton) holds as measured.'),
)

TILE = 32            # CUDA tile edge; blocks are (32, 8) threads, 4 elements per thread
BLOCK = 64           # Triton tile edge


def make_inputs(size: tuple[int, int], device="cpu", dtype="float32", seed: int = 0) -> dict:
    g = torch.Generator(device=device).manual_seed(seed)
    return {"x": torch.randn(*size, generator=g, device=device, dtype=getattr(torch, dtype))}


def reference(x: torch.Tensor) -> torch.Tensor:
    return x.t().contiguous()


def bytes(size: tuple[int, int], dtype="float32") -> int:
    rows, cols = size
    return 2 * rows * cols * getattr(torch, dtype).itemsize


def flops(size: tuple[int, int], dtype="float32") -> int:
    return 0


def _cuda_transpose(x: torch.Tensor, name: str) -> torch.Tensor:
    if x.dim() != 2 or not x.is_contiguous():
        raise ValueError(f"transpose takes a contiguous 2-D tensor, got shape {tuple(x.shape)}")
    rows, cols = x.shape
    y = torch.empty(cols, rows, device=x.device, dtype=x.dtype)
    grid = (triton.cdiv(cols, TILE), triton.cdiv(rows, TILE))
    _cuda.launch(_cuda.kernel(name), grid, (TILE, 8), (x, y, rows, cols))
    return y


@pl.variant(backend="cupy", needs="cuda", note="reads along rows (coalesced), writes down columns (strided)")
def cuda_naive(x):
    return _cuda_transpose(x, "transpose_naive")


@pl.variant(backend="cupy", needs="cuda", note="32x32 shared tile: coalesced both ways, 32-way bank conflicts")
def cuda_smem_32(x):
    return _cuda_transpose(x, "transpose_smem_32")


@pl.variant(backend="cupy", needs="cuda", note="32x33 shared tile: the padding column removes the conflicts")
def cuda_smem_32_padded(x):
    return _cuda_transpose(x, "transpose_smem_32_padded")


@triton.jit
def _transpose_kernel(x_ptr, y_ptr, rows, cols, BLOCK: tl.constexpr):
    r = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    c = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    tile = tl.load(x_ptr + r[:, None] * cols + c[None, :], mask=(r[:, None] < rows) & (c[None, :] < cols))
    # y[c, r] = x[r, c]; Triton stages the tile through shared memory (swizzled) to keep both sides coalesced
    tl.store(y_ptr + c[:, None] * rows + r[None, :], tl.trans(tile),
             mask=(c[:, None] < cols) & (r[None, :] < rows))


@pl.variant(backend="triton", note="64x64 blocks and tl.trans; the compiler picks the shared-memory layout")
def triton_tiled(x):
    rows, cols = x.shape
    y = torch.empty(cols, rows, device=x.device, dtype=x.dtype)
    grid = (triton.cdiv(rows, BLOCK), triton.cdiv(cols, BLOCK))
    _transpose_kernel[grid](x, y, rows, cols, BLOCK=BLOCK, num_warps=4)
    return y


@pl.variant(backend="torch", note="x.t().contiguous(): the library's copy kernel")
def torch_transpose(x):
    return x.t().contiguous()


variants = [cuda_naive, cuda_smem_32, cuda_smem_32_padded, triton_tiled, torch_transpose]
