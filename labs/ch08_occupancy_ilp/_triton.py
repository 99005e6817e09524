"""Triton twins of the chapter 8 kernels. Triton has no per-thread loop to unroll: a program works on a
whole tile, so ILP is *elements per thread* = TILE / (32 * num_warps), chosen through the constexpr TILE.

On the cpu tier these run under TRITON_INTERPRET=1 (correct, not fast). On a GPU, the compiled
kernel that a launch returns carries ``n_regs`` and ``n_spills``: :func:`launch` keeps the last one
per kernel so that the register tables can read them.
"""
from __future__ import annotations

import perflab as pl  # noqa: F401  (first: sets TRITON_INTERPRET on machines without a GPU)
import triton
import triton.language as tl

COMPILED: dict = {}     # variant name -> the CompiledKernel its last GPU launch returned (n_regs, n_spills)


@triton.jit
def stream_kernel(x_ptr, y_ptr, a, b, n, TILE: tl.constexpr):
    # Persistent: program p takes tiles p, p + P, p + 2P, ... Each thread issues the loads of its
    # TILE/threads floats before any is used or stored (16-byte vector loads when Triton can prove
    # alignment, i.e. n a multiple of 16; scalar loads otherwise: as many bytes in flight either way).
    step = tl.num_programs(0) * TILE
    for base in range(tl.program_id(0) * TILE, n, step):
        offs = base + tl.arange(0, TILE)
        mask = offs < n
        x = tl.load(x_ptr + offs, mask=mask)
        tl.store(y_ptr + offs, a * x + b, mask=mask)


@triton.jit
def fma_kernel(x_ptr, y_ptr, a, b, n, chain, TILE: tl.constexpr):
    # Every element runs `chain` dependent FMAs; a thread holds TILE/threads elements, i.e. that many
    # independent chains. chain is a multiple of 8.
    step = tl.num_programs(0) * TILE
    for base in range(tl.program_id(0) * TILE, n, step):
        offs = base + tl.arange(0, TILE)
        mask = offs < n
        v = tl.load(x_ptr + offs, mask=mask, other=0.0)
        for _ in range(0, chain, 8):
            for _u in tl.static_range(8):
                v = v * a + b
        tl.store(y_ptr + offs, v, mask=mask)


@triton.jit
def regs_kernel(x_ptr, y_ptr, a, b, n, chain, TILE: tl.constexpr):
    # One tile per program (no persistence): with 8 warps and TILE = 8192 each thread keeps 32 chains.
    offs = tl.program_id(0) * TILE + tl.arange(0, TILE)
    mask = offs < n
    v = tl.load(x_ptr + offs, mask=mask, other=0.0)
    for _ in range(0, chain, 4):
        for _u in tl.static_range(4):
            v = v * a + b
    tl.store(y_ptr + offs, v, mask=mask)


@triton.jit
def branch_where_kernel(x_ptr, flag_ptr, y_ptr, a, b, c, n, chain, TILE: tl.constexpr):
    # Triton has no per-lane branch: both paths run for every element and tl.where picks one
    # (predication). This costs what a fully divergent CUDA warp costs, whatever the data.
    offs = tl.program_id(0) * TILE + tl.arange(0, TILE)
    mask = offs < n
    v = tl.load(x_ptr + offs, mask=mask, other=0.0)
    f = tl.load(flag_ptr + offs, mask=mask, other=0)
    up = v
    down = v
    for _ in range(0, chain, 8):
        for _u in tl.static_range(8):
            up = up * a + b
            down = a * down - c
    tl.store(y_ptr + offs, tl.where(f != 0, up, down), mask=mask)


def launch(key: str, kernel, grid, *args, **meta):
    """Launch a Triton kernel; on a GPU remember its compiled form (registers, spills) under ``key``."""
    compiled = kernel[grid](*args, **meta)
    if compiled is not None and hasattr(compiled, "n_regs"):
        COMPILED[key] = compiled
    return compiled


def programs(device, per_sm: int) -> int:
    """Programs for a persistent launch: ``per_sm`` per SM on a GPU (read from the driver), 4 on the CPU."""
    if getattr(device, "type", str(device)) != "cuda":
        return 4
    import torch
    return per_sm * torch.cuda.get_device_properties(device).multi_processor_count
