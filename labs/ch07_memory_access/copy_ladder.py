"""Copy ladder: one float32 copy, from strided lanes to coalesced, vectorized and library copies."""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch
import triton
import triton.language as tl

from labs.ch07_memory_access import _cuda

TITLE = "Copy ladder: strided lanes -> coalesced -> float4 -> torch (y = copy(x), float32)"
SIZES = {"gpu": [268_435_459, 16_777_259, 67_108_879], "cpu": [1_000_003, 250_007, 2_000_003]}   # elements; 1 GiB per array on a GPU
DTYPES = ["float32"]
OPTIONS = pl.LabOptions(target=0.85)

BLOCK = 4096        # elements per Triton program (4 warps: 32 floats per thread)
THREADS = 256       # threads per CUDA block


def make_inputs(size: int, device="cpu", dtype="float32", seed: int = 0) -> dict:
    g = torch.Generator(device=device).manual_seed(seed)
    return {"x": torch.randn(size, generator=g, device=device, dtype=getattr(torch, dtype))}


def reference(x: torch.Tensor) -> torch.Tensor:
    return x.clone()


def bytes(size: int, dtype="float32") -> int:
    return 2 * size * getattr(torch, dtype).itemsize     # read x once, write y once


def flops(size: int, dtype="float32") -> int:
    return 0


@triton.jit
def _strided_copy_kernel(x_ptr, y_ptr, n, m, S: tl.constexpr, BLOCK: tl.constexpr):
    # Lanes t = 0 .. m*S-1 cover a padded (S, m) grid: t = q*m + r goes to j = r*S + q. That is a
    # bijection onto 0 .. m*S-1, so every element is copied once, but neighbouring lanes (same q,
    # r and r+1) touch elements S apart: a warp's request spans S times more memory.
    t = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    j = (t % m) * S + t // m
    mask = (t < m * S) & (j < n)
    tl.store(y_ptr + j, tl.load(x_ptr + j, mask=mask), mask=mask)


@triton.jit
def _copy_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)      # neighbouring lanes, neighbouring floats
    mask = offs < n
    tl.store(y_ptr + offs, tl.load(x_ptr + offs, mask=mask), mask=mask)


def _strided(x: torch.Tensor, stride: int) -> torch.Tensor:
    y = torch.empty_like(x)
    n = x.numel()
    m = -(-n // stride)                                # ceil(n / stride)
    grid = (triton.cdiv(m * stride, BLOCK),)
    _strided_copy_kernel[grid](x, y, n, m, S=stride, BLOCK=BLOCK, num_warps=4)
    return y


@pl.variant(backend="triton", note="neighbouring lanes copy floats 32 apart (128 B): one sector per lane")
def strided_32(x):
    return _strided(x, 32)


@pl.variant(backend="triton", note="neighbouring lanes copy floats 2 apart, the book's stride: twice the sectors")
def strided_2(x):
    return _strided(x, 2)


@pl.variant(backend="triton", note="neighbouring lanes copy neighbouring floats: 4 sectors per warp request")
def coalesced(x):
    y = torch.empty_like(x)
    n = x.numel()
    _copy_kernel[(triton.cdiv(n, BLOCK),)](x, y, n, BLOCK=BLOCK, num_warps=4)
    return y


def _cuda_copy(x: torch.Tensor, name: str, per_thread: int) -> torch.Tensor:
    if not x.is_contiguous():
        raise ValueError("the CUDA copies read x as one flat array; pass x.contiguous()")
    y = torch.empty_like(x)
    n = x.numel()
    if per_thread == 4 and (x.data_ptr() % 16 or y.data_ptr() % 16):
        raise ValueError(f"float4 loads need 16-byte aligned pointers, got x at {x.data_ptr():#x}; "
                         "pass a fresh tensor (torch allocations are 256-byte aligned), not a view")
    blocks = _cuda.grid_stride_blocks(x.device, THREADS, -(-n // per_thread))
    _cuda.launch(_cuda.kernel(name), (blocks,), (THREADS,), (x, y, n))
    return y


@pl.variant(backend="cupy", needs="cuda", note="CUDA C, one float per thread per step, grid-stride loop")
def cuda_scalar(x):
    return _cuda_copy(x, "copy_scalar", 1)


@pl.variant(backend="cupy", needs="cuda", note="CUDA C, float4: 16-byte loads and stores, scalar tail for n % 4")
def cuda_float4(x):
    return _cuda_copy(x, "copy_float4", 4)


@pl.variant(backend="torch", note="x.clone(): the library's device-to-device copy")
def torch_copy(x):
    return x.clone()


variants = [strided_32, strided_2, coalesced, cuda_scalar, cuda_float4, torch_copy]
