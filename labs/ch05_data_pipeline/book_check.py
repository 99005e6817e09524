"""Chapter 5's book check: the book's numbers (bandwidth, stall speedup, GDS, 3FS) against arithmetic and our runs."""
from __future__ import annotations

from perflab import book, results
from perflab.table import Table
from labs.ch05_data_pipeline import calculators as calc
from labs.ch05_data_pipeline.loader import Stall


def claims(measured_stall: Stall | None = None) -> list:
    """(claim, book, ours, lab ratio for the H200 column or None, why). measured_stall: the loader.Stall
    of this notebook's DataLoader sweep (``sweep.stall``), if it ran."""
    nic = calc.nic_limit_tbps(68, 2, 100)
    rows = [
        ("L2267 · GPU waits 30% → 5% of the time: throughput gain", "6×",
         f"{calc.stall_speedup(0.30, 0.05):.2f}×", None,
         "(1 − 0.05)/(1 − 0.30): the busy fraction goes 70% → 95%; the translator's note says the same. "
         "A 6× gain would need the GPU to wait ~83% of the time before"),
        ("L2012 · 8 GPUs × 200 MB/s each", "1.6 GB/s", f"{calc.read_bandwidth_gbps(8, 200):.1f} GB/s", None,
         "agrees"),
        ("L2014 · 72 GPUs × 200 MB/s each", "14–20 GB/s", f"{calc.read_bandwidth_gbps(72, 200):.1f} GB/s", None,
         "200 MB/s gives the low end; 20 GB/s means ~280 MB/s per GPU"),
        ("L2219–L2223 · Lustre file striped over 4 OSTs × 500 MB/s", "2 GB/s",
         f"{calc.striped_gbps(4, 0.5):.1f} GB/s", None, "agrees (a peak: one client's NIC can cap it)"),
        ("L2382 · 8 GPUs give 5×: scaling efficiency", "62.5%", f"{calc.scaling_efficiency(5, 8):.1%}", None,
         "agrees"),
        ("L2139–L2165 · GDS: 8.0 → 9.6 GB/s, 1.25 → 1.00 ms", "≈20%",
         f"{9.6 / 8.0 - 1:.0%} more GB/s, {1 - 1.00 / 1.25:.0%} less latency", None,
         "both are 'about 20%'; in speedup terms the latency gain is 1.25×"),
        ("L2189 · 3FS 6.6 TB/s on 68 nodes with 2 × 100 Gb/s NICs each", "6.6 TB/s",
         f"NICs carry ≤ {nic:.2f} TB/s", None,
         "68 × 2 × 100 Gb/s ÷ 8 = 1.7 TB/s, so 6.6 TB/s cannot have crossed those NICs. DeepSeek's 3FS README "
         "reports 6.6 TiB/s on 180 storage nodes with 2 × 200 Gb/s each (7.2 TB/s of NICs) [ext]"),
        ("L2287–L2293 · vectorize transforms, batch them in collate_fn", "no number", "see the lab", 
         ("ch05.transforms", "python_loop", "torch_batched"),
         "the gap depends on the per-sample overhead: a few µs per op on a CPU, a kernel launch per op on a GPU"),
    ]
    if measured_stall:
        before, after, speedup = measured_stall.busy_before, measured_stall.busy_after, measured_stall.speedup
        rows.insert(1, ("L2267's formula on this machine · DataLoader sweep, first row → fastest row",
                        f"(1 − wait after)/(1 − wait before) = {calc.stall_speedup(1 - before, 1 - after):.2f}×",
                        f"busy {before:.0%} → {after:.0%}, measured {speedup:.2f}×", "—",
                        "the step did not change, so the throughput ratio is the ratio of busy fractions"))
    return rows


def table(*runs, measured_stall: Stall | None = None) -> Table:
    """The claims, with our arithmetic or measurement, and the H200 reference ratio where a lab measures it."""
    device, rows = book.device_of(*runs), []
    for claim, said, ours, lab, why in claims(measured_stall):
        if isinstance(lab, tuple):
            mine = book.ratio(book.records_of(*runs), *lab)
            ours, lab = f"{mine:.2f}× on {device}" if mine else "—", book.times(book.ratio(results.reference(), *lab))
        rows.append([claim, said, ours, lab or "same arithmetic", why])
    return book.table(rows, "Book check · Chapter 5 numbers", "ours",
                      notes=["most of this chapter's numbers are arithmetic on bandwidths: 'ours' recomputes them",
                             "[ext] = outside knowledge, not from the book"])
