"""KV offload to the host: the same page gather, but into pinned host memory over PCIe (or NVLink-C2C).

This is the path of a KV cache spilled to CPU memory (a tiered KV pool, or staging before a network
send). Each device-to-host copy is a DMA with a fixed setup cost, so many small pages waste the link:
16-token copies vs 128-token copies vs one device-side gather into a staging slab followed by one DMA.
The destination is pinned, so every copy is asynchronous; each variant waits for its copies to land
before it returns. Needs a CUDA GPU (the cpu tier has no host link; the table says so).
"""
from __future__ import annotations

import perflab as pl
import torch

from labs.ch18_kv_tuning import paging

TITLE = "KV offload to pinned host memory: 16-token DMAs -> 128-token DMAs -> gather + one DMA"
SIZES = {"gpu": [(7_501, 2048), (30_001, 2048), (1_999, 2048)],     # (tokens, width), as in kv_transfer
         "cpu": [(7_501, 256), (2_003, 256)]}
DTYPES = ["bfloat16", "float16"]
OPTIONS = pl.LabOptions(bandwidth="d2h_pinned")    # % ceiling is of the measured pinned device-to-host rate, not of HBM


def make_inputs(size, device="cpu", dtype="bfloat16", seed: int = 0) -> dict:
    """The request's KV paged on the device (16- and 128-token pools) and a pinned host buffer full of NaN."""
    out = paging.host_buffer(tuple(size), getattr(torch, dtype)).fill_(float("nan"))
    return paging.two_pools(size, device, dtype, seed) | {"out": out}


def reference(pool16, pages16, pool128, pages128, out) -> torch.Tensor:
    n, width = out.shape
    return pool16[pages16].reshape(-1, width)[:n].cpu()


def bytes(size, dtype="bfloat16") -> int:
    n_tokens, width = size
    return n_tokens * width * getattr(torch, dtype).itemsize            # what crosses the host link


def flops(size, dtype="bfloat16") -> int:
    return 0


@pl.variant(backend="torch", needs="cuda", note="one DMA per 16-token page into pinned memory")
def per_page_16(pool16, pages16, pool128, pages128, out):
    return paging.wait_for(paging.copy_pages(pool16, pages16, out), pool16)


@pl.variant(backend="torch", needs="cuda", note="one DMA per 128-token page: 8× fewer, 8× larger")
def collated_128(pool16, pages16, pool128, pages128, out):
    return paging.wait_for(paging.copy_pages(pool128, pages128, out), pool128)


@pl.variant(backend="torch", needs="cuda", note="gather on the device into one slab, then a single DMA")
def gather_then_copy(pool16, pages16, pool128, pages128, out):
    slab = torch.empty(out.shape, dtype=out.dtype, device=pool16.device)   # the caching allocator reuses it
    paging.gather_pages(pool16, pages16, slab)
    out.copy_(slab, non_blocking=True)
    return paging.wait_for(out, pool16)


variants = [per_page_16, collated_128, gather_then_copy]
