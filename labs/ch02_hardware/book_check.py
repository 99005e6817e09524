"""Chapter 2's book check: numbers the digest flags, recomputed or measured (here and on the H200 reference)."""
from __future__ import annotations

from perflab import book, results
from perflab.table import Table

from labs.ch02_hardware import calculators as calc


def _ratio(c, a="float8", b="float16"):
    if not c or not c.matmul_tflops.get(a) or not c.matmul_tflops.get(b):
        return None
    return c.matmul_tflops[a] / c.matmul_tflops[b]


def l2_cliff(records, variant="triton_rotating_read") -> tuple[float, float] | None:
    """(largest buffer still read ≥1.25× faster than the largest buffer, that buffer's GB/s) from sweep records."""
    pts = sorted(((list(r.size)[0] + 3) * 4, r.gbps) for r in records if r.variant == variant and r.gbps)
    if len(pts) < 3:
        return None
    hbm = pts[-1][1]
    fast = [b for b, g in pts if g >= 1.25 * hbm]
    return (max(fast), hbm) if fast else None


def table(mine=None, sweep_runs=()) -> Table:
    """mine: this device's Ceilings; sweep_runs: the LabRuns of the working-set sweep."""
    import perflab as pl
    ref = pl.reference_ceilings()
    cliff_mine, cliff_ref = l2_cliff(book.records_of(*sweep_runs)), l2_cliff(results.reference("ch02.cache_ladder"))
    cl = lambda c: "—" if c is None else f"fast up to {c[0] / 2**20:,.0f} MiB; HBM {c[1]:,.0f} GB/s"  # noqa: E731
    r = calc.nvl72()
    rows = [
        ["L525 · FP8 ≈ 2× FP16 on tensor cores", "2×", book.times(_ratio(mine)), book.times(_ratio(ref)),
         "measured cuBLAS matmuls (pl.ceilings); the datasheet ratio is exactly 2, real matmuls land a little below"],
        ["L511 · Hopper L2 = 50 MB (Blackwell 126 MB, >2.5×)", "50 MB",
         cl(cliff_mine), cl(cliff_ref), "the sweep's last size before the read rate drops toward HBM; "
         "126/50 = 2.52, so '>2.5×' holds; the H200's driver reports its L2 size in the setup line"],
        ["L459 · Grace LPDDR5X bandwidth", "500 TB/s", "500 GB/s (unit fixed)", "—",
         "a typo for GB/s: 500 TB/s would exceed HBM (8 TB/s, L507) 60×, while L463 says LPDDR5X is ~10× slower"],
        ["L259 · B300 GPUs to hold 100T bf16 params (288 GB)", "700", "632 or 694", "—",
         "182e12 B / 288e9 ≈ 632 with the book's 182 'TB' (really TiB); 200e12 / 288e9 ≈ 694 with true TB"],
        ["L597 · NVLink per GPU: 18 × 100 GB/s", "1.8 TB/s", f"{r.nvlink_per_gpu_gbps / 1e3:g} TB/s", "—", "agrees"],
        ["L615 · NVL72 bisection bandwidth", "~130 TB/s", f"{r.rack_nvlink_tbps:.1f} TB/s", "—",
         "72 × 1.8 TB/s; agrees"],
    ]
    return book.table(rows, "Book check · Chapter 2", "ours",
                      notes=["'—' under H200 for arithmetic rows: nothing to measure on one H200",
                             "cliff rows need the GPU sweep; on a CPU the sweep shows CPU caches instead"])
