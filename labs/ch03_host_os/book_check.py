"""Chapter 3's book check: pinned vs pageable copies (L1119), pin_memory in a loader (L1129), NUMA (L1033)."""
from __future__ import annotations

from perflab import book
from perflab.table import Table

from labs.ch03_host_os import feeding, host_report, models


def _pinned_ratio(c) -> float | None:
    if c is None or not getattr(c, "h2d_pinned_gbps", None) or not getattr(c, "h2d_pageable_gbps", None):
        return None
    return c.h2d_pinned_gbps / c.h2d_pageable_gbps


def table(sweep=None) -> Table:
    import perflab as pl
    mine, ref = pl.ceilings(), pl.reference_ceilings()
    gain = feeding.pin_gain(sweep) if sweep is not None else None
    rows = [
        ["pinned H2D copies are 2–3× faster than pageable (L1119)", "2–3×", book.times(_pinned_ratio(mine), 1),
         book.times(_pinned_ratio(ref), 1),
         "the ratio depends on the host's memcpy speed into the driver's bounce buffer and on the link: on a "
         "PCIe Gen5 H200 host the pinned copy is near the link rate and the pageable one far below it"],
        ["pin_memory=True speeds up a training loop 10–20% (L1129)", "10–20%",
         "—" if gain is None else f"{gain:.0%}", "not in the reference yet",
         "only the copy gets faster: the gain is copy time / step time, so it is large for big batches and "
         "short steps, and ~0 when the step dominates (as with the small batches here)"],
        ["remote NUMA memory: 139 vs 80 ns (L1033), '~75 % more'", "1.74×", "— (1 node here)" if
         len(host_report.numa_nodes()) < 2 else "— (measure with numactl)",
         "—", f"arithmetic: 139/80 = {models.numa_penalty():.2f}×, i.e. 74 % more latency per miss; measuring it "
         "needs a host with ≥2 NUMA nodes (numactl --membind)"],
    ]
    return book.table(rows, "Book check · Chapter 3", f"yours ({mine.device})",
                      notes=["'—' under yours: the cpu tier has no host-to-device link to measure; the copy rates "
                             "come from pl.ceilings() on a GPU"])
