"""FMA chains: hide arithmetic latency with independent chains per thread (ILP) instead of more warps."""
from __future__ import annotations

import functools

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch

from labs.ch08_occupancy_ilp import _cuda, _triton

TITLE = "Dependent FMA chains at 4 warps per SM: 1, 2, 4 or 8 independent chains per thread (float32)"
# (elements, FMAs per element); the chain length is a multiple of 8. Long chains on few elements: the
# work is arithmetic, and checking a few million elements is quick.
SIZES = {"gpu": [(2_097_169, 4096), (1_048_583, 4096), (4_194_319, 4096)],
         "cpu": [(5_003, 64), (2_003, 64), (12_007, 64)]}
DTYPES = ["float32"]

THREADS = 128          # one block of 4 warps per SM: one warp per scheduler
BLOCKS_PER_SM = 1


def make_inputs(size, device="cpu", dtype="float32", seed: int = 0, flags: bool = False) -> dict:
    """x: random multiples of 1/1024 in (-8, 8); a = 1; b (and c) random multiples of 1/64 in [1/4, 1].

    With these values every partial sum x + j*b is exact in float32 (fewer than 24 significant bits
    while |x + j*b| < 8192), so every variant must match the reference exactly. a = 1 is a runtime
    argument: the GPU still does the full multiply-add, it cannot know that a is 1.
    """
    n, chain = size
    if chain % 8 or chain <= 0 or chain > 8000:
        raise ValueError(f"chain must be a positive multiple of 8 up to 8000, got {chain}")
    g = torch.Generator(device=device).manual_seed(seed)
    x = torch.round(torch.randn(n, generator=g, device=device) * 1024).clamp(-8191, 8191) / 1024
    b, c = (torch.randint(16, 65, (2,), generator=g, device=device).double() / 64).tolist()
    out = {"x": x.to(getattr(torch, dtype)), "a": 1.0, "b": b, "chain": chain}
    if flags:
        out["flag"] = torch.rand(n, generator=g, device=device) < 0.5
        out["c"] = c
    return out


def reference(x: torch.Tensor, a: float, b: float, chain: int) -> torch.Tensor:
    if a != 1.0:
        raise ValueError(f"the reference assumes a = 1 (exact arithmetic), got a = {a}")
    return x.double() + chain * b


def bytes(size, dtype="float32") -> int:
    n, _ = size
    return 2 * n * getattr(torch, dtype).itemsize          # read x, write y


def flops(size, dtype="float32") -> int:
    n, chain = size
    return 2 * n * chain                                  # one FMA = 2 FLOPs


def _check_chain(chain: int) -> None:
    if chain % 8:
        raise ValueError(f"the kernels step the chain 8 FMAs at a time; chain must be a multiple of 8, got {chain}")


def _cuda_fma(x, a, b, chain, threads: int, ilp: int, blocks_per_sm: int):
    _check_chain(chain)
    y = torch.empty_like(x)
    n = x.numel()
    blocks = max(1, min(blocks_per_sm * _cuda.sm_count(x.device), -(-n // (threads * ilp))))
    _cuda.launch(_cuda.kernel(f"fma_ilp{ilp}"), (blocks,), (threads,), (x, y, float(a), float(b), n, int(chain)))
    return y


def _make(name: str, threads: int, ilp: int, blocks_per_sm: int, note: str):
    def fn(x, a, b, chain):
        return _cuda_fma(x, a, b, chain, threads, ilp, blocks_per_sm)
    fn.__name__ = fn.__qualname__ = name
    return pl.variant(backend="cupy", needs="cuda", note=note)(fn)


OPTIONS = pl.LabOptions(generated_variants=r"cuda_t\d+_ilp\d+")    # the heat map's points (cuda_setting), named like its records

@functools.cache
def cuda_setting(threads: int, ilp: int, blocks_per_sm: int = BLOCKS_PER_SM):
    """The CUDA variant for one (block size, ILP) point of the heat map, named ``cuda_t{threads}_ilp{ilp}``."""
    return _make(f"cuda_t{threads}_ilp{ilp}", threads, ilp, blocks_per_sm,
                 f"CUDA C, {blocks_per_sm} block(s) of {threads} threads per SM, {ilp} chain(s) per thread")


cuda_ilp1 = _make("cuda_ilp1", THREADS, 1, BLOCKS_PER_SM,
                  "CUDA C, 4 warps per SM, one chain per thread: each FMA waits for the last")
cuda_ilp2 = _make("cuda_ilp2", THREADS, 2, BLOCKS_PER_SM, "CUDA C, 4 warps per SM, 2 independent chains per thread")
cuda_ilp4 = _make("cuda_ilp4", THREADS, 4, BLOCKS_PER_SM, "CUDA C, 4 warps per SM, 4 independent chains per thread")
cuda_ilp8 = _make("cuda_ilp8", THREADS, 8, BLOCKS_PER_SM, "CUDA C, 4 warps per SM, 8 independent chains per thread")
cuda_full_occupancy = _make("cuda_full_occupancy", 1024, 1, 2,
                            "CUDA C, one chain per thread but 64 warps per SM (2 blocks of 1024; fewer on GPUs "
                            "with a lower warp limit): latency hidden by warps instead")


def _triton_fma(key: str, x, a, b, chain, ilp: int):
    _check_chain(chain)
    y = torch.empty_like(x)
    grid = (_triton.programs(x.device, BLOCKS_PER_SM),)
    _triton.launch(key, _triton.fma_kernel, grid, x, y, float(a), float(b), x.numel(), int(chain),
                   TILE=THREADS * ilp, num_warps=THREADS // 32, num_stages=1)
    return y


@pl.variant(backend="triton", note="Triton, 4 warps per program, one program per SM, 1 element (chain) per thread")
def triton_ilp1(x, a, b, chain):
    return _triton_fma("fma.triton_ilp1", x, a, b, chain, 1)


@pl.variant(backend="triton", note="Triton, 4 warps per program, one program per SM, 4 elements (chains) per thread")
def triton_ilp4(x, a, b, chain):
    return _triton_fma("fma.triton_ilp4", x, a, b, chain, 4)


variants = [cuda_ilp1, cuda_ilp2, cuda_ilp4, cuda_ilp8, cuda_full_occupancy, triton_ilp1, triton_ilp4]
