"""The book's microbenchmark (L4814): work = idx % 256, static threads vs the warp-batched atomic queue."""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch

from labs.ch12_graphs_scheduling import _cuda

TITLE = "The book's queue microbenchmark: item i costs (i % 256) x 64 multiply-adds; static vs warp queue"
# items: the book's N = 2^20, plus 7 so that a wrong index shows; (items, multiply-adds per unit)
SIZES = {"gpu": [(1_048_583, 64), (4_194_311, 16)], "cpu": [(1_031, 2)]}
DTYPES = ["float32"]
PERIOD = 256               # the book's work = idx % 256
THREADS = 256


def make_inputs(size, device="cpu", dtype="float32", seed: int = 0) -> dict:
    """x: random multiples of 1/1024 in (-8, 8); a = 1, b a random multiple of 1/1024 in [1/128, 1/16]."""
    n, unit = size
    if unit < 1 or (PERIOD - 1) * unit > 60000:
        raise ValueError(f"unit must be 1..235 multiply-adds (float32 stays exact), got {unit}")
    g = torch.Generator(device=device).manual_seed(seed)
    x = torch.round(torch.randn(n, generator=g, device=device) * 1024).clamp(-8191, 8191) / 1024
    b = torch.randint(8, 65, (1,), generator=g, device=device).item() / 1024
    return {"x": x.to(getattr(torch, dtype)), "a": 1.0, "b": b, "unit": unit}


def reference(x, a, b, unit) -> torch.Tensor:
    if a != 1.0:
        raise ValueError(f"the reference assumes a = 1 (exact arithmetic), got a = {a}")
    idx = torch.arange(x.numel(), device=x.device, dtype=torch.float64)
    return x.double() + torch.remainder(idx, PERIOD) * (unit * b)


def bytes(size, dtype="float32") -> int:
    return 8 * size[0]                                   # read x, write y


def flops(size, dtype="float32") -> int:
    n, unit = size
    full, rest = divmod(n, PERIOD)
    units = full * PERIOD * (PERIOD - 1) // 2 + rest * (rest - 1) // 2
    return 2 * unit * units


@pl.variant(backend="cupy", needs="cuda", note="one thread per item on an ordinary grid of 256-thread blocks "
                                               "(the book's static kernel)")
def cuda_static(x, a, b, unit):
    y = torch.empty_like(x)
    n = x.numel()
    _cuda.launch(_cuda.kernel("book_static"), (-(-n // THREADS),), (THREADS,), (x, y, n, float(a), float(b), PERIOD, unit))
    return y


@pl.variant(backend="cupy", needs="cuda", note="the book's uneven_dynamic.cu: a persistent grid whose warps take "
                                               "32 items per atomicAdd (leader via __activemask/__ffs, __shfl_sync)")
def cuda_dynamic(x, a, b, unit):
    y = torch.empty_like(x)
    n = x.numel()
    props = torch.cuda.get_device_properties(x.device)
    blocks = props.multi_processor_count * max(1, props.max_threads_per_multi_processor // THREADS)
    head = torch.zeros(1, dtype=torch.int64, device=x.device)
    _cuda.launch(_cuda.kernel("book_dynamic"), (blocks,), (THREADS,), (x, y, n, float(a), float(b), PERIOD, unit, head))
    return y


variants = [cuda_static, cuda_dynamic]
