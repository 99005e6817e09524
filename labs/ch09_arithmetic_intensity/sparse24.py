"""2:4 sparsity measured: Y = X · Wᵀ with a 2:4-pruned weight, dense (cuBLAS) vs the sparse tensor cores
(torch.sparse.to_sparse_semi_structured on cuSPARSELt), checked against the dense product of the same pruned
weight. torch's other backend, CUTLASS (:func:`to_sparse` with 'cutlass'), runs on sm_8x GPUs only (an H100
refuses it: "Supported only on GPUs with compute capability 8.x"), so it is a helper, not a lab variant."""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch
import torch.nn.functional as F

from labs.ch09_arithmetic_intensity.precision_ladder import _cached
from labs.ch09_arithmetic_intensity.sparsity import compress_24, decompress_24, prune_24
from labs.matmul_shape import bytes, flops  # noqa: F401  (the lab's byte and FLOP counts)
from perflab.book import Ratio

TITLE = "Y = X·Wᵀ with a 2:4-pruned W (M tokens × K → N): dense matmul vs sparse tensor cores (cuSPARSELt)"
# (M, N, K) = (tokens, out features, in features). The weight's N and K are multiples of 64, which both
# sparse backends require; M = 8 mod 16 (aligned to nothing a tile uses, but a multiple of the 8 rows the
# sparse kernels want, so no padded copy of X is timed). Large batch first: the book says 2:4 pays off there.
SIZES = {"gpu": [(8_200, 8_192, 8_192), (2_056, 8_192, 8_192), (72, 8_192, 8_192), (8_200, 4_096, 16_384)],
         "cpu": [(40, 64, 128), (24, 192, 68)]}
DTYPES = ["float16", "bfloat16"]

BOOK = Ratio("L4028 · 2:4 sparse GEMM approaches 2× dense (large batch)", 2.0, "ch09.sparse24", "dense",
             "sparse_cusparselt",
             "2× is the math the sparse tensor cores skip; the weights still cost 0.5625× (values + 2-bit "
             "positions), the activations and output do not shrink, and cuSPARSELt's kernels reach a smaller "
             "share of their peak than cuBLAS does of its own")


def make_inputs(size, device="cpu", dtype="float16", seed: int = 0) -> dict:
    """X (M × K) and a weight W (N × K) pruned to 2:4 along K (two nonzeros in every four)."""
    m, n, k = size
    if k % 4:
        raise ValueError(f"2:4 sparsity groups K in fours; got K = {k}. Use a multiple of 4 (the GPU "
                         f"backends want a multiple of 64).")
    g = torch.Generator(device=device).manual_seed(seed)
    t = getattr(torch, dtype)
    x = torch.randn(m, k, generator=g, device=device).to(t)
    w = prune_24(torch.randn(n, k, generator=g, device=device)).to(t)
    return {"x": x, "w": w}


def reference(x, w) -> torch.Tensor:
    """The dense product of the pruned weight, in float64: what every variant must reproduce."""
    return x.double() @ w.double().T


# bytes and flops are the dense matmul's (labs.matmul_shape): the dense minimum traffic, and 2·M·N·K, so a
# sparse variant's TFLOP/s is effective (it does half the products).

# ---- the weight in each format, made once per weight tensor ---------------------------------------------
# A model converts its weights once at load time, so the conversion is not part of the timed matmul: the
# first call makes the compressed copy (it shows in first_call_s) and later calls reuse it (precision_ladder's
# per-tensor copy cache).


def cusparselt_available() -> bool:
    """Whether this torch build carries cuSPARSELt (the faster 2:4 backend)."""
    try:
        return bool(torch.backends.cusparselt.is_available())
    except AttributeError:
        return False


def to_sparse(w: torch.Tensor, backend: str):
    """W as a semi-structured sparse tensor on ``backend`` ('cusparselt' or 'cutlass')."""
    from torch.sparse import SparseSemiStructuredTensorCUSPARSELT, SparseSemiStructuredTensorCUTLASS
    if backend == "cusparselt":
        if not cusparselt_available():
            raise RuntimeError("this torch build has no cuSPARSELt (torch.backends.cusparselt.is_available() is "
                               "False); on an sm_8x GPU to_sparse(w, 'cutlass') runs the same math on CUTLASS")
        return SparseSemiStructuredTensorCUSPARSELT.from_dense(w)
    if backend == "cutlass":
        return SparseSemiStructuredTensorCUTLASS.from_dense(w)
    raise ValueError(f"backend {backend!r} is not 'cusparselt' or 'cutlass'")


@pl.variant(backend="torch", note="F.linear with the pruned weight stored dense: cuBLAS multiplies the zeros too")
def dense(x, w):
    return F.linear(x, w)


@pl.variant(backend="torch", needs="sm_80",
            note="to_sparse_semi_structured on cuSPARSELt: half the values + 2-bit positions, sparse tensor cores")
def sparse_cusparselt(x, w):
    return F.linear(x, _cached(w, "cusparselt", lambda t: to_sparse(t, "cusparselt")))


@pl.variant(backend="torch",
            note="emulation on any device: compress to (values, 2-bit positions), expand back, dense matmul — "
                 "checks the format, not a fast path")
def emulated(x, w):
    values, positions = _cached(w, "compressed", compress_24)
    return F.linear(x, decompress_24(values, positions))


variants = [dense, sparse_cusparselt, emulated]


def verdict(records) -> str:
    """The book's 2× against the measured dense / cuSPARSELt ratio in ``records`` (one line)."""
    ours = BOOK.ours(records)
    got = f"{ours:.2f}×" if ours else "not measured here (needs sm_80+ and cuSPARSELt)"
    return f"{BOOK.claim}: book {BOOK.book:g}×, ours {got} → {BOOK.verdict(ours)}"


def pruning_error(size, dtype="float16", seed: int = 0) -> float:
    """‖X·W_prunedᵀ − X·Wᵀ‖ / ‖X·Wᵀ‖ for a random W: what pruning costs before any fine-tuning (CPU, float64)."""
    m, n, k = size
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(min(m, 256), k, generator=g, dtype=torch.float64)
    w = torch.randn(n, k, generator=g, dtype=torch.float64).to(getattr(torch, dtype)).double()
    full = x @ w.T
    return float((x @ prune_24(w).T - full).norm() / full.norm())


def sweep(sizes=None, dtype: str = "float16"):
    """Run the lab at each size: (a table of dense vs sparse per shape, with each variant's error against the
    float64 dense product of the same pruned weight and the error pruning itself causes; the LabRuns)."""
    from perflab.table import Table
    env = pl.env()
    sizes = sizes or pl.load("ch09.sparse24").SIZES[env.tier]
    rows, runs = [], []
    for size in sizes:
        run = pl.run("ch09.sparse24", size=size, dtype=dtype)
        runs.append(run)
        t = {r.name: r for r in run.rows}
        base = t["dense"].measurement

        def cell(name):
            r = t[name]
            if r.measurement is None or base is None:
                return r.why.split(" (")[0] if r.status == "skipped" else r.status
            return f"{base.median / r.measurement.median:.2f}×"

        errs = [f"{r.name} {r.check.rel_error:.1e}" for r in run.rows
                if r.check is not None and r.check.rel_error is not None]
        rows.append([f"{size[0]:,} × {size[2]:,} → {size[1]:,}", cell("sparse_cusparselt"),
                     "; ".join(errs) or "—", f"{pruning_error(size, dtype):.0%}"])
    return Table(["X (M × K) → N", "cuSPARSELt vs dense", "relative error vs float64 (pruned W)",
                  "pruning error (random W)"], rows,
                 title=f"2:4 sparse vs dense matmul · {dtype} · {env.device}",
                 notes=[verdict([rec for run in runs for rec in run.records]),
                        "speedup = dense median / sparse median at the same shape; ratios of runs on this device",
                        "pruning error: output change from dropping half the weights of a random matrix, no "
                        "fine-tuning (real models are pruned, then fine-tuned)"]), runs


# ---- claims (perflab.claims): what the lab's lesson says its runs show --------------------------------------
from perflab.claims import Faster  # noqa: E402

CLAIMS = [
    Faster("ch09.sparse24", "sparse_cusparselt", than="dense", by=1.2, tier="sm_90", dtype="float16",
           size=(8_200, 8_192, 8_192),
           text="at 8,200 tokens × 8,192 × 8,192 in fp16, cuSPARSELt's 2:4 matmul beats dense cuBLAS by ≥ 1.2× "
                "(1.36× on an H200), short of the book's 2×"),
]
