"""A Triton matmul written, autotuned over tile shapes and pipeline depths, and checked against torch."""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch
import triton

from labs.ch14_compiler._matmul_kernel import CONFIGS, matmul_kernel
from labs.matmul_shape import bytes, flops, make_inputs, reference  # noqa: F401  (the lab's shape)

TITLE = "C = A @ B: torch (cuBLAS / CPU BLAS) vs our Triton kernel, autotuned over 3 tile configs"
# (M, N, K): none a multiple of any tile, so the masks are exercised
SIZES = {"gpu": [(4_099, 4_097, 4_095), (8_191, 8_189, 4_093), (2_053, 2_051, 2_049)],
         "cpu": [(131, 97, 75), (67, 45, 113)]}
DTYPES = ["float16", "float32"]
COMPILED: dict = {}      # the last CompiledKernel per dtype (GPU only), for reading its PTX


def _cpu_bench(kernel_call, quantiles):
    """Autotune's timer on the cpu tier: pl.bench of the interpreted kernel, in ms (meaningless as speed;
    it shows the mechanism — every config runs, the fastest is kept per (M, N, K))."""
    m = pl.bench(kernel_call, rep_ms=1, warmup_ms=0, label="autotune")
    return [m.median * 1e3, m.p20 * 1e3, m.p80 * 1e3]


_tuned = triton.autotune(
    configs=[triton.Config({"BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk}, num_warps=w, num_stages=s)
             for bm, bn, bk, w, s in CONFIGS],
    key=["M", "N", "K"],                                   # re-tune when the shape changes
    do_bench=_cpu_bench if pl.env().tier == "cpu" else None)(matmul_kernel)


def best_config(size) -> str:
    """The config autotune picked for this (M, N, K), or '—' before it ran."""
    for key, cfg in _tuned.cache.items():
        if tuple(key[:3]) == tuple(size):
            kw = cfg.kwargs
            return f"{kw['BLOCK_M']}×{kw['BLOCK_N']}×{kw['BLOCK_K']}, {cfg.num_warps} warps, {cfg.num_stages} stages"
    return "—"


@pl.variant(backend="torch", note="torch.matmul: cuBLAS on a GPU, the CPU's BLAS here")
def torch_matmul(a, b):
    return a @ b


@pl.variant(backend="triton", precision="tf32", note="our kernel, @triton.autotune over 3 configs (fp32 inputs use TF32)")
def triton_autotuned(a, b):
    m, k = a.shape
    n = b.shape[1]
    c = torch.empty(m, n, device=a.device, dtype=a.dtype)
    grid = lambda meta: (triton.cdiv(m, meta["BLOCK_M"]), triton.cdiv(n, meta["BLOCK_N"]))  # noqa: E731
    ck = _tuned[grid](a, b, c, m, n, k, a.stride(0), a.stride(1), b.stride(0), b.stride(1), c.stride(0), c.stride(1))
    if ck is not None and hasattr(ck, "asm"):
        COMPILED[str(a.dtype).replace("torch.", "")] = ck
    return c


variants = [torch_matmul, triton_autotuned]
