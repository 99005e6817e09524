"""Skewed work: a static split of tiles over persistent programs vs a dynamic queue on one atomic counter."""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch
import triton

from labs.ch12_graphs_scheduling import _cuda, _triton
from labs.ch12_graphs_scheduling._triton import BLOCK, WARPS, persistent_programs

TITLE = "Skewed work: the first 1/8 of the items cost 8x; static split vs dynamic atomic queue (float32)"
# (items, light cost in units, multiply-adds per unit); heavy items cost 8x. The Triton interpreter runs
# every multiply-add as a NumPy call, so the cpu sizes are tiny.
SIZES = {"gpu": [(2_097_169, 257, 32), (524_309, 257, 32), (8_388_617, 65, 32)],
         "cpu": [(5_003, 3, 1), (2_053, 2, 1), (9_001, 3, 1)]}
DTYPES = ["float32"]
OPTIONS = pl.LabOptions(target=0.3)    # of the measured fp32 matmul ceiling: the dynamic queue passes, the static split does not
HEAVY_FACTOR = 8
HEAVY_FRACTION = 1 / 8
CHUNK = 1                  # tiles per atomic in the dynamic queue: one grab = BLOCK = 1,024 items
CUDA_THREADS = 512         # one persistent block of 16 warps per SM, like the Triton programs
CUDA_BATCH = 4             # 32-item batches per atomic in the CUDA queue: 128 items per grab


def make_inputs(size, device="cpu", dtype="float32", seed: int = 0) -> dict:
    """x: random multiples of 1/1024 in (-8, 8); cost: int32 units, the first n/8 items heavy.

    Light items cost ``light`` units plus up to light/8 of jitter; heavy ones 8·light plus up to
    light; a unit is ``unit`` dependent multiply-adds. a = 1 and b is a random multiple of 1/1024 in
    [1/128, 1/16], so every partial sum is exact in float32 and each variant must match the
    reference exactly.
    """
    n, light, unit = size
    if light < 1 or unit < 1 or light * unit > 9000:
        raise ValueError(f"need light >= 1, unit >= 1 and light * unit <= 9000 (heavier items would leave "
                         f"float32's exact range), got light {light}, unit {unit}")
    g = torch.Generator(device=device).manual_seed(seed)
    x = torch.round(torch.randn(n, generator=g, device=device) * 1024).clamp(-8191, 8191) / 1024
    heavy = int(n * HEAVY_FRACTION)
    cost = torch.randint(0, light // 8 + 1, (n,), generator=g, device=device, dtype=torch.int32) + light
    cost[:heavy] = HEAVY_FACTOR * light + torch.randint(0, light, (heavy,), generator=g, device=device,
                                                        dtype=torch.int32)
    b = torch.randint(8, 65, (1,), generator=g, device=device).item() / 1024
    return {"x": x.to(getattr(torch, dtype)), "cost": cost, "a": 1.0, "b": b, "unit": unit}


def reference(x, cost, a, b, unit) -> torch.Tensor:
    if a != 1.0:
        raise ValueError(f"the reference assumes a = 1 (exact arithmetic), got a = {a}")
    return x.double() + cost.double() * (unit * b)


def bytes(size, dtype="float32") -> int:
    n = size[0]
    return 12 * n                                   # read x and cost, write y


def flops(size, dtype="float32") -> int:
    """2 FLOPs per multiply-add times the expected total cost (jitter at its mean)."""
    n, light, unit = size
    heavy = int(n * HEAVY_FRACTION)
    units = heavy * (HEAVY_FACTOR * light + (light - 1) / 2) + (n - heavy) * (light + (light // 8) / 2)
    return int(2 * unit * units)


def _launch_static(x, cost, a, b, unit, y):
    n = x.numel()
    programs = persistent_programs(x.device)
    per = triton.cdiv(triton.cdiv(n, BLOCK), programs)
    _triton.static_kernel[(programs,)](x, cost, y, n, a, b, per, BLOCK=BLOCK, UNIT=unit, num_warps=WARPS)


@pl.variant(backend="triton", note="one persistent program per SM walks a fixed contiguous range of 1,024-item "
                                   "tiles: the ranges holding heavy items finish last")
def static_split(x, cost, a, b, unit):
    y = torch.empty_like(x)
    _launch_static(x, cost, a, b, unit, y)
    return y


def dynamic(x, cost, a, b, unit, chunk: int = CHUNK) -> torch.Tensor:
    """The dynamic queue with ``chunk`` tiles (chunk × 1,024 items) per atomic grab."""
    y = torch.empty_like(x)
    counter = torch.zeros(1, dtype=torch.int32, device=x.device)
    _triton.dynamic_kernel[(persistent_programs(x.device),)](x, cost, y, counter, x.numel(), a, b, CHUNK=chunk,
                                                            BLOCK=BLOCK, UNIT=unit, num_warps=WARPS)
    return y


@pl.variant(backend="triton", note="the same programs take the next 1,024-item tile from one atomic counter "
                                   "until it runs out")
def dynamic_queue(x, cost, a, b, unit):
    return dynamic(x, cost, a, b, unit)


@pl.variant(backend="triton", note="one program per tile: the GPU's block scheduler is itself a dynamic queue")
def hardware_grid(x, cost, a, b, unit):
    y = torch.empty_like(x)
    n = x.numel()
    _triton.grid_kernel[(triton.cdiv(n, BLOCK),)](x, cost, y, n, a, b, BLOCK=BLOCK, UNIT=unit, num_warps=WARPS)
    return y


def lane_queue(x, cost, a, b, unit, items: int = 1) -> torch.Tensor:
    """Every lane takes its own next ``items`` items per atomic: the unbatched queue."""
    y = torch.empty_like(x)
    counter = torch.zeros(1, dtype=torch.int32, device=x.device)
    _triton.lane_queue_kernel[(persistent_programs(x.device),)](x, cost, y, counter, x.numel(), a, b, ITEMS=items,
                                                               BLOCK=BLOCK, UNIT=unit, num_warps=WARPS)
    return y


def _cuda_blocks(device) -> int:
    return torch.cuda.get_device_properties(device).multi_processor_count     # one 16-warp block per SM


@pl.variant(backend="cupy", needs="cuda", note="CUDA C, persistent: warp w owns a fixed range of 32-item batches")
def cuda_static_warps(x, cost, a, b, unit):
    y = torch.empty_like(x)
    _cuda.launch(_cuda.kernel("skew_static_warps"), (_cuda_blocks(x.device),), (CUDA_THREADS,),
                 (x, cost, y, x.numel(), float(a), float(b), unit))
    return y


@pl.variant(backend="cupy", needs="cuda", note="CUDA C, the book's warp queue: lane 0 grabs 4 batches of 32 "
                                               "items (128) per atomicAdd and __shfl_sync broadcasts the start")
def cuda_dynamic_warps(x, cost, a, b, unit):
    y = torch.empty_like(x)
    head = torch.zeros(1, dtype=torch.int64, device=x.device)
    _cuda.launch(_cuda.kernel("skew_dynamic_warps"), (_cuda_blocks(x.device),), (CUDA_THREADS,),
                 (x, cost, y, x.numel(), float(a), float(b), unit, head, CUDA_BATCH))
    return y


variants = [static_split, dynamic_queue, hardware_grid, cuda_static_warps, cuda_dynamic_warps]
