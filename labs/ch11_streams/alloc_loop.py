"""Lab: a workspace allocated and freed in a 4-stream loop — cudaMalloc/cudaFree vs caching and stream-ordered pools.

The batch ``x`` (on the GPU) is cut into pieces of varying size, as variable-length sequences cut a
real batch. Piece i goes to stream i % 4, which allocates a workspace for it, hashes the piece into
the workspace, hashes the workspace into ``out`` and frees it. Only the allocator changes:

  cuda_malloc       cudaMalloc + cudaFree per piece (CuPy ``Memory``): cudaFree waits for the whole
                    device, so the host stalls and the streams drain every time (book L4597)
  cupy_pool         CuPy's caching pool: blocks are kept and reused per stream, no driver call
  cupy_async_pool   CuPy's ``MemoryAsyncPool``: cudaMallocAsync / cudaFreeAsync, ordered in the stream
                    like any other operation (book L4599), the pool kept by the driver
  torch_caching     PyTorch's caching allocator, allocating on the stream that uses the block
  torch_record_stream  allocate on the main stream, use on a side stream, and say so with
                    ``record_stream`` so the block is not handed out again too early

All of them must give the same answer; what differs is how long the loop takes. Needs a CUDA GPU
and CuPy (the kernel is CUDA C on raw pointers, launched on torch's streams).
"""
from __future__ import annotations

import contextlib
import functools

import torch

import perflab as pl
from labs.ch11_streams import _cuda
from perflab.cuda import cupy_stream
from labs.ch11_streams.compute import reference as _closed_form

TITLE = "Workspace per piece in a 4-stream loop: cudaMalloc/cudaFree vs caching and stream-ordered pools"
SIZES = {"cpu": [300_007, 100_003], "gpu": [16_777_259, 4_194_319, 33_554_467]}    # int32 elements
DTYPES = ["int32"]
PIECES = 48          # pieces per batch, sizes drawn between 0.25x and 1.75x the mean
STREAMS = 4
ITERS = 1024         # hash steps per element, split over the two kernels of each piece


OPTIONS = pl.LabOptions(gate_note=(
    "an allocator lab: each step allocates, fills and frees pieces, and the time is the allocator and the "
    "host loop around it (milliseconds per step on the H100 reference) while the bytes column counts only the"
    " data touched. The ceiling that matters is the cost of a cudaMalloc/cudaFree pair, which the variants "
    "compare."))


def make_inputs(size, device, dtype="int32", seed=0):
    """x, out on the device (out starts as noise); bounds: the piece boundaries (a seeded, ragged split)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(-2**31, 2**31 - 1, (size,), generator=g, dtype=torch.int32)
    out = torch.randint(-2**31, 2**31 - 1, (size,), generator=g, dtype=torch.int32)
    weights = 0.25 + 1.5 * torch.rand(PIECES, generator=g, dtype=torch.float64)
    cuts = (weights.cumsum(0) / weights.sum() * size).round().long().tolist()
    bounds = tuple(dict.fromkeys([0] + [min(max(c, 0), size) for c in cuts[:-1]] + [size]))
    return {"x": x.to(device), "out": out.to(device), "bounds": bounds, "iters": ITERS}


def reference(x, out, bounds, iters):
    return _closed_form(x, iters)


def bytes(size, dtype="int32"):
    return 8 * size          # read x once, write out once (the workspace round trip is extra)


def flops(size, dtype="int32"):
    return 0


@contextlib.contextmanager
def cupy_on(stream: torch.cuda.Stream):
    """Make CuPy's current stream the torch stream ``stream`` (so CuPy pools allocate and free in its
    order), and restore the previous one afterwards."""
    import cupy
    previous = cupy.cuda.get_current_stream()
    cupy_stream(stream).use()
    try:
        yield
    finally:
        previous.use()


@functools.cache
def _pool(kind: str):
    import cupy
    if kind == "async":
        dev = cupy.cuda.Device()
        if not cupy.cuda.runtime.deviceGetAttribute(cupy.cuda.runtime.cudaDevAttrMemoryPoolsSupported, dev.id):
            raise RuntimeError("this GPU/driver has no stream-ordered allocator (cudaDevAttrMemoryPoolsSupported=0)")
        return cupy.cuda.MemoryAsyncPool()
    return cupy.cuda.MemoryPool()


def _loop(x, out, bounds, iters, alloc, side_alloc: bool = True):
    """Run the pieces over STREAMS streams; ``alloc(nbytes)`` returns (owner, pointer) and is called
    with the piece's stream current (torch and CuPy) when side_alloc, else on the main stream."""
    import cupy
    main = torch.cuda.current_stream()
    streams = [torch.cuda.Stream() for _ in range(STREAMS)]
    for s in streams:
        s.wait_stream(main)
    k1 = iters // 2
    with cupy.cuda.Device(x.device.index or 0):
        for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
            s = streams[i % STREAMS]
            if not side_alloc:
                owner, ptr = alloc((b - a) * 4)                  # on the main stream
            with torch.cuda.stream(s), cupy_on(s):
                if side_alloc:
                    owner, ptr = alloc((b - a) * 4)
                _cuda.hash_ptr(x.data_ptr() + 4 * a, ptr, b - a, k1, x.device)
                _cuda.hash_ptr(ptr, out.data_ptr() + 4 * a, b - a, iters - k1, x.device)
                if not side_alloc:
                    owner.record_stream(s)                       # used on s: keep it until s is done
                del owner                                        # free: how, depends on the allocator
    for s in streams:
        main.wait_stream(s)
    main.synchronize()
    return out


def _torch_alloc(device):
    def alloc(nbytes):
        t = torch.empty(nbytes // 4, dtype=torch.int32, device=device)
        return t, t.data_ptr()
    return alloc


@pl.variant(backend="cupy", needs="cuda", note="cudaMalloc + cudaFree per piece: cudaFree waits for the device")
def cuda_malloc(x, out, bounds, iters):
    import cupy

    def alloc(nbytes):
        mem = cupy.cuda.Memory(nbytes)
        return mem, mem.ptr
    return _loop(x, out, bounds, iters, alloc)


@pl.variant(backend="cupy", needs="cuda", note="CuPy caching pool (per-stream arenas): no driver call after warm-up")
def cupy_pool(x, out, bounds, iters):
    pool = _pool("caching")

    def alloc(nbytes):
        mp = pool.malloc(nbytes)
        return mp, mp.ptr
    return _loop(x, out, bounds, iters, alloc)


@pl.variant(backend="cupy", needs="cuda", note="CuPy MemoryAsyncPool: cudaMallocAsync/cudaFreeAsync in stream order")
def cupy_async_pool(x, out, bounds, iters):
    pool = _pool("async")

    def alloc(nbytes):
        mp = pool.malloc(nbytes)
        return mp, mp.ptr
    return _loop(x, out, bounds, iters, alloc)


@pl.variant(backend="cupy", needs="cuda", note="torch caching allocator, block allocated on the stream that uses it")
def torch_caching(x, out, bounds, iters):
    return _loop(x, out, bounds, iters, _torch_alloc(x.device))


@pl.variant(backend="cupy", needs="cuda", note="allocated on the main stream, used on a side stream: record_stream")
def torch_record_stream(x, out, bounds, iters):
    return _loop(x, out, bounds, iters, _torch_alloc(x.device), side_alloc=False)


variants = [cuda_malloc, cupy_pool, cupy_async_pool, torch_caching, torch_record_stream]
