"""Chapter 6's book check: the launch and occupancy limits, shared memory, launch bounds and roofline
claims, against this device (read from the driver or measured) and the H200 (sm_90)."""
from __future__ import annotations

from perflab import book, results
from perflab.table import Table

from labs.ch06_gpu_architecture import models, occupancy

KIB = 1024


def _kib(v) -> str:
    return f"{v / KIB:,.0f} KiB"


def _slower(records) -> str:
    ratio = book.ratio(records, "ch06.block_sweep", "cuda_33", "cuda_64")
    return "—" if ratio is None else f"{ratio:.2f}× the time of cuda_64"


def _bounds(kernels) -> str:
    regs = {k.name: k.regs for k in kernels}
    free, b16 = regs.get("heavy, no launch bounds"), regs.get("heavy, __launch_bounds__(256, 16)")
    b8 = regs.get("heavy, __launch_bounds__(256, 8)")
    if free is None or b16 is None:
        return "—"
    return f"(256,16): {b16} regs vs {free} with no bounds; (256,8): {b8}"


def table(env, ceilings, reference_ceilings=None, sweep=None, kernels=None, live: bool = False) -> Table:
    """Book claims with this device's value, the H200's, and why they differ.

    env: pl.env(); ceilings: pl.ceilings(); reference_ceilings: pl.reference_ceilings();
    sweep: the ch06.block_sweep LabRun (for the 33-thread row); kernels, live: occupancy.chapter_kernels().
    """
    h200 = occupancy.limits("sm_90")
    if env.tier == "gpu":
        lim, origin = occupancy.device_limits()
        attrs = occupancy.device_attributes()
        mine = {"threads": f"{lim.max_threads_per_sm:,} ({lim.max_warps_per_sm} warps)",
                "blocks": str(lim.max_blocks_per_sm), "regs": f"{lim.regs_per_sm:,}",
                "smem": f"{_kib(lim.smem_per_sm)} / {_kib(lim.smem_per_block_optin)}",
                "per_block": str(attrs.get("max_threads_per_block", lim.max_threads_per_block)),
                "grid": (f"{attrs['max_grid_x']:,} / {attrs['max_grid_y']:,}" if attrs else "—")}
    else:
        mine = dict.fromkeys(("threads", "blocks", "regs", "smem", "per_block", "grid"), "no GPU (cpu tier)")
    ridge = (lambda c: f"{c.matmul_tflops['float32'] * 1e3 / c.copy_gbps:.1f} FLOP/B "   # noqa: E731
             f"({c.matmul_tflops['float32']:.3g} TFLOP/s ÷ {c.copy_gbps:,.0f} GB/s)"
             if c and c.matmul_tflops.get("float32") else "—")
    memory = (lambda c, l2: f"copy {c.copy_gbps:,.0f} GB/s; L2 {l2}" if c else "—")   # noqa: E731
    ref_l2 = results.reference_manifest().get("l2_mb")
    offline = {k.name: k for k in occupancy.EXAMPLES}.values()
    rows = [
        ["Table 6-3 · threads per SM (L2617–L2621)", "2,048 (64 warps)", mine["threads"],
         f"{h200.max_threads_per_sm:,} ({h200.max_warps_per_sm} warps)",
         "Hopper matches Blackwell; a T4 (sm_75) holds 1,024 and an L4 (sm_89) 1,536 [ext]: read it, don't assume it"],
        ["Table 6-3 · resident blocks per SM", "32", mine["blocks"], str(h200.max_blocks_per_sm),
         "16 on a T4, 24 on an L4 [ext]; on all three, one-warp blocks stop at 50% occupancy"],
        ["Table 6-2 · threads per block (L2605–L2609)", "1,024", mine["per_block"], "1,024",
         "the same on every current NVIDIA GPU [ext]"],
        ["Table 6-4 · grid x / y limits (L2627–L2630)", "2,147,483,647 / 65,535", mine["grid"],
         "2,147,483,647 / 65,535", "unchanged since sm_30 [ext]"],
        ["64K registers per SM (L2502)", "65,536", mine["regs"], f"{h200.regs_per_sm:,}",
         "the register file has been 64K × 32-bit per SM since Kepler [ext]"],
        ["228 KB shared per SM, 227 KB per block (L2500–L2502)", "228 / 227 KB", mine["smem"],
         f"{_kib(h200.smem_per_sm)} / {_kib(h200.smem_per_block_optin)}",
         "Hopper has the same; the missing 1 KiB is the driver's per-block reservation. A T4 has 64 KiB"],
        ["__launch_bounds__(256, 16) is clamped to 2,048 threads/SM (L2897–L2901)", "clamped",
         _bounds(kernels) if live and kernels else "— (needs a GPU)", _bounds(offline) + " (ptxas 13.0, offline)",
         "ptxas warns that 4,096 threads/SM is out of range and ignores the 16; only the 256-thread cap "
         "remains, which lets it use MORE registers. Bounds that fit, (256, 8), cap it at 32 (and spill)"],
        ["N = 1,000,000 at 256 threads → 3,907 blocks (L2695–L2697)", "3,907",
         f"{models.grid_blocks(1_000_000, 256):,}", f"{models.grid_blocks(1_000_000, 256):,}", "ceil(n / threads) ✓"],
        ["33-thread blocks waste a warp slot (L2589)", "no number",
         _slower(book.records_of(sweep)), _slower(results.reference("ch06.block_sweep")),
         "33 threads hold 2 warps with 33 of 64 lanes busy, and 32 blocks per SM cap them at 52% of thread slots"],
        ["Roofline ridge: 80 TFLOP/s FP32 ÷ 8 TB/s = 10 FLOP/B (L2929)", "10 FLOP/B", ridge(ceilings),
         ridge(reference_ceilings), "the book's Blackwell figures; the H200's fp32 ridge is close, its bf16 ridge far higher"],
        ["Table 6-5 · HBM ~8 TB/s, L2 126 MB (L2836–L2844)", "8 TB/s; 126 MB",
         memory(ceilings, f"{env.l2_mb:.1f} MB" if env.l2_mb else "—") if env.tier == "gpu" else "no GPU (cpu tier)",
         memory(reference_ceilings, f"{ref_l2:.1f} MB = {ref_l2 * 1e6 / 2**20:.0f} MiB" if ref_l2 else "—"),
         "Blackwell (B200) figures: the H200 has 4.8 TB/s HBM3e on its datasheet and a 60 MiB L2"],
    ]
    notes = ["H200 column: the sm_90 limits table [ext], the offline sm_90 compile, and the measured reference run "
             "(data/reference/nvidia-h200.json)"]
    if env.tier == "gpu" and any(v != "driver" for k, v in origin.items() if k != "preset"):
        notes.append("some limits came from torch or the table, not the driver: " +
                     ", ".join(f"{k} ({v})" for k, v in origin.items() if v != "driver"))
    return book.table(rows, "Book check · Chapter 6 limits, launch bounds and roofline", f"yours ({env.device})",
                      reference="H200 (sm_90)", notes=notes)
