"""Chapter 7's book check: the book's before/after ratios (Tables 7-1, 7-2, 7-4, bank conflicts) vs ours."""
from __future__ import annotations

from perflab import book
from perflab.book import Ratio
from perflab.table import Table

RATIOS = [Ratio(*claim) for claim in [
    ("Table 7-1 · coalesced vs stride-2 copy (L3087–L3093)", 3.7, "ch07.copy_ladder", "strided_2", "coalesced",
     "stride 2 doubles the sectors fetched and also stops 16-byte vector loads (more instructions per byte); "
     "on the H200 that lands near the book's ratio"),
    ("Table 7-1 · worst case: lanes 128 B apart", None, "ch07.copy_ladder", "strided_32", "coalesced",
     "not in the book: one 32-B sector per lane moves 8× the bytes, so the gap is far larger"),
    ("Table 7-2 · float4 vs scalar loads (L3205–L3210)", 3.5, "ch07.copy_ladder", "cuda_scalar", "cuda_float4",
     "the book's scalar 'before' was uncoalesced (31.8 sectors/request); a coalesced scalar copy is already "
     "near the bandwidth, so float4 only saves instructions"),
    ("Table 7-4 · 32×32 shared tiles vs naive matmul (L3289–L3297)", 11.0, "ch07.matmul_ladder",
     "cuda_naive_coalesced", "cuda_tiled_32",
     "L1/L2 caches already serve much of the naive kernel's reuse on Hopper; vs the uncoalesced naive kernel "
     "the gap is larger"),
    ("bank conflicts: padded [32][33] tile vs [32][32] (L3320)", None, "ch07.transpose", "cuda_smem_32",
     "cuda_smem_32_padded", "the book gives counter changes (52% → 100% shared throughput), not a time ratio"),
]]


def table(*runs) -> Table:
    """The claims with the ratio from this session's runs (LabRun objects) and from the H200 reference."""
    return book.table(RATIOS, "Book check · Chapter 7 speedups", f"yours ({book.device_of(*runs)})", runs=runs, notes=[
        "'—' under yours: the variants did not both run and time on this tier (CUDA C needs a GPU)",
        "the book's absolute times do not fit its sizes (a 4 MB copy cannot take 1.3 ms on 8 TB/s HBM); compare "
        "ratios and % of the measured ceiling instead"])
