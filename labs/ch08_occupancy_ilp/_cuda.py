"""CUDA C sources of the chapter 8 labs, made per compile-time constant, compiled through CuPy (NVRTC).

A kernel's name says what it was compiled with: ``stream_ilp4`` is the stream kernel with ILP = 4
loads in flight per thread, ``fma_regs_bounds_256_8`` the register-pressure kernel under
``__launch_bounds__(256, 8)``. :func:`source` writes the ``#define`` lines for that name in front of
one shared body, so the same text compiles with NVRTC here and with ``nvcc -cubin`` in a check.
Integer arguments are ``long long`` because CuPy passes Python ints as 64-bit values.

    >>> source("stream_ilp4").splitlines()[:2]
    ['#define ILP 4', '#define NAME stream_ilp4']
    >>> options("fma_regs_maxrreg_24")
    ('--maxrregcount=24',)
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from perflab.cuda import compile_kernel, launch  # noqa: F401  (launch: the shared launcher on torch's stream)

STREAM = r"""
// y = a*x + b. A grid-stride loop in which each thread first issues ILP independent loads (lanes of a
// warp read neighbouring floats, so every load is coalesced) and only then uses them: ILP loads of
// every thread are in flight at once. The grid is sized by the caller (a few blocks per SM).
extern "C" __global__ void __launch_bounds__(1024) NAME(const float* __restrict__ x, float* __restrict__ y,
                                float a, float b, long long n)
{
    const long long stride = (long long)gridDim.x * blockDim.x;
    const long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    long long base = 0;
    for (; base + ILP * stride <= n; base += ILP * stride) {
        float v[ILP];
        #pragma unroll
        for (int k = 0; k < ILP; ++k)
            v[k] = x[base + k * stride + t];                  // ILP loads, none waits for another
        #pragma unroll
        for (int k = 0; k < ILP; ++k)
            y[base + k * stride + t] = fmaf(a, v[k], b);
    }
    for (long long i = base + t; i < n; i += stride)          // the tail: fewer than ILP steps
        y[i] = fmaf(a, x[i], b);
}
"""

FMA = r"""
// Each element goes through `chain` dependent FMAs, v = v*a + b: every FMA needs the previous result,
// so one chain issues at most one FMA per FMA latency. A thread carries ILP elements, i.e. ILP
// independent chains interleaved, so the scheduler can issue ILP FMAs back to back.
// chain must be a multiple of 8 (the Python wrapper checks).
extern "C" __global__ void __launch_bounds__(1024) NAME(const float* __restrict__ x, float* __restrict__ y,
                                float a, float b, long long n, long long chain)
{
    const long long stride = (long long)gridDim.x * blockDim.x;
    const long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    for (long long base = 0; base < n; base += ILP * stride) {
        float v[ILP];
        #pragma unroll
        for (int k = 0; k < ILP; ++k) {
            const long long i = base + k * stride + t;
            v[k] = i < n ? x[i] : 0.0f;
        }
        for (long long j = 0; j < chain; j += 8) {
            #pragma unroll
            for (int u = 0; u < 8; ++u) {
                #pragma unroll
                for (int k = 0; k < ILP; ++k)
                    v[k] = fmaf(v[k], a, b);                  // ILP independent FMAs per step
            }
        }
        #pragma unroll
        for (int k = 0; k < ILP; ++k) {
            const long long i = base + k * stride + t;
            if (i < n) y[i] = v[k];
        }
    }
}
"""

REGS = r"""
// Register pressure: each thread of a 256-thread block keeps R = 32 chains live (32 floats plus
// addresses and loop state), one element per chain, elements blockDim.x apart (coalesced).
// BOUNDS is empty or __launch_bounds__(threads, min_blocks): the compiler must then fit
// 65536 / (threads * min_blocks) registers per thread, spilling to local memory if it cannot.
#define R 32
extern "C" __global__ void BOUNDS NAME(const float* __restrict__ x, float* __restrict__ y,
                                       float a, float b, long long n, long long chain)
{
    const long long base = (long long)blockIdx.x * blockDim.x * R + threadIdx.x;
    float v[R];
    #pragma unroll
    for (int k = 0; k < R; ++k) {
        const long long i = base + (long long)k * blockDim.x;
        v[k] = i < n ? x[i] : 0.0f;
    }
    for (long long j = 0; j < chain; j += 4) {
        #pragma unroll
        for (int u = 0; u < 4; ++u) {
            #pragma unroll
            for (int k = 0; k < R; ++k)
                v[k] = fmaf(v[k], a, b);
        }
    }
    #pragma unroll
    for (int k = 0; k < R; ++k) {
        const long long i = base + (long long)k * blockDim.x;
        if (i < n) y[i] = v[k];
    }
}
"""

BRANCH = r"""
// y = x + chain*b where flag is set, x - chain*c where not, each as `chain` dependent FMAs (a = 1).
// The two paths are different loops; a warp whose lanes disagree runs both, one after the other,
// with the lanes of the other path masked off.
__device__ __forceinline__ float add_chain(float v, float a, float b, long long chain)
{
    for (long long j = 0; j < chain; j += 8) {
        #pragma unroll
        for (int u = 0; u < 8; ++u) v = fmaf(v, a, b);
    }
    return v;
}

__device__ __forceinline__ float sub_chain(float v, float a, float c, long long chain)
{
    for (long long j = 0; j < chain; j += 8) {
        #pragma unroll
        for (int u = 0; u < 8; ++u) v = fmaf(a, v, -c);
    }
    return v;
}

// Thread i takes element i: the branch follows the data, lane by lane.
extern "C" __global__ void branch_by_lane(const float* __restrict__ x, const unsigned char* __restrict__ flag,
                                          float* __restrict__ y, float a, float b, float c,
                                          long long n, long long chain)
{
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const float v = x[i];
    y[i] = flag[i] ? add_chain(v, a, b, chain) : sub_chain(v, a, c, chain);
}

// Thread j takes element order[j], where order lists the unflagged elements first: a warp's lanes
// agree except in the one warp that straddles the boundary.
extern "C" __global__ void branch_sorted(const float* __restrict__ x, const unsigned char* __restrict__ flag,
                                         const long long* __restrict__ order, float* __restrict__ y,
                                         float a, float b, float c, long long n, long long chain)
{
    const long long j = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= n) return;
    const long long i = order[j];
    const float v = x[i];
    y[i] = flag[i] ? add_chain(v, a, b, chain) : sub_chain(v, a, c, chain);
}

// No branch: every lane computes both chains and selects (predication). No divergence, twice the work.
extern "C" __global__ void branch_select(const float* __restrict__ x, const unsigned char* __restrict__ flag,
                                         float* __restrict__ y, float a, float b, float c,
                                         long long n, long long chain)
{
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const float v = x[i];
    const float up = add_chain(v, a, b, chain), down = sub_chain(v, a, c, chain);
    y[i] = flag[i] ? up : down;
}
"""

# launch-bounds flavours of the REGS kernel: name suffix -> (qualifier, NVRTC/nvcc options)
REG_FLAVOURS = {
    "default": ("", ()),
    "bounds_256_4": ("__launch_bounds__(256, 4)", ()),      # at most 65536 / 1024 = 64 registers
    "bounds_256_8": ("__launch_bounds__(256, 8)", ()),      # at most 32 registers: full occupancy
    "maxrreg_24": ("", ("--maxrregcount=24",)),             # a hard cap for the whole module
}
BRANCH_KERNELS = ("branch_by_lane", "branch_sorted", "branch_select")


def source(name: str) -> str:
    """The full CUDA C text that defines kernel ``name`` (``stream_ilp4``, ``fma_ilp8``, ...)."""
    if m := re.fullmatch(r"(stream|fma)_ilp(\d+)", name):
        ilp = int(m.group(2))
        if not 1 <= ilp <= 64:
            raise ValueError(f"ILP must be 1..64 loads/chains per thread, got {ilp} in {name!r}")
        body = STREAM if m.group(1) == "stream" else FMA
        return f"#define ILP {ilp}\n#define NAME {name}\n{body}"
    if m := re.fullmatch(r"fma_regs_(\w+)", name):
        if m.group(1) not in REG_FLAVOURS:
            raise ValueError(f"no register flavour {m.group(1)!r}; flavours: {sorted(REG_FLAVOURS)}")
        return f"#define BOUNDS {REG_FLAVOURS[m.group(1)][0]}\n#define NAME {name}\n{REGS}"
    if name in BRANCH_KERNELS:
        return BRANCH
    raise ValueError(f"no CUDA kernel {name!r}; kernels: stream_ilpN, fma_ilpN, "
                     f"fma_regs_<{'|'.join(REG_FLAVOURS)}>, {', '.join(BRANCH_KERNELS)}")


def options(name: str) -> tuple[str, ...]:
    """Compiler options for kernel ``name`` (only the -maxrregcount flavour has any)."""
    m = re.fullmatch(r"fma_regs_(\w+)", name)
    return REG_FLAVOURS[m.group(1)][1] if m and m.group(1) in REG_FLAVOURS else ()


@functools.cache
def kernel(name: str):
    """The compiled kernel ``name`` (a ``cupy.RawKernel``); NVRTC runs once per process and source."""
    return compile_kernel(source(name), name, options(name))


@dataclass(frozen=True)
class KernelAttributes:
    """What the compiler gave a loaded kernel: registers and local (spill) bytes per thread, and the
    largest block the driver will launch with them."""
    num_regs: int
    local_size_bytes: int
    max_threads_per_block: int


def attributes(name: str) -> KernelAttributes:
    """What the compiler gave kernel ``name`` on this GPU: registers and local (spill) bytes per thread."""
    k = kernel(name)
    return KernelAttributes(k.num_regs, k.local_size_bytes, k.max_threads_per_block)


def max_active_blocks(name: str, threads: int, shared_mem: int = 0) -> int:
    """Blocks of ``threads`` that fit on one SM at once, from the CUDA driver's occupancy calculator."""
    import cupy
    return cupy.cuda.driver.occupancyMaxActiveBlocksPerMultiprocessor(kernel(name).kernel.ptr, threads,
                                                                       shared_mem)


def sm_count(device) -> int:
    """Streaming multiprocessors of ``device``, read from the driver."""
    import torch
    return torch.cuda.get_device_properties(device).multi_processor_count
