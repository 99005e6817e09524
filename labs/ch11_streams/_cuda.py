"""CUDA C kernels of chapter 11, compiled on first use through CuPy (NVRTC) and launched on torch's stream.

``hash_steps`` is the chunk compute of ``compute`` written in CUDA C, for labs that hand the kernel raw
pointers from other allocators (CuPy pools, cudaMalloc). ``spin`` keeps one block busy for a given
number of nanoseconds (read from the GPU's global timer): a kernel that takes a known time and leaves
the rest of the GPU free, so whether two of them overlap shows whether their streams are serialized.

    >>> sorted(SOURCES)
    ['hash_steps', 'spin']
"""
from __future__ import annotations

from perflab.cuda import grid_stride_blocks, kernels, launch  # noqa: F401  (the shared launcher)

KERNELS = r"""
// y[i] = hash^iters(x[i]) with v = v * 1664525 + 1013904223 (mod 2^32); grid-stride over n.
extern "C" __global__ void hash_steps(const int* __restrict__ x, int* __restrict__ y,
                                      long long n, long long iters)
{
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
        unsigned int v = (unsigned int)x[i];
        for (long long k = 0; k < iters; ++k)
            v = v * 1664525u + 1013904223u;
        y[i] = (int)v;
    }
}

// Busy-wait for ns nanoseconds of the GPU's global timer. Launch it with one small block.
extern "C" __global__ void spin(long long ns)
{
    unsigned long long start, now;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
    do {
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
    } while (now - start < (unsigned long long)ns);
}
"""

SOURCES = {"hash_steps": KERNELS, "spin": KERNELS}
THREADS = 256


kernel = kernels(SOURCES)     # kernel(name): the compiled cupy.RawKernel (NVRTC once per process)


def hash_ptr(src: int, dst: int, n: int, iters: int, device) -> None:
    """dst = hash^iters(src) on raw device pointers (ints), on torch's current stream."""
    if n:
        blocks = grid_stride_blocks(device, THREADS, n)
        launch(kernel("hash_steps"), (blocks,), (THREADS,), (src, dst, n, iters))


def spin(ns: int) -> None:
    """One 32-thread block that busy-waits ``ns`` nanoseconds, on torch's current stream."""
    launch(kernel("spin"), (1,), (32,), (int(ns),))
