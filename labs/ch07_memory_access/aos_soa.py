"""Particle layouts: array of structures (AoS) against structure of arrays (SoA) for one position update."""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch
import triton
import triton.language as tl

from labs.ch07_memory_access import _cuda

TITLE = "AoS vs SoA: new positions p + dt*v of 16-field (64 B) particles, float32"
SIZES = {"gpu": [40_000_003, 10_000_019], "cpu": [100_003, 30_011]}   # particles; on a GPU both layouts hold 2.6 GB each
DTYPES = ["float32"]

FIELDS = 16          # x y z vx vy vz mass charge and 8 more attributes: 64 bytes per particle
BLOCK = 256          # particles per Triton program (4 warps, 2 per thread): a program's records (16 KB)
                     # stay in L1 between its six field loads; 1024 thrashes L1 and makes AoS 3x worse
THREADS = 256        # threads per CUDA block


def make_inputs(size: int, device="cpu", dtype="float32", seed: int = 0) -> dict:
    g = torch.Generator(device=device).manual_seed(seed)
    soa = torch.randn(FIELDS, size, generator=g, device=device, dtype=getattr(torch, dtype))  # (16, N)
    aos = soa.t().contiguous()                                                               # (N, 16)
    return {"aos": aos, "soa": soa, "dt": 0.01}


def reference(aos: torch.Tensor, soa: torch.Tensor, dt: float) -> torch.Tensor:
    out = torch.empty(3, soa.shape[1], dtype=torch.float64, device=soa.device)       # (3, N)
    for f in range(3):                  # a row at a time keeps the float64 temporaries small
        out[f] = soa[f].double() + dt * soa[3 + f].double()
    return out


def bytes(size: int, dtype="float32") -> int:
    return size * (6 + 3) * getattr(torch, dtype).itemsize    # read x y z vx vy vz, write 3 floats


def flops(size: int, dtype="float32") -> int:
    return 2 * 3 * size                                        # a multiply and an add per coordinate


@triton.jit
def _aos_kernel(aos_ptr, out_ptr, n, row_stride, dt, BLOCK: tl.constexpr):
    i = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = i < n
    particle = aos_ptr + i.to(tl.int64) * row_stride          # neighbouring lanes sit 64 bytes apart
    for f in tl.static_range(3):
        p = tl.load(particle + f, mask=mask)
        v = tl.load(particle + 3 + f, mask=mask)
        tl.store(out_ptr + f * n + i, p + dt * v, mask=mask)


@triton.jit
def _soa_kernel(soa_ptr, out_ptr, n, field_stride, dt, BLOCK: tl.constexpr):
    i = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = i < n
    for f in tl.static_range(3):                              # every load is contiguous across lanes
        p = tl.load(soa_ptr + f * field_stride + i, mask=mask)
        v = tl.load(soa_ptr + (3 + f) * field_stride + i, mask=mask)
        tl.store(out_ptr + f * n + i, p + dt * v, mask=mask)


@pl.variant(backend="triton", note="one particle per lane, fields read from 64-byte records")
def triton_aos(aos, soa, dt):
    n = aos.shape[0]
    out = torch.empty(3, n, device=aos.device, dtype=aos.dtype)
    _aos_kernel[(triton.cdiv(n, BLOCK),)](aos, out, n, aos.stride(0), dt, BLOCK=BLOCK, num_warps=4)
    return out


@pl.variant(backend="triton", note="one particle per lane, each field its own contiguous array")
def triton_soa(aos, soa, dt):
    n = soa.shape[1]
    out = torch.empty(3, n, device=soa.device, dtype=soa.dtype)
    _soa_kernel[(triton.cdiv(n, BLOCK),)](soa, out, n, soa.stride(0), dt, BLOCK=BLOCK, num_warps=4)
    return out


@pl.variant(backend="torch", note="one torch.add over strided column views of the AoS array")
def torch_aos(aos, soa, dt):
    out = torch.empty(3, aos.shape[0], device=aos.device, dtype=aos.dtype)
    return torch.add(aos[:, 0:3].t(), aos[:, 3:6].t(), alpha=dt, out=out)


@pl.variant(backend="torch", note="one torch.add over contiguous SoA rows")
def torch_soa(aos, soa, dt):
    return torch.add(soa[0:3], soa[3:6], alpha=dt)


def _cuda_particles(name: str, data: torch.Tensor, n: int, dt: float) -> torch.Tensor:
    if not data.is_contiguous():
        raise ValueError(f"{name} reads a contiguous layout; pass the tensors from make_inputs")
    out = torch.empty(3, n, device=data.device, dtype=data.dtype)
    _cuda.launch(_cuda.kernel(name), (triton.cdiv(n, THREADS),), (THREADS,), (data, out, n, float(dt)))
    return out


@pl.variant(backend="cupy", needs="cuda", note="CUDA C, one particle per thread, AoS records")
def cuda_aos(aos, soa, dt):
    return _cuda_particles("particles_aos", aos, aos.shape[0], dt)


@pl.variant(backend="cupy", needs="cuda", note="CUDA C, one particle per thread, SoA arrays")
def cuda_soa(aos, soa, dt):
    return _cuda_particles("particles_soa", soa, soa.shape[1], dt)


variants = [triton_aos, triton_soa, torch_aos, torch_soa, cuda_aos, cuda_soa]
