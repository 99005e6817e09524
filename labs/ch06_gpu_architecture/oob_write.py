"""A planted bug for compute-sanitizer: a CUDA kernel whose guard lets one thread write past the end.

    python -m labs.ch06_gpu_architecture.oob_write                                   # runs, says nothing
    compute-sanitizer --tool memcheck python -m labs.ch06_gpu_architecture.oob_write # reports the write

Run plainly, the stray float usually lands in the padding the allocator rounded up, and nothing
complains: that is why the bug is dangerous. memcheck knows each allocation's exact size.
Only CuPy is imported (no torch), so the run under the sanitizer stays short.
"""
from __future__ import annotations

N = 1000              # floats in the output: 4,000 bytes
THREADS = 256         # 4 blocks = 1,024 threads, so threads 1000..1023 exist past the end

SOURCE = r"""
extern "C" __global__ void fill_off_by_one(float* y, long long n)
{
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i <= n)                   // BUG: must be i < n; thread n writes y[n], one float past the end
        y[i] = 0.5f * (float)i;
}
"""


def main() -> int:
    import cupy
    import numpy as np
    from cupy.cuda import runtime
    ptr = runtime.malloc(4 * N)           # exactly N floats with cudaMalloc: no pool rounding
    y = cupy.ndarray((N,), dtype=cupy.float32, memptr=cupy.cuda.MemoryPointer(
        cupy.cuda.UnownedMemory(ptr, 4 * N, None, 0), 0))
    kern = cupy.RawKernel(SOURCE, "fill_off_by_one")
    blocks = -(-N // THREADS)
    try:
        kern((blocks,), (THREADS,), (y, np.int64(N)))
        runtime.deviceSynchronize()
    except Exception as exc:               # under memcheck the failed launch surfaces here
        print(f"the kernel failed: {type(exc).__name__}: {exc}")
        return 1
    ok = bool((y[:3].get() == np.array([0.0, 0.5, 1.0], dtype=np.float32)).all())
    runtime.free(ptr)
    print(f"kernel finished: {N} floats written (and one more past the end); output looks "
          f"{'right' if ok else 'wrong'}; no error was raised")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
