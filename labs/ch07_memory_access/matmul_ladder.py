"""Matmul ladder: naive uncoalesced -> naive coalesced -> 32x32 shared tiles -> Triton -> cuBLAS (CPU BLAS on a CPU)."""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch
import triton
import triton.language as tl

from labs.ch07_memory_access import _cuda
from perflab import _tier

TITLE = "Matmul ladder: C = A @ B, square n x n float32, from naive CUDA to cuBLAS"
SIZES = {"gpu": [2053, 1031, 4099], "cpu": [131, 67]}     # n; 2053 is one past a multiple of every tile size
DTYPES = ["float32"]


def make_inputs(size: int, device="cpu", dtype="float32", seed: int = 0) -> dict:
    g = torch.Generator(device=device).manual_seed(seed)
    dt = getattr(torch, dtype)
    a = torch.randn(size, size, generator=g, device=device, dtype=dt)
    b = torch.randn(size, size, generator=g, device=device, dtype=dt)
    return {"a": a, "b": b}


def reference(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a.double() @ b.double()


def bytes(size: int, dtype="float32") -> int:
    return 3 * size * size * getattr(torch, dtype).itemsize    # read A and B once, write C once


def flops(size: int, dtype="float32") -> int:
    return 2 * size ** 3


# ---- CUDA C through CuPy ------------------------------------------------------------------------

def _cuda_matmul(a: torch.Tensor, b: torch.Tensor, name: str) -> torch.Tensor:
    n = a.shape[0]
    if a.shape != (n, n) or b.shape != (n, n) or not (a.is_contiguous() and b.is_contiguous()):
        raise ValueError(f"the CUDA matmuls take contiguous square matrices, got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")
    c = torch.empty_like(a)
    if name == "matmul_tiled_32":
        block, grid = (32, 32), (triton.cdiv(n, 32), triton.cdiv(n, 32))
    else:                                   # block (32, 8): x spans 32 rows or 32 columns
        block, grid = (32, 8), (triton.cdiv(n, 32), triton.cdiv(n, 8))
    _cuda.launch(_cuda.kernel(name), grid, block, (a, b, c, n))
    return c


@pl.variant(backend="cupy", needs="cuda", note="one output per thread, lanes walk down rows: A and C strided")
def cuda_naive_uncoalesced(a, b):
    return _cuda_matmul(a, b, "matmul_naive_rows")


@pl.variant(backend="cupy", needs="cuda", note="one output per thread, lanes walk along a row: coalesced")
def cuda_naive_coalesced(a, b):
    return _cuda_matmul(a, b, "matmul_naive_cols")


@pl.variant(backend="cupy", needs="cuda", note="32x32 shared-memory tiles: each load reused 32 times")
def cuda_tiled_32(a, b):
    return _cuda_matmul(a, b, "matmul_tiled_32")


# ---- Triton --------------------------------------------------------------------------------------

@triton.jit
def _matmul_kernel(a_ptr, b_ptr, c_ptr, n, PRECISION: tl.constexpr,
                   BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr):
    rm = tl.program_id(0) * BM + tl.arange(0, BM)
    rn = tl.program_id(1) * BN + tl.arange(0, BN)
    rk = tl.arange(0, BK)
    acc = tl.zeros((BM, BN), dtype=tl.float32)
    for k0 in range(0, n, BK):
        kk = k0 + rk
        a = tl.load(a_ptr + rm[:, None] * n + kk[None, :], mask=(rm[:, None] < n) & (kk[None, :] < n), other=0.0)
        b = tl.load(b_ptr + kk[:, None] * n + rn[None, :], mask=(kk[:, None] < n) & (rn[None, :] < n), other=0.0)
        acc = tl.dot(a, b, acc, input_precision=PRECISION)
    tl.store(c_ptr + rm[:, None] * n + rn[None, :], acc, mask=(rm[:, None] < n) & (rn[None, :] < n))


def _triton_config(device: torch.device) -> dict:
    """Tile sizes: small on the interpreter, 128x128 where shared memory allows (sm_90: 227 KB)."""
    if device.type != "cuda":
        return dict(BM=32, BN=32, BK=16)
    if torch.cuda.get_device_capability(device)[0] >= 9:
        return dict(BM=128, BN=128, BK=32, num_warps=8, num_stages=3)     # 96 KB of staged tiles
    return dict(BM=64, BN=64, BK=32, num_warps=4, num_stages=3)           # 48 KB: fits a T4's 64 KB


def _triton_matmul(a: torch.Tensor, b: torch.Tensor, precision: str) -> torch.Tensor:
    n = a.shape[0]
    c = torch.empty_like(a)
    cfg = _triton_config(a.device)
    grid = (triton.cdiv(n, cfg["BM"]), triton.cdiv(n, cfg["BN"]))
    _matmul_kernel[grid](a, b, c, n, PRECISION=precision, **cfg)
    return c


@pl.variant(backend="triton", note="tl.dot with input_precision='ieee': full float32 on the FMA units")
def triton_fp32(a, b):
    return _triton_matmul(a, b, "ieee")


@pl.variant(backend="triton", precision="tf32", note="tl.dot with input_precision='tf32': tensor cores (sm_80+)")
def triton_tf32(a, b):
    return _triton_matmul(a, b, "tf32")


# ---- cuBLAS through torch (on the cpu tier: the CPU's BLAS, under its own name) -------------------

def _torch_matmul(a: torch.Tensor, b: torch.Tensor, allow_tf32: bool) -> torch.Tensor:
    before = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = allow_tf32
    try:
        return torch.matmul(a, b)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before


@pl.variant(backend="torch", needs="cuda", note="torch.matmul on a GPU with TF32 off: cuBLAS SGEMM")
def cublas_fp32(a, b):
    return _torch_matmul(a, b, False)


@pl.variant(backend="torch", needs="cuda", precision="tf32",
            note="torch.matmul on a GPU with TF32 on: cuBLAS on tensor cores (sm_80+)")
def cublas_tf32(a, b):
    return _torch_matmul(a, b, True)


@pl.variant(backend="torch", note="torch.matmul on the CPU: the CPU's BLAS (MKL or OpenBLAS), not cuBLAS; "
                                  "a CPU has no TF32, so there is no tf32 row")
def cpu_blas_fp32(a, b):
    return torch.matmul(a, b)


# The GPU rows keep their record names (data/reference uses them); the cpu tier times the same torch.matmul
# under the name of what really runs there, and shows the cuBLAS rows as "needs cuda" beside the reference.
variants = [cuda_naive_uncoalesced, cuda_naive_coalesced, cuda_tiled_32,
            triton_fp32, triton_tf32, cublas_fp32, cublas_tf32] + ([cpu_blas_fp32] if _tier.TIER == "cpu" else [])
