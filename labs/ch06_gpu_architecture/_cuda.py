"""CUDA C sources of the chapter 6 labs, compiled through CuPy (NVRTC) and launched on torch's stream.

Every kernel is ``extern "C"`` and takes raw pointers plus ``long long`` sizes, so one text compiles
with NVRTC on a GPU and with ``nvcc -cubin -Xptxas -v`` offline (which prints the registers each
kernel uses). CuPy is imported inside functions only: importing this module needs no GPU.

    >>> sorted(SOURCES)[:2]
    ['heavy_bounds_256_16', 'heavy_bounds_256_8']
"""
from __future__ import annotations

from perflab.cuda import kernels, launch  # noqa: F401  (launch: the shared launcher on torch's stream)

SAXPY = r"""
// The first kernel: out[i] = a * x[i] + y[i], one element per thread.
// blockIdx.x * blockDim.x + threadIdx.x is this thread's global index; the grid has
// ceil(n / blockDim.x) blocks, so the last block has threads past the end: the guard stops them.
extern "C" __global__ void saxpy(const float* __restrict__ x, const float* __restrict__ y,
                                 float* __restrict__ out, float a, long long n)
{
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = a * x[i] + y[i];
}
"""

HEAVY = r"""
// A register-heavy kernel for the occupancy calculator (compiled and inspected, not timed here;
// chapter 8 times register caps): 48 running values per thread stay live across a runtime loop,
// so the compiler wants many registers. Each round is 48 x 2 FMAs that converge to 4 * v.
#define ACCS 48
__device__ __forceinline__ float mix(float v, long long rounds)
{
    float acc[ACCS];
    #pragma unroll
    for (int k = 0; k < ACCS; ++k)
        acc[k] = v + 0.015625f * k;
    for (long long r = 0; r < rounds; ++r) {
        #pragma unroll
        for (int k = 0; k < ACCS; ++k)         // acc[47] reads acc[0] already updated this round
            acc[k] = fmaf(acc[k], 0.5f, fmaf(acc[(k + 1) % ACCS], 0.25f, v));
    }
    float s = 0.0f;
    #pragma unroll
    for (int k = 0; k < ACCS; ++k)
        s += acc[k];
    return s;
}

// No launch bounds: the compiler picks the registers (and so the occupancy).
extern "C" __global__ void heavy_free(const float* __restrict__ x, float* __restrict__ y,
                                      long long n, long long rounds)
{
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = mix(x[i], rounds);
}

// At most 256 threads per block and at least 8 resident blocks per SM: 2,048 threads, so the
// compiler must fit 65,536 / 2,048 = 32 registers per thread and spills the rest to local memory.
extern "C" __global__ void __launch_bounds__(256, 8)
heavy_bounds_256_8(const float* __restrict__ x, float* __restrict__ y, long long n, long long rounds)
{
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = mix(x[i], rounds);
}

// The book's example (256, 16) asks for 4,096 threads per SM, more than any SM holds.
extern "C" __global__ void __launch_bounds__(256, 16)
heavy_bounds_256_16(const float* __restrict__ x, float* __restrict__ y, long long n, long long rounds)
{
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = mix(x[i], rounds);
}
"""

TWICE = r"""
// y = 2x + 1: the GPU's use of data that the host produced (the unified-memory lab's kernel).
extern "C" __global__ void twice_plus_one(const float* __restrict__ x, float* __restrict__ y, long long n)
{
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        y[i] = 2.0f * x[i] + 1.0f;
}
"""

SOURCES = {"saxpy": SAXPY, "twice_plus_one": TWICE, "heavy_free": HEAVY, "heavy_bounds_256_8": HEAVY, "heavy_bounds_256_16": HEAVY}


kernel = kernels(SOURCES)     # kernel(name): the compiled cupy.RawKernel (NVRTC once per process)
