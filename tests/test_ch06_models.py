"""Chapter 6 calculators and tools: occupancy against hand-computed values, the other models, the
compute-sanitizer report parser and its unavailable path, CUDA sources compiled for sm_75 and sm_90,
the Triton kernel lowered offline for sm_90, and the book-check table."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from labtests import lower_offline

from labs.ch06_gpu_architecture import models, occupancy as occ, sanitizer

H100 = occ.limits("sm_90")
T4 = occ.limits("sm_75")


# ---- occupancy: hand-computed cases ---------------------------------------------------------

@pytest.mark.parametrize("lim, threads, regs, smem, blocks, limiter, warps", [
    # 64 regs: 2,048 per warp; 16,384 per scheduler partition → 8 warps each, 32 per SM → 4 blocks of 8 warps
    (H100, 256, 64, 0, 4, "registers", 32),
    # 80 regs: 2,560 per warp → 6 per partition, 24 per SM → 3 blocks of 8 warps
    (H100, 256, 80, 0, 3, "registers", 24),
    # 32-thread blocks: 32 blocks per SM is the cap → 32 warps of 64
    (H100, 32, 12, 0, 32, "blocks", 32),
    # 33 threads take 2 warps: 64 warps resident, but only 33 of every 64 lanes hold a thread
    (H100, 33, 12, 0, 32, "warps", 64),
    # 96 threads = 3 warps: 64 // 3 = 21 blocks, 63 warps
    (H100, 96, 12, 0, 21, "warps", 63),
    # 100 KiB shared + 1 KiB reserved = 103,424 B per block; 233,472 // 103,424 = 2 blocks
    (H100, 128, 32, 100 * 1024, 2, "shared memory", 8),
    # T4: 32 warps per SM, 16 blocks; 256 threads → 4 blocks
    (T4, 256, 32, 0, 4, "warps", 32),
    (T4, 32, 12, 0, 16, "blocks", 16),
    # 255 regs × 32 warps = 261,120 > 65,536: cannot launch
    (H100, 1024, 255, 0, 0, "registers", 0),
    # more than 1,024 threads: cannot launch
    (H100, 1056, 16, 0, 0, "warps", 0),
    # more shared memory than a block may opt in to
    (H100, 128, 32, 228 * 1024, 0, "shared memory", 0),
])
def test_occupancy_hand_computed(lim, threads, regs, smem, blocks, limiter, warps):
    o = occ.occupancy(lim, threads, regs, smem)
    assert (o.blocks_per_sm, o.limiter, o.active_warps) == (blocks, limiter, warps), o.blocks_by


def test_occupancy_fractions_and_text():
    o = occ.occupancy(H100, 33, 12)
    assert o.fraction == 1.0 and o.busy_lanes == pytest.approx(33 * 32 / 2048)
    assert "only 52% of thread slots" in o.explain()
    assert occ.occupancy(occ.limits("sm_89"), 1024, 32).fraction == pytest.approx(32 / 48)
    assert "cannot launch" in occ.occupancy(H100, 1024, 255).explain()
    assert occ.explain("sm_90", 256, 64, 0).endswith("32 of 64 warps = 50% occupancy")


def test_presets_and_errors():
    assert occ.limits((9, 0)) is occ.limits("9.0") is occ.limits("sm_90")
    assert occ.limits("sm_100").max_warps_per_sm == 64 and "L2617" in occ.limits("sm_100").source
    assert T4.max_warps_per_sm == 32 and T4.smem_reserved_per_block == 0
    assert str(T4) == "sm_75: 32 warps, 16 blocks, 65,536 registers and 64 KiB of shared memory per SM"
    with pytest.raises(ValueError, match="no occupancy preset for 'sm_61'"):
        occ.limits("sm_61")
    with pytest.raises(ValueError, match="need threads"):
        occ.occupancy(H100, 0, 32)
    from perflab.machine import env
    assert ("this GPU" in occ.presets()) == (env().tier == "gpu") and "sm_75" in occ.presets()


def test_sweep_and_kernel_tables_on_the_cpu_tier():
    t = str(occ.sweep(H100, 12))
    assert "33" in t and "52%" in t and "21" in t
    kernels, live = occ.chapter_kernels()
    if not live:
        assert kernels is occ.EXAMPLES
        assert all("not read from a kernel" in k.source for k in kernels)
    table = str(occ.kernel_table(kernels, H100))
    assert "heavy, __launch_bounds__(256, 8)" in table and "resources:" in table


# ---- other models -----------------------------------------------------------------------------

def test_grid_and_warp_models():
    assert models.grid_blocks(1_000_000, 256) == 3_907                    # L2695–L2697
    assert models.grid_blocks(1, 1024) == 1 and models.grid_blocks(0, 32) == 0
    assert models.warp_lanes(33) == models.WarpLanes(warps=2, busy=33, lanes=64)
    assert models.warp_lanes(256) == models.WarpLanes(8, 256, 256)
    assert "33 of 64" not in models.explain_launch(1000, 256)
    assert "31 of 64 lanes empty" in models.explain_launch(1000, 33)
    with pytest.raises(ValueError):
        models.grid_blocks(10, 0)


def test_migration_model_by_hand():
    # 64 MiB at 50 GB/s = 1.342 ms; 128 batches of 512 KiB × 40 µs = 5.12 ms more on demand
    fault, pre = models.migration_ms(64, 50, chunk_kb=512, fault_us=40)
    assert pre == pytest.approx(64 * 2**20 / 50e9 * 1e3)
    assert fault == pytest.approx(pre + 128 * 0.040)
    assert models.migration_ms(64, 50, chunk_kb=64 * 1024, fault_us=0) == (pre, pre)
    assert "4.8× the prefetch" in models.explain_migration(64, 50, 512, 40)
    with pytest.raises(ValueError):
        models.migration_ms(64, 0)


def test_roofline_placement():
    table = models.devices()
    book = models.BOOK_DEVICE[0]
    assert list(table) == [book]
    line = models.placement("saxpy fp32 (2 FLOP / 12 B)", book, table)
    assert "memory-bound" in line and "ridge 10.0 FLOP/B" in line                 # 80 TFLOP/s ÷ 8 TB/s
    assert "compute-bound" in models.placement("heavy FMA kernel (6,144 FLOP / 8 B)", book, table)


# ---- compute-sanitizer ------------------------------------------------------------------------

def test_sanitizer_parses_a_memcheck_report():
    r = sanitizer.parse(sanitizer.SAMPLE)
    assert r.errors == 2 and r.first == "Invalid __global__ write of size 4 bytes"
    assert r.details[0] == "at fill_off_by_one+0x90"
    s = r.summary()
    assert s.startswith("found 2 errors: Invalid __global__ write of size 4 bytes")
    assert "by thread (232,0,0) in block (3,0,0)" in s and "0 bytes after" in s


def test_sanitizer_parses_clean_and_empty_reports():
    assert sanitizer.parse("========= COMPUTE-SANITIZER\n========= ERROR SUMMARY: 0 errors\n").summary() == "found 0 errors"
    one = sanitizer.parse("========= Invalid __shared__ read of size 4 bytes\n=========     by thread (1,0,0) in "
                          "block (0,0,0)\n========= ERROR SUMMARY: 1 error\n")
    assert one.errors == 1 and one.summary().startswith("found 1 error: Invalid __shared__ read")
    assert "no ERROR SUMMARY" in sanitizer.parse("python: command not found").summary()


def test_sanitizer_unavailable_path_says_what_it_needs():
    from perflab.machine import env
    if env().tier == "gpu" and sanitizer.unavailable() is None:
        pytest.skip("compute-sanitizer can run here")
    r = sanitizer.run()
    assert not r.ran and r.reason.startswith("needs")
    line = sanitizer.explain(r)
    assert line.startswith("compute-sanitizer needs") and "would report: Invalid __global__ write" in line
    assert "\n" not in line


def test_planted_bug_indices_match_the_expected_report():
    from labs.ch06_gpu_architecture import oob_write
    assert "i <= n" in oob_write.SOURCE
    blocks = -(-oob_write.N // oob_write.THREADS)
    assert blocks * oob_write.THREADS > oob_write.N                                   # thread N exists
    assert divmod(oob_write.N, oob_write.THREADS) == (3, 232)                         # block 3, thread 232
    assert "(232,0,0) in block (3,0,0)" in sanitizer.EXPECTED and f"{4 * oob_write.N:,}" in sanitizer.EXPECTED


# ---- CUDA C and Triton compile for sm_75 and sm_90 (offline, no GPU) --------------------------

def _ptxas_report(source: str, arch: str, tmp_path) -> str:
    cu = tmp_path / "k.cu"
    cu.write_text(source)
    out = subprocess.run(["nvcc", f"-arch={arch}", "-cubin", "-Xptxas", "-v", str(cu), "-o", str(tmp_path / "k.cubin")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stderr


def _regs(report: str) -> dict:
    names = re.findall(r"Compiling entry function '(\w+)'", report)
    regs = [int(r) for r in re.findall(r"Used (\d+) registers", report)]
    return dict(zip(names, regs))


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed")
@pytest.mark.parametrize("arch", ["sm_75", "sm_90"])
def test_cuda_sources_compile(arch, tmp_path):
    from labs.ch06_gpu_architecture import _cuda, oob_write
    source = "\n".join(dict.fromkeys(_cuda.SOURCES.values())) + oob_write.SOURCE
    report = _ptxas_report(source, arch, tmp_path)
    regs = _regs(report)
    assert set(_cuda.SOURCES) | {"fill_off_by_one"} <= set(regs)
    assert re.search(r"heavy_bounds_256_16 is out of range\. \.minnctapersm will be ignored", report)
    version = subprocess.run(["nvcc", "--version"], capture_output=True, text=True).stdout
    if arch == "sm_90" and "release 13.0" in version:      # the offline examples the cpu tier shows
        ex = {k.name: k.regs for k in occ.EXAMPLES}
        assert regs["saxpy"] == ex["cuda saxpy (first_kernel)"]
        assert regs["heavy_free"] == ex["heavy, no launch bounds"]
        assert regs["heavy_bounds_256_8"] == ex["heavy, __launch_bounds__(256, 8)"] == 32
        assert regs["heavy_bounds_256_16"] == ex["heavy, __launch_bounds__(256, 16)"]


TRITON_OFFLINE = r"""
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from labs.ch06_gpu_architecture import first_kernel
sig = {"x_ptr": "*fp32", "y_ptr": "*fp32", "out_ptr": "*fp32", "a": "fp32", "n": "i32"}
for block, warps in ((1024, 4), (32, 1)):
    k = triton.compile(ASTSource(fn=first_kernel.saxpy_kernel, signature=sig, constexprs={"BLOCK": block}),
                       target=GPUTarget("cuda", 90, 32), options={"num_warps": warps})
    print(block, warps, k.metadata.shared, "ld.global" in k.asm["ptx"])
"""


def test_triton_saxpy_lowers_for_sm90_offline():
    assert lower_offline(TRITON_OFFLINE).split() == ["1024", "4", "0", "True", "32", "1", "0", "True"]


# ---- book check -------------------------------------------------------------------------------

def test_book_check_table_runs_here():
    import perflab as pl
    from labs.ch06_gpu_architecture import book_check
    e = pl.env()
    kernels, live = occ.chapter_kernels()
    t = book_check.table(e, None, pl.reference_ceilings(), sweep=None, kernels=kernels, live=live)
    text = str(t)
    assert "3,907" in text and "L2617" in text and "(256,16): 80 regs vs 64" in text
    assert len(t.rows) == 11 and all(len(r) == 5 for r in t.rows)
