"""Chapter 1's book check: the 100-trillion-parameter arithmetic and the goodput examples, recomputed."""
from __future__ import annotations

from perflab import book, results
from perflab.table import Table

from labs.ch01_goodput import calculators as calc


def table(run=None) -> Table:
    """The book's claims beside our arithmetic and, for the measured row, this run and the H200 reference."""
    n, d = 100e12, 29e12
    c6 = calc.training_flops(n, d)
    w = n * calc.BYTES["bf16"]
    fmt = lambda v: "—" if v is None else f"{v:.0%}"  # noqa: E731
    mine, ref = (book.ratio(records, "ch01.train_loop", "compute_only", "stalled")
                 for records in (book.records_of(run), results.reference("ch01.train_loop")))
    rows = [
        ["L245 · training FLOPs, 100T params × 29T tokens", "1.2e29", f"{c6:.2e} (6·N·D)", "arithmetic",
         f"the usual dense estimate is 6 FLOP per parameter per token; the book's figure implies "
         f"{1.2e29 / (n * d):.0f}, about {1.2e29 / c6:.0f}× more"],
        ["L257 · bf16 weights of 100T params", "182 TB", f"{w / calc.TB:.0f} TB = {w / calc.TIB:.0f} TiB",
         "arithmetic", "2e14 bytes is 200 TB; 182 is the same amount in TiB (2^40 B), labelled TB"],
        ["L257 · B200 GPUs to hold them (180 GB usable)", "~1,000", f"{calc.gpus_to_hold(n, 2, 180):,.0f}",
         "arithmetic", "182e12 / 180e9 ≈ 1,011 (the TiB number read as TB); 200 TB gives 1,111"],
        ["L259 · B300 GPUs (288 GB usable)", "700", f"{calc.gpus_to_hold(n, 2, 288):,.0f}", "arithmetic",
         "with the book's own 182 TB, 182e12 / 288e9 ≈ 632 (~630); with 200 TB ≈ 694 ≈ 700"],
        ["L331 · 100k tokens in 10 s on 8 GPUs, peak 1,500 tok/s each", "83.3%",
         f"{calc.goodput_fraction(100_000, 10, 8, 1500):.1%}", "arithmetic", "agrees"],
        ["L337 · 300 useful samples/s of a possible 1,000", "30%",
         f"{calc.goodput_fraction(300, 1, 1, 1000):.0%}", "arithmetic", "agrees"],
        ["L335 · compute lost even at '100% utilization'", "70–75%", f"{fmt(1 - mine)} lost" if mine else "—",
         f"{fmt(1 - ref)} lost" if ref else "—", "our stalled loop (ch01.train_loop): stall time / wall time. "
         "A busy device can still be doing useless work; only useful-time accounting shows it"],
    ]
    return book.table(rows, "Book check · Chapter 1", "ours", notes=["TB = 1e12 B, TiB = 2^40 B, GB = 1e9 B",
                      "'—' under H200: no reference recorded for ch01.train_loop yet"])
