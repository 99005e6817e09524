"""Chapter 8 models against hand-computed cases: SIMT masks and efficiency, occupancy, Little's law and
ptxas parsing (their doctests run under make test's pytest --doctest-modules labs)."""
from __future__ import annotations

import pytest

from labs.ch08_occupancy_ilp import occupancy as occ
from labs.ch08_occupancy_ilp import simt


# ---- SIMT: masks per path and lane efficiency ----------------------------------------------------

def test_masks_of_an_alternating_branch():
    w = simt.run_warp([i % 2 == 1 for i in range(32)], then_cost=10, else_cost=10)
    assert w.then_mask == 0xAAAAAAAA and w.else_mask == 0x55555555
    assert simt.mask_text(w.then_mask).startswith(".1.1")
    assert (w.issued, w.useful, w.efficiency, w.diverged) == (20, 320, 0.5, True)


@pytest.mark.parametrize("conds, then_cost, else_cost, common, issued, useful", [
    ([True] * 32, 10, 10, 0, 10, 320),                      # all agree: one path, every lane busy
    ([False] * 32, 10, 4, 2, 6, 192),                       # all take the short else path
    ([True] + [False] * 31, 10, 10, 0, 20, 320),            # one lane forces the whole then path
    ([i < 16 for i in range(32)], 10, 0, 0, 10, 160),       # if without else: half the lanes idle
    ([i < 8 for i in range(32)], 6, 2, 4, 12, 8 * 6 + 24 * 2 + 32 * 4),
    ([True] * 5, 10, 10, 0, 10, 50),                        # a partial last warp of 5 threads
])
def test_hand_computed_warps(conds, then_cost, else_cost, common, issued, useful):
    w = simt.run_warp(conds, then_cost, else_cost, common)
    assert (w.issued, w.useful) == (issued, useful)
    assert w.efficiency == pytest.approx(useful / (32 * issued))


def test_efficiency_over_many_warps():
    assert simt.run_flags(simt.pattern("lane-parity", 3200), 10, 10).efficiency == 0.5
    assert simt.run_flags(simt.pattern("warp-uniform", 3200, seed=2), 10, 10).efficiency == 1.0
    r = simt.run_flags(simt.pattern("sorted", 3200, seed=2), 10, 10)
    assert r.diverged_warps <= 1 and r.efficiency > 0.99
    r = simt.run_flags(simt.pattern("lane-random", 3200, seed=2), 10, 10)
    assert r.diverged_warps == r.warps == 100 and r.efficiency == 0.5


def test_run_flags_matches_run_warp():
    flags = simt.pattern("lane-random", 100, seed=4)               # 3 full warps and one of 4 lanes
    warps = [simt.run_warp(flags[i:i + 32], 7, 3, 1) for i in range(0, 100, 32)]
    r = simt.run_flags(flags, 7, 3, 1)
    assert r.issued == sum(w.issued for w in warps) and r.useful == sum(w.useful for w in warps)


def test_simt_errors_name_the_value():
    with pytest.raises(ValueError, match="'zigzag'"):
        simt.pattern("zigzag")
    with pytest.raises(ValueError, match="33 conditions"):
        simt.run_warp([True] * 33, 1, 1)
    with pytest.raises(ValueError, match="then=-1"):
        simt.run_warp([True], -1, 1)


# ---- occupancy ------------------------------------------------------------------------------------

@pytest.mark.parametrize("threads, regs, smem, arch, blocks, warps, limiter", [
    (256, 32, 0, "sm_90", 8, 64, "warp slots"),          # 32 regs × 2048 threads = the whole register file
    (256, 40, 0, "sm_90", 6, 48, "registers"),           # 1280 regs/warp: 12 warps per partition
    (256, 96, 0, "sm_90", 2, 16, "registers"),           # the launch_bounds lab's uncapped kernel
    (1024, 64, 0, "sm_90", 1, 32, "registers"),          # the book's one-block-per-SM case
    (32, 16, 0, "sm_90", 32, 32, "block slots"),         # tiny blocks hit the 32-block limit
    (128, 16, 48 * 1024, "sm_90", 4, 16, "shared memory"),   # 49 KB per block (with 1 KB reserved)
    (128, 32, 0, "sm_86", 12, 48, "warp slots"),
])
def test_occupancy_cases(threads, regs, smem, arch, blocks, warps, limiter):
    o = occ.occupancy(threads, regs, smem, occ.ARCH[arch])
    assert (o.blocks_per_sm, o.active_warps, o.limiter) == (blocks, warps, limiter)
    assert o.fraction == warps / occ.ARCH[arch].max_warps_per_sm


def test_register_rounding():
    lim = occ.ARCH["sm_90"]
    assert occ.occupancy(256, 33, limits=lim).blocks_per_sm == occ.occupancy(256, 40, limits=lim).blocks_per_sm == 6
    assert occ.occupancy(256, 41, limits=lim).blocks_per_sm == 5          # 48 regs/thread: 10 warps per partition


def test_occupancy_errors_name_the_value():
    with pytest.raises(ValueError, match="got 2048"):
        occ.occupancy(2048, 32, limits=occ.ARCH["sm_90"])
    with pytest.raises(ValueError, match="got 300"):
        occ.occupancy(256, 300, limits=occ.ARCH["sm_90"])


# ---- Little's law and latency ----------------------------------------------------------------------

def test_littles_law_by_hand():
    h = occ.littles_law(load_gbps=1000, latency_ns=500, sms=100, bytes_per_load=4, ilp=2)
    assert h.bytes_in_flight == 500_000                               # 1000 GB/s × 500 ns
    assert h.bytes_per_sm == 5_000 and h.bytes_per_warp == 256
    assert h.warps_per_sm == pytest.approx(19.53, abs=0.01)
    assert "raise ILP" in str(occ.littles_law(4000, 1000, 10))
    with pytest.raises(ValueError, match="positive"):
        occ.littles_law(0, 500, 100)


def test_warps_for_pipeline_and_implied_latency():
    assert occ.warps_for_pipeline(4, 1) == 16 and occ.warps_for_pipeline(4, 2) == 8
    assert occ.warps_for_pipeline(24, 4) == 24                       # 6 per scheduler
    # Little's law both ways: the latency that produced a bandwidth gives it back
    lat = occ.implied_latency_ns(copy_gbps=800, warps_per_sm=16, ilp=2, sms=132)
    h = occ.littles_law(400, lat, 132, 4, 2)
    assert h.warps_per_sm == pytest.approx(16)


# ---- ptxas parsing ---------------------------------------------------------------------------------

LOG = """ptxas info    : Compiling entry function 'a' for 'sm_90'
ptxas info    : Function properties for a
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 15 registers, used 0 barriers
ptxas info    : Compiling entry function 'b' for 'sm_90'
ptxas info    : Function properties for b
    48 bytes stack frame, 48 bytes spill stores, 52 bytes spill loads
ptxas info    : Used 64 registers, used 0 barriers, 48 bytes cumulative stack size
"""


def test_parse_ptxas_picks_the_kernel():
    from labs.ch08_occupancy_ilp.registers import parse_ptxas
    a, b = parse_ptxas(LOG, "a"), parse_ptxas(LOG, "b")
    assert (a.registers, a.spill_stores) == (15, 0)
    assert (b.registers, b.spill_stores, b.spill_loads, b.stack) == (64, 48, 52, 48)
    with pytest.raises(ValueError, match="no kernel 'c'"):
        parse_ptxas(LOG, "c")


def test_ptxas_on_the_real_kernels_when_nvcc_exists():
    from labs.ch08_occupancy_ilp import registers
    if registers.nvcc_path() is None:
        pytest.skip("nvcc is not installed")
    free, capped = registers.ptxas_info("fma_regs_default"), registers.ptxas_info("fma_regs_bounds_256_8")
    assert capped.registers <= 32 < free.registers
    assert capped.spill_stores > 0 and free.spill_stores == 0
    assert registers.ptxas_info("fma_regs_maxrreg_24").registers <= 24
