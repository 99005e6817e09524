"""Threads per block: the same CUDA saxpy launched with 32 ... 1024 threads per block (one variant each)."""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU

from labs.ch06_gpu_architecture import first_kernel
from labs.ch06_gpu_architecture.first_kernel import DTYPES, SIZES, bytes, flops, make_inputs, reference  # noqa: F401

TITLE = "Block-size sweep: CUDA saxpy with 32, 33, 64, 96, 128, 256, 512, 1024 threads per block"
OPTIONS = pl.LabOptions(
    # why the best variant is under the 85% memory gate on the H200 (shown by perflab report)
    gate_note=(
        "the sweep's kernel is deliberately plain (one element per thread, 4-byte loads, no grid-stride loop)"
        " so that only the block size changes; its best, 256 threads, reaches 80%. The same chapter's Triton "
        'sweep (ch06.triton_sweep) reaches 99% with 4,096 elements per program.'),
)
THREADS = (32, 33, 64, 96, 128, 256, 512, 1024)     # the digest's sweep: 33 and 96 are the odd ones out


def _variant(threads: int):
    warps = -(-threads // 32)
    lanes = f"{threads} of {32 * warps} lanes busy" if threads % 32 else f"{warps} full warp{'s' * (warps > 1)}"

    @pl.variant(backend="cupy", needs="cuda", note=f"{threads} threads per block: {lanes}")
    def run(x, y, a):
        return first_kernel.cuda_saxpy_launch(x, y, a, threads)
    run.__name__ = run.__qualname__ = f"cuda_{threads}"
    run.threads = threads
    return run


variants = [_variant(t) for t in THREADS]
globals().update({v.__name__: v for v in variants})      # block_sweep.cuda_256 etc., for tests and ncu
