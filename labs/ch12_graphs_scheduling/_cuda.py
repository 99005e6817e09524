"""CUDA C sources of the chapter 12 kernels, compiled on first use through CuPy (NVRTC), launched on torch's stream.

Every kernel is ``extern "C"`` and takes raw pointers plus ``long long`` integers (perflab's launcher
passes Python ints as ``long long``), so the same text compiles
with NVRTC on a GPU and with ``nvcc -cubin`` for a check. Work per item is ``units`` times ``unit``
dependent multiply-adds, as in the Triton kernels.

    >>> sorted(SOURCES)[:2]
    ['book_dynamic', 'book_static']
"""
from __future__ import annotations

from perflab.cuda import kernels, launch  # noqa: F401  (launch: the shared launcher)

WORK = r"""
// units x unit dependent multiply-adds; with a = 1 and dyadic x, b every step is exact in float32.
__device__ __forceinline__ float work(float x, float a, float b, int units, int unit)
{
    const int steps = units * unit;
    #pragma unroll 16
    for (int k = 0; k < steps; ++k)
        x = fmaf(x, a, b);
    return x;
}
"""

SKEW = WORK + r"""
// Persistent static split: warp w of the grid owns the contiguous 32-item batches [w*per, (w+1)*per).
extern "C" __global__ void skew_static_warps(const float* __restrict__ x, const int* __restrict__ cost,
                                             float* __restrict__ y, long long n, float a, float b, long long unit)
{
    const int lane = threadIdx.x & 31;
    const long long warp = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    const long long warps = ((long long)gridDim.x * blockDim.x) >> 5;
    const long long batches = (n + 31) / 32;
    const long long per = (batches + warps - 1) / warps;
    const long long last = (warp + 1) * per < batches ? (warp + 1) * per : batches;
    for (long long t = warp * per; t < last; ++t) {
        const long long i = t * 32 + lane;
        if (i < n)
            y[i] = work(x[i], a, b, cost[i], (int)unit);
    }
}

// Persistent dynamic queue: lane 0 of each warp takes `batch` 32-item batches with one atomicAdd and
// broadcasts the start with __shfl_sync; the warp works through them and comes back for more.
// Every lane reaches the atomic (the loop exit is warp-uniform), so the full mask is safe; the book's
// __activemask()/__ffs leader election does the same job where lanes may have diverged.
extern "C" __global__ void skew_dynamic_warps(const float* __restrict__ x, const int* __restrict__ cost,
                                              float* __restrict__ y, long long n, float a, float b, long long unit,
                                              unsigned long long* __restrict__ head, long long batch)
{
    const int lane = threadIdx.x & 31;
    const unsigned long long step = 32ull * (unsigned long long)batch;
    while (true) {
        unsigned long long base = 0;
        if (lane == 0)
            base = atomicAdd(head, step);
        base = __shfl_sync(0xffffffffu, base, 0);
        if (base >= (unsigned long long)n)
            break;
        const unsigned long long end = base + step < (unsigned long long)n ? base + step : (unsigned long long)n;
        for (unsigned long long i = base + lane; i < end; i += 32)
            y[i] = work(x[i], a, b, cost[i], (int)unit);
    }
}
"""

BOOK = WORK + r"""
// The book's microbenchmark (L4814), static: one thread per item on an ordinary grid; work = idx % period.
extern "C" __global__ void book_static(const float* __restrict__ x, float* __restrict__ y, long long n,
                                       float a, float b, long long period, long long unit)
{
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        y[i] = work(x[i], a, b, (int)(i % period), (int)unit);
}

// The book's dynamic version: a persistent grid whose warps take 32 items per atomic (idx = base + lane).
extern "C" __global__ void book_dynamic(const float* __restrict__ x, float* __restrict__ y, long long n,
                                        float a, float b, long long period, long long unit,
                                        unsigned long long* __restrict__ head)
{
    const int lane = threadIdx.x & 31;
    while (true) {
        const unsigned mask = __activemask();
        const int leader = __ffs(mask) - 1;
        unsigned long long base = 0;
        if (lane == leader)
            base = atomicAdd(head, 32ull);
        base = __shfl_sync(mask, base, leader);
        const unsigned long long i = base + lane;
        if (base >= (unsigned long long)n)
            break;
        if (i < (unsigned long long)n)
            y[i] = work(x[i], a, b, (int)(i % period), (int)unit);
    }
}
"""

SOURCES = {"skew_static_warps": SKEW, "skew_dynamic_warps": SKEW, "book_static": BOOK, "book_dynamic": BOOK}


kernel = kernels(SOURCES)     # kernel(name): the compiled cupy.RawKernel (NVRTC once per process)
