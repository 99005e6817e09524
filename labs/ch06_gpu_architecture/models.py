"""Back-of-envelope models for chapter 6: grid size, warp waste, unified-memory page faults, roofline placement.

    >>> grid_blocks(1_000_000, 256)          # the book's example (L2695–L2697)
    3907
    >>> warp_lanes(33)                       # 33 threads occupy 2 warps: 33 of 64 lanes busy
    WarpLanes(warps=2, busy=33, lanes=64)
"""
from __future__ import annotations

from dataclasses import dataclass

from perflab import calc
from perflab.validate import calculator_inputs


def grid_blocks(n: int, threads_per_block: int) -> int:
    """Blocks needed so that every one of n elements gets a thread: ceil(n / threads)."""
    if n < 0 or threads_per_block < 1:
        raise ValueError(f"need n ≥ 0 and threads ≥ 1, got {n}, {threads_per_block}")
    return -(-n // threads_per_block)


@dataclass(frozen=True)
class WarpLanes:
    """The warps a block occupies, the lanes its threads keep busy, and all the lanes of those warps."""
    warps: int
    busy: int
    lanes: int


def warp_lanes(threads_per_block: int, warp_size: int = 32) -> WarpLanes:
    """A block always occupies whole warps."""
    warps = -(-threads_per_block // warp_size)
    return WarpLanes(warps, threads_per_block, warps * warp_size)


@calculator_inputs(positive="n threads")
def explain_launch(n: int = 1_000_000, threads: int = 256) -> str:
    """One line: the grid for n elements and how many lanes of the last warps idle.

    >>> explain_launch(1_000_000, 256)
    'n = 1,000,000 at 256 threads/block → 3,907 blocks (8 warps each); the last block has 192 idle threads; every warp is full'
    """
    blocks = grid_blocks(n, threads)
    w = warp_lanes(threads)
    warps, busy, lanes = w.warps, w.busy, w.lanes
    tail = blocks * threads - n
    waste = ("every warp is full" if busy == lanes else
             f"each block leaves {lanes - busy} of {lanes} lanes empty ({busy / lanes:.0%} busy)")
    return (f"n = {n:,} at {threads} threads/block → {blocks:,} blocks ({warps} warps each); "
            f"the last block has {tail} idle threads; {waste}")


# ---- unified memory: faults vs prefetch -----------------------------------------------------------

def migration_ms(size_mb: float, link_gbps: float, chunk_kb: float = 512, fault_us: float = 40) -> tuple[float, float]:
    """(on-demand ms, prefetched ms) to move size_mb of managed pages to the GPU.

    A simple model with knobs to fit to your measurement, not a law: on demand, the GPU faults,
    the driver handles a batch of faults (``fault_us`` each time, the GPU's warps stalled) and moves
    about ``chunk_kb`` per batch, one batch after another. A prefetch is one bulk copy at link speed.

    >>> [round(t, 2) for t in migration_ms(64, 50, chunk_kb=512, fault_us=40)]
    [6.46, 1.34]
    """
    if size_mb < 0 or link_gbps <= 0 or chunk_kb <= 0 or fault_us < 0:
        raise ValueError(f"need size ≥ 0, link > 0, chunk > 0, fault ≥ 0; got {size_mb}, {link_gbps}, "
                         f"{chunk_kb}, {fault_us}")
    nbytes = size_mb * 2**20
    copy_ms = nbytes / (link_gbps * 1e9) * 1e3
    batches = -(-nbytes // (chunk_kb * 2**10))
    return batches * fault_us / 1e3 + copy_ms, copy_ms


@calculator_inputs(positive="size_mb link_gbps chunk_kb")
def explain_migration(size_mb: float = 64, link_gbps: float = 50, chunk_kb: float = 512, fault_us: float = 40) -> str:
    """One line for the page-fault calculator."""
    fault, pre = migration_ms(size_mb, link_gbps, chunk_kb, fault_us)
    batches = -(-size_mb * 2**20 // (chunk_kb * 2**10))
    return (f"{size_mb:,.0f} MB over {link_gbps:,.0f} GB/s: prefetched ≈ {pre:,.2f} ms; on demand "
            f"{batches:,.0f} fault batches × {fault_us:,.0f} µs + the copy ≈ {fault:,.2f} ms "
            f"({fault / pre:,.1f}× the prefetch)")


# ---- roofline placement ---------------------------------------------------------------------------

# kernel -> (FLOPs per element or per problem, bytes per element or per problem), at float32 unless named
KERNELS = {
    "vector add fp32 (1 FLOP / 12 B)": (1, 12),
    "saxpy fp32 (2 FLOP / 12 B)": (2, 12),
    "saxpy fp16 (2 FLOP / 6 B)": (2, 6),
    "heavy FMA kernel (6,144 FLOP / 8 B)": (6144, 8),
    "GEMM 4096³ fp32 (each matrix once)": (2 * 4096**3, 3 * 4096**2 * 4),
    "GEMM 4096³ bf16 (each matrix once)": (2 * 4096**3, 3 * 4096**2 * 2),
}
BOOK_DEVICE = ("book: Blackwell, 80 TFLOP/s FP32, 8 TB/s (L2929)", 80.0, 8000.0)


def devices(ceilings=None, reference=None) -> dict:
    """name -> (peak TFLOP/s, bandwidth GB/s): the book's figure plus measured ones where given."""
    out = {BOOK_DEVICE[0]: BOOK_DEVICE[1:]}
    for c, label in ((ceilings, "yours"), (reference, "H200 reference")):
        if c is not None and c.matmul_tflops.get("float32"):
            out[f"{label}: {c.device}, measured fp32 matmul + copy"] = (c.matmul_tflops["float32"], c.copy_gbps)
    return out


def placement(kernel: str, device: str, table: dict) -> str:
    """Where one kernel sits on one device's roofline (fp32 peak; bf16 GEMMs would use a higher roof)."""
    f, b = KERNELS[kernel]
    peak, bw = table[device]
    return f"{kernel} on {device}: " + calc.explain_roofline(f / b, peak, bw)
