"""Paged KV pools: one request's KV scattered over fixed-size pages, and the copies that gather it.

An engine keeps the KV cache in a pool of fixed-size pages (16 tokens is a common default; the book
lists 8 to 128, L7937). A request's pages are wherever the allocator found room, so sending the
request to another GPU or to host memory means gathering scattered pages. Here one request is a
``(n_tokens, width)`` matrix (``width`` = the K and V values of one token in one layer:
2 × kv_heads × head_dim), and a pool is ``(n_pool_pages, page_tokens, width)``: the request's pages
in random slots, other requests' KV in the rest.

    >>> import torch
    >>> kv = torch.randn(37, 8)
    >>> pool, pages = paged_pool(kv, 16, torch.Generator().manual_seed(0))
    >>> pool.shape[1:], len(pages)              # 3 pages of 16 tokens: 16 + 16 + 5
    (torch.Size([16, 8]), 3)
    >>> torch.equal(copy_pages(pool, pages, torch.empty(37, 8)), kv)
    True
"""
from __future__ import annotations

import math

import torch

SMALL_PAGE = 16      # tokens per page: vLLM's default block size, the book's "16-token pages" (L7996)
LARGE_PAGE = 128     # the size the book says to collate to before a transfer (L7937, L7941)


def n_pages(n_tokens: int, page_tokens: int) -> int:
    """Pages one request of ``n_tokens`` needs (the last one may be partly filled)."""
    if n_tokens < 1 or page_tokens < 1:
        raise ValueError(f"n_tokens and page_tokens must be ≥ 1, got {n_tokens}, {page_tokens}")
    return math.ceil(n_tokens / page_tokens)


def paged_pool(kv: torch.Tensor, page_tokens: int, generator: torch.Generator,
               spare: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """(pool, pages): ``kv`` (n_tokens, width) written into random pages of a fresh pool.

    The pool has ``spare`` × more pages than the request needs, filled with other (random) KV, so a
    copy that picks the wrong page returns wrong values. ``pages[i]`` is the pool slot of the request's
    i-th page (a LongTensor on kv's device). ``generator`` draws the other KV (on kv's device); the page
    order comes from a CPU generator seeded from it, so it is the same on any device.
    """
    n, width = kv.shape
    need = n_pages(n, page_tokens)
    total = need + max(1, int(need * spare))
    pool = torch.randn(total, page_tokens, width, generator=generator, device=kv.device, dtype=kv.dtype)
    order = torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,), generator=generator,
                                                               device=kv.device).item()))
    pages = torch.randperm(total, generator=order)[:need].to(kv.device)
    full = n // page_tokens
    if full:
        pool[pages[:full]] = kv[:full * page_tokens].view(full, page_tokens, width)
    if n % page_tokens:
        pool[pages[full], : n % page_tokens] = kv[full * page_tokens:]
    return pool, pages


def two_pools(size, device: str, dtype: str, seed: int) -> dict:
    """A random request KV of ``size`` (n_tokens, width) paged twice: into 16-token and 128-token pools."""
    n_tokens, width = size
    g = torch.Generator(device=device).manual_seed(seed)
    kv = torch.randn(n_tokens, width, generator=g, device=device, dtype=getattr(torch, dtype))
    pool16, pages16 = paged_pool(kv, SMALL_PAGE, g)
    pool128, pages128 = paged_pool(kv, LARGE_PAGE, g)
    return {"pool16": pool16, "pages16": pages16, "pool128": pool128, "pages128": pages128}


def copy_pages(pool: torch.Tensor, pages: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Gather with one copy per page: ``out[i*P : i*P+P] = pool[pages[i]]`` (the last page partial).

    Every copy is a separate call with its own fixed cost (Python, the dispatcher, the driver, the DMA
    setup), however few bytes it moves. ``out`` may live on another device (pinned host memory):
    the copies are then asynchronous DMAs, and the caller must synchronize before reading ``out``.
    """
    page = pool.shape[1]
    n = out.shape[0]
    for i, slot in enumerate(pages.tolist()):          # the page table lives on the host in real engines too
        first = i * page
        count = min(page, n - first)
        out[first:first + count].copy_(pool[slot, :count], non_blocking=True)
    return out


def gather_pages(pool: torch.Tensor, pages: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Gather with one ``index_select`` for all full pages straight into ``out``, plus one for the partial tail.

    ``out`` must be on the pool's device (a device-side gather). The tail is gathered from the view
    ``pool[:, :rest]`` with the last page id still on the device: reading ``pages[full]`` as a Python
    number would make the host wait for the GPU.
    """
    page, width = pool.shape[1], pool.shape[2]
    n = out.shape[0]
    full, rest = divmod(n, page)
    if full:
        torch.index_select(pool, 0, pages[:full], out=out[:full * page].view(full, page, width))
    if rest:
        torch.index_select(pool[:, :rest], 0, pages[full:], out=out[full * page:].view(1, rest, width))
    return out


def wait_for(out: torch.Tensor, pool: torch.Tensor) -> torch.Tensor:
    """Block until the copies queued on the current stream have landed (they are asynchronous into pinned memory)."""
    if pool.is_cuda:
        torch.cuda.current_stream(pool.device).synchronize()
    return out


def host_buffer(shape: tuple, dtype: torch.dtype) -> torch.Tensor:
    """A host buffer for device-to-host copies: pinned where a GPU exists (so the copy is one async DMA)."""
    buf = torch.empty(shape, dtype=dtype)
    return buf.pin_memory() if torch.cuda.is_available() else buf
