"""Chapter 4's back-of-envelope models: the α–β cost of an all-reduce (ring vs tree), bus bandwidth,
the overlap model of a DDP step, and gradient accumulation.

The α–β model: sending a message of S bytes costs α (a fixed latency per step) + S/β (β = link
bandwidth). The formulas below are the standard ones for these algorithms; the book states only the
shape (ring: latency linear in N, tree: logarithmic, L1892–L1893).
"""
from __future__ import annotations

import math
from perflab.validate import calculator_inputs


def ring_allreduce_s(n: int, nbytes: float, alpha_s: float, beta_bps: float) -> float:
    """Ring: reduce-scatter then all-gather, 2(N−1) steps, each moving S/N bytes per rank."""
    if n < 2:
        return 0.0
    return 2 * (n - 1) * alpha_s + 2 * (n - 1) / n * nbytes / beta_bps


def tree_allreduce_s(n: int, nbytes: float, alpha_s: float, beta_bps: float) -> float:
    """Binary tree, pipelined: reduce up and broadcast down, 2·⌈log2 N⌉ latency steps; every byte
    crosses a rank's link about twice (in and out), so the bandwidth term is ~2·S/β."""
    if n < 2:
        return 0.0
    return 2 * math.ceil(math.log2(n)) * alpha_s + 2 * nbytes / beta_bps


def busbw(algbw: float, n: int) -> float:
    """Bus bandwidth of an all-reduce: algorithm bandwidth (S / time) × 2(N−1)/N, the bytes each rank's
    link really carries per byte reduced. It is what to compare with the link's speed."""
    return algbw * 2 * (n - 1) / n


def ring_bytes_per_rank(n: int, nbytes: float) -> float:
    """Bytes each rank sends in a ring all-reduce: 2(N−1)/N · S."""
    return 2 * (n - 1) / n * nbytes


def crossover_bytes(n: int, alpha_s: float, beta_bps: float) -> float:
    """Message size above which the ring beats the tree (equal times), in bytes."""
    da = (2 * math.ceil(math.log2(n)) - 2 * (n - 1)) * alpha_s      # tree saves latency (negative)
    db = (2 * (n - 1) / n - 2) / beta_bps                             # ring saves bandwidth (negative)
    return da / db if db else float("inf")


@calculator_inputs(positive="ranks size_mb link_gbps")
def explain_allreduce(ranks=8, size_mb=64.0, alpha_us=5.0, link_gbps=50.0) -> str:
    """One line per algorithm for the calculator."""
    if ranks < 2:
        raise ValueError(f"explain_allreduce: ranks must be >= 2 (one rank has nothing to reduce), got {ranks}")
    s, a, b = size_mb * 1e6, alpha_us * 1e-6, link_gbps * 1e9
    ring, tree = ring_allreduce_s(ranks, s, a, b), tree_allreduce_s(ranks, s, a, b)
    x = crossover_bytes(ranks, a, b)
    best = "ring" if ring < tree else "tree"
    return (f"{ranks} ranks, {size_mb:g} MB, α={alpha_us:g} µs, β={link_gbps:g} GB/s: "
            f"ring {ring * 1e3:.3f} ms (busbw {busbw(s / ring, ranks) / 1e9:.1f} GB/s), "
            f"tree {tree * 1e3:.3f} ms → {best} wins; the ring wins above ≈{x / 1e6:.3g} MB")


def regime_rows(ranks=8, alpha_us=5.0, link_gbps=50.0, sizes=(8e3, 256e3, 4e6, 64e6, 1e9)):
    """(size, ring ms, tree ms, latency share of the ring) for a table."""
    a, b = alpha_us * 1e-6, link_gbps * 1e9
    rows = []
    for s in sizes:
        ring, tree = ring_allreduce_s(ranks, s, a, b), tree_allreduce_s(ranks, s, a, b)
        rows.append([f"{s / 1e6:g} MB", f"{ring * 1e3:.3f}", f"{tree * 1e3:.3f}",
                     f"{2 * (ranks - 1) * a / ring:.0%}", "ring" if ring < tree else "tree"])
    return rows


def overlap_step_s(fwd_s: float, bwd_s: float, comm_s: float, tail_s: float, overlap: bool) -> float:
    """A data-parallel step: without overlap fwd + bwd + comm; with overlap (DDP buckets) the
    communication hides under backward except the last bucket, the tail (L1754, L1767)."""
    if not overlap:
        return fwd_s + bwd_s + comm_s
    return fwd_s + max(bwd_s, comm_s - tail_s) + tail_s


@calculator_inputs(positive="fwd_ms bwd_ms")
def explain_overlap(fwd_ms=10.0, bwd_ms=20.0, comm_ms=12.0, tail_ms=2.0) -> str:
    before = overlap_step_s(fwd_ms, bwd_ms, comm_ms, 0, overlap=False)
    after = overlap_step_s(fwd_ms, bwd_ms, comm_ms, min(tail_ms, comm_ms), overlap=True)
    return (f"no overlap {before:.1f} ms · overlapped {after:.1f} ms → {1 - after / before:.0%} faster "
            f"(communication exposed: {after - fwd_ms - bwd_ms:.1f} ms of {comm_ms:.1f})")
