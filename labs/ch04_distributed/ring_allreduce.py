"""Lab: an all-reduce of N ranks' buffers, simulated on one device, three ways.

Row r of ``x`` (shape N × n) is rank r's gradient buffer; the answer is every row replaced by the sum of
all rows. The schedule is the lesson: how many bytes each "rank" sends and in how many steps.
- ``reduce_broadcast`` (baseline): rank 0 gathers all N buffers, sums, and sends the sum back: rank 0's
  link carries 2(N−1)·S bytes, everyone else's only 2·S — a hot spot that grows with N.
- ``ring``: reduce-scatter then all-gather over N chunks, 2(N−1) steps; every link carries
  2(N−1)/N·S, the same for all ranks (the bandwidth-optimal schedule NCCL's ring uses).
- ``torch_sum``: the library sum, for the correctness and speed reference.
On one device these are memory-bound loops (the time is not a network time); the traffic per rank is
what `models.ring_bytes_per_rank` and the torchrun measurements speak to.
"""
from __future__ import annotations

import torch

import perflab as pl

TITLE = "All-reduce schedules on simulated ranks (rows of one tensor)"
SIZES = {"cpu": [(4, 100_003), (7, 30_011)], "gpu": [(8, 16_000_057), (4, 16_000_057), (16, 4_000_037)]}
DTYPES = ["float32"]


OPTIONS = pl.LabOptions(gate_note=(
    "one GPU plays all eight ranks, so every variant is a reduction over 8 rows of one tensor plus the copy "
    "back: several passes, each far shorter than the 1 GiB copy that sets the ceiling. The ring's 14 "
    "dependent steps each pay a launch; torch.sum, one pass, is the fastest (about half the copy rate on the "
    "H100 reference). The all-reduce's real ceiling is the link between GPUs, which the torchrun cells "
    "measure."))


def make_inputs(size, device, dtype, seed):
    ranks, n = size
    g = torch.Generator(device="cpu").manual_seed(seed)
    x = torch.randn(ranks, n, generator=g, dtype=getattr(torch, dtype))
    return {"x": x.to(device)}


def reference(x):
    return x.double().sum(0, keepdim=True).expand_as(x).to(x.dtype).contiguous()


def bytes(size, dtype):
    ranks, n = size
    return 2 * ranks * n * 4          # read every buffer once, write every result once


def flops(size, dtype):
    ranks, n = size
    return (ranks - 1) * n


@pl.variant(note="rank 0 gathers, sums, broadcasts: 2(N−1)·S through one rank")
def reduce_broadcast(x):
    acc = x[0].clone()
    for r in range(1, x.shape[0]):      # N−1 receives into rank 0
        acc += x[r]
    out = torch.empty_like(x)
    for r in range(x.shape[0]):         # N−1 sends back out (and rank 0's own copy)
        out[r].copy_(acc)
    return out


def chunk_bounds(n: int, ranks: int) -> list[tuple[int, int]]:
    """[lo, hi) of each rank's chunk, as torch.tensor_split cuts n: the first n % ranks chunks one longer."""
    base, extra = divmod(n, ranks)
    starts = [r * base + min(r, extra) for r in range(ranks + 1)]
    return list(zip(starts[:-1], starts[1:]))


def ring_schedule(x: torch.Tensor) -> torch.Tensor:
    """Reduce-scatter then all-gather around the ring 0→1→…→N−1→0, chunk by chunk."""
    ranks = x.shape[0]
    buf = x.clone()
    bounds = chunk_bounds(x.shape[1], ranks)        # plain ints: no index tensor, no host work per element
    for step in range(ranks - 1):                   # reduce-scatter: rank r sends chunk (r − step) to r+1
        for r in range(ranks):
            lo, hi = bounds[(r - step) % ranks]
            buf[(r + 1) % ranks, lo:hi] += buf[r, lo:hi]
    for step in range(ranks - 1):                   # all-gather: rank r owns the sum of chunk (r + 1 − step)
        for r in range(ranks):
            lo, hi = bounds[(r + 1 - step) % ranks]
            buf[(r + 1) % ranks, lo:hi] = buf[r, lo:hi]
    return buf


@pl.variant(note="reduce-scatter + all-gather, 2(N−1) steps of S/N per rank")
def ring(x):
    return ring_schedule(x)


@pl.variant(note="library reduction, then a broadcast copy")
def torch_sum(x):
    return x.sum(0, keepdim=True).expand_as(x).contiguous()


variants = [reduce_broadcast, ring, torch_sum]
