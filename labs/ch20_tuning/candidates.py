"""The verifier's view as a lab: cuBLAS, two honest Triton configs, and two generated-looking kernels that
are faster because they skip work. The runner's correctness gate rejects both before any timing."""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch

from labs.ch20_tuning import _kernel
from labs.matmul_shape import bytes, flops, make_inputs, reference  # noqa: F401  (the lab's shape)

TITLE = "C = A @ B: cuBLAS vs Triton configs, and two 'faster' kernels that skip work"
# (M, N, K): K is not a multiple of any BLOCK_K, so dropping the K tail changes the answer, and K spans
# at least two K tiles, so skipping every other one does too (with one tile there is nothing to skip)
SIZES = {"gpu": [(4_099, 4_097, 4_095), (2_053, 2_051, 2_049)], "cpu": [(67, 45, 113), (33, 71, 150)]}
DTYPES = ["float16", "float32"]
OPTIONS = pl.LabOptions(target=0.6)    # the exercise: ≥ 60% of the measured fp16 matmul ceiling on a GPU

SMALL = dict(block_m=32, block_n=32, block_k=32, num_warps=4, num_stages=2)
TUNED = dict(block_m=128, block_n=256, block_k=64, num_warps=8, num_stages=3)   # a common Hopper choice


def triton_matmul(a, b, shortcut=_kernel.EXACT, **cfg):
    """The chapter kernel with launch config ``cfg`` (block_m, block_n, block_k, num_warps, num_stages)."""
    c = torch.empty(a.shape[0], b.shape[1], device=a.device, dtype=a.dtype)
    return _kernel.launch(a, b, c, shortcut=shortcut, **cfg)


@pl.variant(backend="torch", note="torch.matmul: cuBLAS on a GPU, the CPU's BLAS here")
def torch_matmul(a, b):
    return a @ b


@pl.variant(backend="triton", precision="tf32", note="32×32×32 tiles, 4 warps, 2 stages: correct, far from the best")
def triton_small_tiles(a, b):
    return triton_matmul(a, b, **SMALL)


@pl.variant(backend="triton", precision="tf32", note="128×256×64 tiles, 8 warps, 3 stages: a common Hopper config")
def triton_tuned(a, b):
    return triton_matmul(a, b, **TUNED)


@pl.variant(backend="triton", precision="tf32", note="'generated': steps over every other K tile — half the work")
def triton_skips_half_k(a, b):
    return triton_matmul(a, b, shortcut=_kernel.SKIP_HALF_K, **TUNED)


@pl.variant(backend="triton", precision="tf32", note="'generated': no K-tail tile — right only when BLOCK_K divides K")
def triton_drops_k_tail(a, b):
    return triton_matmul(a, b, shortcut=_kernel.DROP_K_TAIL, **TUNED)


variants = [torch_matmul, triton_small_tiles, triton_tuned, triton_skips_half_k, triton_drops_k_tail]
