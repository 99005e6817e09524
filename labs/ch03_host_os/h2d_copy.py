"""Lab: copy a host batch to the GPU — from pageable memory, from pinned memory, through a staging buffer.

Pageable memory can be paged out, so the GPU's copy engine cannot read it directly: the driver first
copies it into a pinned (page-locked) bounce buffer, then DMAs from there, in pieces. Pinned memory
skips the bounce and lets the copy run asynchronously (``non_blocking=True``) on the copy engine.
Every variant writes into the same preallocated device tensor ``out``. Needs a CUDA GPU: on the cpu tier
there is no host-to-device link to measure (the table says so), and the measured link bandwidths are
also in ``pl.ceilings()``.

% ceiling in the table is against the device-memory copy ceiling, which a host link never reaches; compare
GB/s with the h2d rows of pl.ceilings() instead.
"""
from __future__ import annotations

import torch

import perflab as pl

TITLE = "Host-to-device copy: pageable vs pinned"
SIZES = {"cpu": [1_000_003, 250_007], "gpu": [16_000_057, 4_000_037, 64_000_031]}   # float32 elements
DTYPES = ["float32"]
OPTIONS = pl.LabOptions(
    bandwidth="h2d_pinned",    # % ceiling is of the measured pinned host-to-device rate, not of HBM
    target=0.8,    # the exercise: reach 80% of that rate
)
_STAGING: dict = {}


def make_inputs(size, device, dtype, seed):
    g = torch.Generator(device="cpu").manual_seed(seed)
    host = torch.rand(size, generator=g, dtype=getattr(torch, dtype))
    pinned = host.pin_memory() if torch.cuda.is_available() else host.clone()
    return {"host": host, "pinned": pinned, "out": torch.empty(size, dtype=host.dtype, device=device)}


def reference(host, pinned, out):
    return host.clone()


def bytes(size, dtype):
    return size * 4


def flops(size, dtype):
    return 0


@pl.variant(needs="cuda", note="pageable source: the driver stages it through a pinned bounce buffer")
def pageable(host, pinned, out):
    return out.copy_(host)


@pl.variant(needs="cuda", note="pinned source, non_blocking: one DMA on the copy engine")
def pinned_async(host, pinned, out):
    return out.copy_(pinned, non_blocking=True)


@pl.variant(needs="cuda", note="our own staging: memcpy into a pinned buffer, then DMA (what the driver does)")
def staged(host, pinned, out):
    buf = _STAGING.get(host.numel())
    if buf is None:
        buf = torch.empty_like(host)
        buf = _STAGING[host.numel()] = buf.pin_memory() if torch.cuda.is_available() else buf
    buf.copy_(host)
    return out.copy_(buf, non_blocking=True)


variants = [pageable, pinned_async, staged]
