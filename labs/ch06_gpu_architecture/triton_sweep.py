"""Triton launch settings: the same saxpy with BLOCK (elements per program) and num_warps varied."""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU

from labs.ch06_gpu_architecture import first_kernel
from labs.ch06_gpu_architecture.first_kernel import DTYPES, SIZES, bytes, flops, make_inputs, reference  # noqa: F401

TITLE = "Triton sweep: saxpy with BLOCK elements per program and num_warps warps per program"
# (BLOCK, num_warps): elements per thread = BLOCK / (32 * num_warps)
SETTINGS = ((32, 1), (128, 4), (1024, 1), (1024, 4), (4096, 4), (4096, 16))


def _variant(block: int, num_warps: int):
    per_thread = block // (32 * num_warps)

    @pl.variant(backend="triton", note=f"BLOCK={block}, num_warps={num_warps}: {32 * num_warps} threads, "
                                       f"{per_thread} element{'s' * (per_thread > 1)} each")
    def run(x, y, a):
        return first_kernel.triton_saxpy_launch(x, y, a, block, num_warps)[0]
    run.__name__ = run.__qualname__ = f"b{block}_w{num_warps}"
    run.block, run.num_warps = block, num_warps
    return run


variants = [_variant(b, w) for b, w in SETTINGS]
globals().update({v.__name__: v for v in variants})
