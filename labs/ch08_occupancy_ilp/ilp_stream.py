"""Latency hiding on a memory stream: more loads in flight per thread (ILP) or more warps (occupancy)."""
from __future__ import annotations

import functools

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch

from labs.ch07_memory_access.saxpy2d import make_inputs, reference  # noqa: F401  (chapter 7's y = a*x + b, flat)
from labs.ch08_occupancy_ilp import _cuda, _triton

TITLE = "y = a*x + b at 8 warps per SM: 1, 2, 4 or 8 loads in flight per thread, vs 64 warps (float32)"
# elements; on a GPU 268 MB of traffic at the default: past the L2, and small enough that checking
# 16 heat-map cells stays quick
SIZES = {"gpu": [33_554_467, 16_777_259, 67_108_879], "cpu": [30_011, 9_001, 100_003]}
DTYPES = ["float32"]
OPTIONS = pl.LabOptions(
    target=0.6,    # the exercise: 60% of the measured copy bandwidth at 8 warps per SM
    generated_variants=r"cuda_t\d+_ilp\d+",    # the heat map's points (cuda_setting), named like its records
)

THREADS = 128          # two blocks of 4 warps per SM: 8 warps per SM, 12.5% occupancy on a 64-warp SM
BLOCKS_PER_SM = 2


def bytes(size: int, dtype="float32") -> int:
    return 2 * size * getattr(torch, dtype).itemsize      # read x, write y


def flops(size: int, dtype="float32") -> int:
    return 2 * size


def _cuda_stream(x, a, b, threads: int, ilp: int, blocks_per_sm: int):
    if not x.is_contiguous():
        raise ValueError("the stream kernels read x as one flat array; pass x.contiguous()")
    y = torch.empty_like(x)
    n = x.numel()
    blocks = max(1, min(blocks_per_sm * _cuda.sm_count(x.device), -(-n // threads)))
    _cuda.launch(_cuda.kernel(f"stream_ilp{ilp}"), (blocks,), (threads,), (x, y, float(a), float(b), n))
    return y


def _make(name: str, threads: int, ilp: int, blocks_per_sm: int, note: str):
    def fn(x, a, b):
        return _cuda_stream(x, a, b, threads, ilp, blocks_per_sm)
    fn.__name__ = fn.__qualname__ = name
    return pl.variant(backend="cupy", needs="cuda", note=note)(fn)



@functools.cache
def cuda_setting(threads: int, ilp: int, blocks_per_sm: int = BLOCKS_PER_SM):
    """The CUDA variant for one (block size, ILP) point of the heat map, named ``cuda_t{threads}_ilp{ilp}``."""
    return _make(f"cuda_t{threads}_ilp{ilp}", threads, ilp, blocks_per_sm,
                 f"CUDA C, {blocks_per_sm} blocks of {threads} threads per SM, {ilp} load(s) in flight per thread")


cuda_ilp1 = _make("cuda_ilp1", THREADS, 1, BLOCKS_PER_SM,
                  "CUDA C, 8 warps per SM, one 4-byte load in flight per thread")
cuda_ilp2 = _make("cuda_ilp2", THREADS, 2, BLOCKS_PER_SM, "CUDA C, 8 warps per SM, 2 loads in flight per thread")
cuda_ilp4 = _make("cuda_ilp4", THREADS, 4, BLOCKS_PER_SM, "CUDA C, 8 warps per SM, 4 loads in flight per thread")
cuda_ilp8 = _make("cuda_ilp8", THREADS, 8, BLOCKS_PER_SM, "CUDA C, 8 warps per SM, 8 loads in flight per thread")
cuda_full_occupancy = _make("cuda_full_occupancy", 1024, 1, 2,
                            "CUDA C, one load in flight per thread but 64 warps per SM (2 blocks of 1024; "
                            "fewer on GPUs with a lower warp limit)")


def _triton_stream(key: str, x, a, b, ilp: int):
    y = torch.empty_like(x)
    grid = (_triton.programs(x.device, BLOCKS_PER_SM),)
    _triton.launch(key, _triton.stream_kernel, grid, x, y, float(a), float(b), x.numel(),
                   TILE=THREADS * ilp, num_warps=THREADS // 32, num_stages=1)
    return y


@pl.variant(backend="triton", note="Triton, 4 warps per program, 2 programs per SM, 1 float per thread per tile")
def triton_ilp1(x, a, b):
    return _triton_stream("stream.triton_ilp1", x, a, b, 1)


@pl.variant(backend="triton", note="Triton, same launch, 16 floats per thread per tile, all loaded before the first store")
def triton_ilp16(x, a, b):
    return _triton_stream("stream.triton_ilp16", x, a, b, 16)


@pl.variant(backend="torch", note="torch.add(b, x, alpha=a): the library's elementwise kernel at full occupancy")
def torch_add(x, a, b):
    return torch.add(torch.tensor(b, dtype=x.dtype), x, alpha=a)


variants = [cuda_ilp1, cuda_ilp2, cuda_ilp4, cuda_ilp8, cuda_full_occupancy, triton_ilp1, triton_ilp16, torch_add]
