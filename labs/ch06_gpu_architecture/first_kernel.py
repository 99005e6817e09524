"""The first CUDA kernel from Python and its Triton twin: saxpy, out = a*x + y, checked and timed."""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch
import triton
import triton.language as tl

from labs.ch06_gpu_architecture import _cuda

TITLE = "saxpy out = a*x + y (float32): the library, a CUDA C kernel and a Triton kernel"
SIZES = {"gpu": [67_108_879, 16_777_259, 134_217_757], "cpu": [30_011, 7_001, 60_013]}  # elements; 768 MB moved per call on a GPU
DTYPES = ["float32"]
OPTIONS = pl.LabOptions(target=0.8)    # of the measured copy bandwidth, for the exercise

THREADS = 256          # CUDA threads per block: the book's starting point (8 warps)
BLOCK = 1024           # Triton elements per program
NUM_WARPS = 4          # Triton warps per program: 128 threads, 8 elements each


def make_inputs(size: int, device="cpu", dtype="float32", seed: int = 0) -> dict:
    g = torch.Generator(device=device).manual_seed(seed)
    dt = getattr(torch, dtype)
    x = torch.randn(size, generator=g, device=device, dtype=dt)
    y = torch.randn(size, generator=g, device=device, dtype=dt)
    a = 0.5 + torch.rand(1, generator=g, device=device, dtype=torch.float64).item()    # in [0.5, 1.5)
    return {"x": x, "y": y, "a": a}


def reference(x: torch.Tensor, y: torch.Tensor, a: float) -> torch.Tensor:
    return a * x.double() + y.double()


def bytes(size: int, dtype="float32") -> int:
    return 3 * size * getattr(torch, dtype).itemsize      # read x and y, write out


def flops(size: int, dtype="float32") -> int:
    return 2 * size                                        # a multiply and an add per element


def _check(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.shape != y.shape or x.dim() != 1 or not (x.is_contiguous() and y.is_contiguous()):
        raise ValueError(f"saxpy takes two contiguous vectors of one length, got {tuple(x.shape)} "
                         f"and {tuple(y.shape)}")


def cuda_saxpy_launch(x, y, a, threads: int) -> torch.Tensor:
    """Launch the CUDA C saxpy with ``threads`` per block and ceil(n / threads) blocks."""
    _check(x, y)
    out = torch.empty_like(x)
    n = x.numel()
    blocks = triton.cdiv(n, threads)             # e.g. n = 1,000,000 at 256 threads: 3,907 blocks
    _cuda.launch(_cuda.kernel("saxpy"), (blocks,), (threads,), (x, y, out, float(a), n))
    return out


@triton.jit
def saxpy_kernel(x_ptr, y_ptr, out_ptr, a, n, BLOCK: tl.constexpr):
    # One program per BLOCK elements; tl.arange gives this program's offsets, the mask stops the
    # last program at n (the Triton form of `if (i < n)`). num_warps at launch sets the threads.
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    y = tl.load(y_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, a * x + y, mask=mask)


def triton_saxpy_launch(x, y, a, block: int, num_warps: int):
    """Launch the Triton saxpy; returns (out, compiled kernel) — the kernel carries n_regs and shared."""
    _check(x, y)
    out = torch.empty_like(x)
    n = x.numel()
    compiled = saxpy_kernel[(triton.cdiv(n, block),)](x, y, out, float(a), n, BLOCK=block, num_warps=num_warps)
    return out, compiled


@pl.variant(backend="torch", note="torch.add(y, x, alpha=a): one library elementwise kernel")
def torch_saxpy(x, y, a):
    return torch.add(y, x, alpha=a)


@pl.variant(backend="cupy", needs="cuda", note="CUDA C through CuPy RawKernel: 256 threads per block, one element each")
def cuda_saxpy(x, y, a):
    return cuda_saxpy_launch(x, y, a, THREADS)


@pl.variant(backend="triton", note="Triton twin: BLOCK=1024 elements per program, 4 warps")
def triton_saxpy(x, y, a):
    return triton_saxpy_launch(x, y, a, BLOCK, NUM_WARPS)[0]


variants = [torch_saxpy, cuda_saxpy, triton_saxpy]
