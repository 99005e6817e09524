"""Warp divergence: a data-dependent branch, with lanes that disagree, sorted so warps agree, or predicated."""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch
import triton

from labs.ch08_occupancy_ilp import _cuda, _triton, fma_ilp

TITLE = "y = x + chain*b where flag else x - chain*c, flags random per element: divergent vs sorted vs predicated"
# (elements, FMAs per path); the chain length is a multiple of 8
SIZES = {"gpu": [(4_194_319, 8000), (1_048_583, 8000), (4_194_319, 2048)],
         "cpu": [(3_001, 32), (1_009, 32), (6_007, 32)]}
DTYPES = ["float32"]

THREADS = 256
TILE = 1024            # Triton: elements per program (4 warps, 8 per thread)


def make_inputs(size, device="cpu", dtype="float32", seed: int = 0) -> dict:
    """x, a = 1, b and c as in ``fma_ilp`` (exact arithmetic), and flag: a fair coin per element."""
    return fma_ilp.make_inputs(size, device, dtype, seed, flags=True)


def reference(x, flag, a, b, c, chain) -> torch.Tensor:
    if a != 1.0:
        raise ValueError(f"the reference assumes a = 1 (exact arithmetic), got a = {a}")
    xd = x.double()
    return torch.where(flag, xd + chain * b, xd - chain * c)


def bytes(size, dtype="float32") -> int:
    n, _ = size
    return n * (2 * getattr(torch, dtype).itemsize + 1)    # read x and the flag byte, write y


def flops(size, dtype="float32") -> int:
    n, chain = size
    return 2 * n * chain                                   # the useful work: one path per element


def _check(x, flag, chain):
    fma_ilp._check_chain(chain)
    if flag.dtype != torch.bool or flag.shape != x.shape:
        raise ValueError(f"flag must be a bool tensor shaped like x {tuple(x.shape)}, got {flag.dtype} "
                         f"{tuple(flag.shape)}")


def _launch(name: str, x, flag, a, b, c, chain, order=None):
    _check(x, flag, chain)
    y = torch.empty_like(x)
    n = x.numel()
    args = (x, flag, order, y) if order is not None else (x, flag, y)
    _cuda.launch(_cuda.kernel(name), (-(-n // THREADS),), (THREADS,),
                 args + (float(a), float(b), float(c), n, int(chain)))
    return y


@pl.variant(backend="cupy", needs="cuda",
            note="CUDA C, thread i takes element i: random flags split almost every warp, which runs both paths")
def cuda_divergent(x, flag, a, b, c, chain):
    return _launch("branch_by_lane", x, flag, a, b, c, chain)


@pl.variant(backend="cupy", needs="cuda",
            note="CUDA C, the same branch but both chains computed and one selected: no divergence, double work")
def cuda_select(x, flag, a, b, c, chain):
    return _launch("branch_select", x, flag, a, b, c, chain)


@pl.variant(backend="cupy", needs="cuda",
            note="CUDA C, elements grouped by flag first (a stable sort, timed too), so each warp takes one path")
def cuda_sorted(x, flag, a, b, c, chain):
    order = torch.argsort(flag.view(torch.uint8), stable=True)      # unflagged first, then flagged
    return _launch("branch_sorted", x, flag, a, b, c, chain, order=order)


@pl.variant(backend="triton",
            note="Triton, both paths for every element and tl.where: Triton predicates, it cannot branch per lane")
def triton_where(x, flag, a, b, c, chain):
    _check(x, flag, chain)
    y = torch.empty_like(x)
    n = x.numel()
    _triton.launch("divergence.triton_where", _triton.branch_where_kernel, (triton.cdiv(n, TILE),),
                   x, flag, y, float(a), float(b), float(c), n, int(chain), TILE=TILE, num_warps=4)
    return y


variants = [cuda_divergent, cuda_select, cuda_sorted, triton_where]


# ---- the same kernel on three flag layouts (GPU), beside the SIMT model ----------------------------

LAYOUTS = ("lane-random", "warp-uniform", "sorted")


def with_layout(inputs: dict, layout: str, seed: int = 0) -> dict:
    """The same inputs with the flags rearranged: ``lane-random`` (as made), ``warp-uniform`` (one coin
    per aligned run of 32 elements, so each warp of ``cuda_divergent`` agrees) or ``sorted`` (the
    lane-random flags, unflagged first)."""
    flag = inputs["flag"]
    if layout == "lane-random":
        new = flag
    elif layout == "warp-uniform":
        g = torch.Generator(device=flag.device).manual_seed(seed)
        coins = torch.rand(-(-flag.numel() // 32), generator=g, device=flag.device) < 0.5
        new = coins.repeat_interleave(32)[: flag.numel()]
    elif layout == "sorted":
        new = torch.sort(flag.view(torch.uint8)).values.view(torch.bool)
    else:
        raise ValueError(f"layout {layout!r} is not one of {LAYOUTS}")
    return {**inputs, "flag": new}


def layouts(size=None, rep_ms: float = 50):
    """A table: ``cuda_divergent`` timed on each flag layout (checked first), beside the SIMT model's
    efficiency for the same flags. On the cpu tier only the model column is filled."""
    from perflab.check import compare
    from perflab.machine import device, env
    from perflab.table import Table
    from labs.ch08_occupancy_ilp import simt
    e = env()
    size = size or SIZES[e.tier][0]
    base = make_inputs(size, device(), "float32", seed=7)
    rows, first = [], None
    for layout in LAYOUTS:
        inputs = with_layout(base, layout)
        model = simt.run_flags(inputs["flag"], size[1], size[1])
        time = "—"
        if e.has("cuda") and e.has("cupy"):
            check = compare(cuda_divergent(**inputs), reference(**inputs))
            m = pl.bench(lambda: cuda_divergent(**inputs), rep_ms=rep_ms, label=f"divergent/{layout}")
            first = first or m.median
            time = f"{m.median * 1e3:.3f} ms ({first / m.median:.2f}× vs lane-random)" if check else f"❌ {check.reason}"
        rows.append([layout, f"{model.diverged_warps:,} of {model.warps:,}", f"{model.efficiency:.0%}", time])
    notes = [f"size {size}: {size[0]:,} elements, {size[1]} FMAs per path; measured on {e.device}"
             if e.has("cupy") else "time: needs a CUDA GPU with CuPy; the model column is the lesson here"]
    return Table(["flag layout", "warps that run both paths", "SIMT model: lane efficiency", "cuda_divergent time"],
                 rows, title="One divergent kernel, three arrangements of the same kind of data", notes=notes)
