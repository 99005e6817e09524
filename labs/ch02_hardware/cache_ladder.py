"""Cache ladder: read a float32 buffer R times and sum it. GB/s against buffer size shows the cache cliffs.

size = (elements, passes R). One call reads R·elements·4 bytes and returns R·sum(x) (a 1-element tensor).
A buffer that fits a cache is served from it on passes 2..R, so the read rate steps down at each level's
capacity: L1 → L2 → HBM on a GPU, L1 → L2 → L3 → DRAM on a CPU.

Timing on a GPU uses CUDA-graph replay (``TIMING = "cudagraph"``), which does **not** flush L2 between calls:
pl.bench's default "events" mode flushes L2 before every call, which would hide the L2 level for a buffer
read once. The R passes inside one call do the same job for the smaller levels (and amortize the launch).
"""
from __future__ import annotations

import math

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch
import triton
import triton.language as tl

TITLE = "Cache ladder: read a buffer R times (float32), GB/s vs working-set size"
SIZES = {"cpu": [(65_533, 9), (4_099, 7), (262_147, 3)],
         "gpu": [(8_388_605, 64), (268_435_453, 2), (16_381, 4096)]}      # (elements, passes)
DTYPES = ["float32"]
OPTIONS = pl.LabOptions(
    timing="cudagraph" if torch.cuda.is_available() else "auto",    # no L2 flush between calls
    target=0.8,    # of the measured copy ceiling (the default size is L2-resident)
)
BLOCK = 2048             # floats per chunk (8 KB): one program reads one chunk per step
TOL = 1e-4               # float32 sums of up to ~3e8 values: rounding alone reaches ~1e-5


def passes_for(nbytes: int, target_bytes: int) -> int:
    """Passes so one call reads about ``target_bytes`` (at least one pass)."""
    return max(1, math.ceil(target_bytes / nbytes))


def make_inputs(size, device="cpu", dtype="float32", seed: int = 0) -> dict:
    n, passes = size
    g = torch.Generator(device=device).manual_seed(seed)
    x = torch.rand(n, generator=g, device=device, dtype=getattr(torch, dtype)) + 0.5   # positive: no cancellation
    return {"x": x, "passes": passes}


def reference(x, passes) -> torch.Tensor:
    total = sum(c.sum(dtype=torch.float64) for c in x.split(1 << 26))    # float64, in pieces (no 2× copy)
    return (passes * total).reshape(1)


def bytes(size, dtype="float32") -> int:
    n, passes = size
    return n * passes * getattr(torch, dtype).itemsize


def flops(size, dtype="float32") -> int:
    n, passes = size
    return n * passes                                     # one add per element read


@pl.variant(tol=TOL, note="one call: x.expand(R, n).sum() — a stride-0 view, so the library re-reads x R times")
def torch_expand_sum(x, passes):
    return x.expand(passes, x.numel()).sum(dtype=torch.float32).reshape(1)


@triton.jit
def _rotating_read_kernel(x_ptr, part_ptr, n, nchunks, total, P, BLOCK: tl.constexpr):
    # Chunk reads k = 0 .. total-1 (total = R · nchunks) are dealt round-robin to P programs; read k is chunk
    # k % nchunks. Every chunk is read exactly R times, and a program meets different chunks on each pass, so
    # a level only serves the re-reads if the *whole* buffer fits in it (no per-SM slice stays in L1).
    pid = tl.program_id(0)
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    for k in range(pid, total, P):
        offs = (k % nchunks) * BLOCK + tl.arange(0, BLOCK)
        acc += tl.load(x_ptr + offs, mask=offs < n, other=0.0)
    tl.store(part_ptr + pid, tl.sum(acc, axis=0))


def _programs(device) -> int:
    if device.type == "cuda":
        return 8 * torch.cuda.get_device_properties(device).multi_processor_count
    return 4


@pl.variant(backend="triton", tol=TOL, note="all SMs stream 8 KB chunks round-robin, R passes in one launch")
def triton_rotating_read(x, passes):
    n = x.numel()
    nchunks = triton.cdiv(n, BLOCK)
    total = passes * nchunks
    P = min(_programs(x.device), total)
    part = torch.empty(P, device=x.device, dtype=torch.float32)
    _rotating_read_kernel[(P,)](x, part, n, nchunks, total, P, BLOCK=BLOCK, num_warps=4)
    return part.sum().reshape(1)


variants = [torch_expand_sum, triton_rotating_read]
