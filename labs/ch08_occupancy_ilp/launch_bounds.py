"""Register pressure: one kernel with 32 live chains per thread, compiled with and without register caps."""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch
import triton

from labs.ch08_occupancy_ilp import _cuda, _triton, fma_ilp
# as in fma_ilp: exact arithmetic, so every variant must match exactly (chain a multiple of 8)
from labs.ch08_occupancy_ilp.fma_ilp import bytes, flops, make_inputs, reference  # noqa: F401

TITLE = "32 FMA chains per thread, 256-thread blocks: no cap vs __launch_bounds__ vs -maxrregcount (float32)"
SIZES = {"gpu": [(16_777_259, 1024), (4_194_319, 1024), (16_777_259, 256)],
         "cpu": [(5_003, 32), (2_003, 32), (9_001, 32)]}
DTYPES = ["float32"]

THREADS = 256
CHAINS = 32            # chains (elements) per thread: R in the CUDA source
TILE = THREADS * CHAINS


def _cuda_regs(flavour: str, x, a, b, chain):
    fma_ilp._check_chain(chain)
    y = torch.empty_like(x)
    n = x.numel()
    _cuda.launch(_cuda.kernel(f"fma_regs_{flavour}"), (-(-n // TILE),), (THREADS,),
                 (x, y, float(a), float(b), n, int(chain)))
    return y


@pl.variant(backend="cupy", needs="cuda", note="CUDA C, no bounds: the compiler takes the registers it wants")
def cuda_default(x, a, b, chain):
    return _cuda_regs("default", x, a, b, chain)


@pl.variant(backend="cupy", needs="cuda", note="__launch_bounds__(256, 4): 4 blocks per SM, at most 64 registers")
def cuda_bounds_256_4(x, a, b, chain):
    return _cuda_regs("bounds_256_4", x, a, b, chain)


@pl.variant(backend="cupy", needs="cuda",
            note="__launch_bounds__(256, 8): 8 blocks per SM (full occupancy), at most 32 registers")
def cuda_bounds_256_8(x, a, b, chain):
    return _cuda_regs("bounds_256_8", x, a, b, chain)


@pl.variant(backend="cupy", needs="cuda", note="-maxrregcount=24 for the whole module: heavy spills")
def cuda_maxrreg_24(x, a, b, chain):
    return _cuda_regs("maxrreg_24", x, a, b, chain)


def _triton_regs(key: str, x, a, b, chain, **meta):
    fma_ilp._check_chain(chain)
    y = torch.empty_like(x)
    n = x.numel()
    _triton.launch(key, _triton.regs_kernel, (triton.cdiv(n, TILE),), x, y, float(a), float(b), n, int(chain),
                   TILE=TILE, num_warps=THREADS // 32, **meta)
    return y


@pl.variant(backend="triton", note="Triton, 8 warps, 32 elements per thread, registers as the compiler chooses")
def triton_default(x, a, b, chain):
    return _triton_regs("launch_bounds.triton_default", x, a, b, chain)


@pl.variant(backend="triton", note="Triton with maxnreg=32 (its -maxrregcount): spills if 32 is too few")
def triton_maxnreg_32(x, a, b, chain):
    return _triton_regs("launch_bounds.triton_maxnreg_32", x, a, b, chain, maxnreg=32)


variants = [cuda_default, cuda_bounds_256_4, cuda_bounds_256_8, cuda_maxrreg_24, triton_default, triton_maxnreg_32]

KERNELS = {"cuda_default": "fma_regs_default", "cuda_bounds_256_4": "fma_regs_bounds_256_4",
           "cuda_bounds_256_8": "fma_regs_bounds_256_8", "cuda_maxrreg_24": "fma_regs_maxrreg_24"}
