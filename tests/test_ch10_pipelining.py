"""Chapter 10: the matmul's knobs and strides (variants and planted bugs: tests/test_contract.py), the tile
order is a permutation and the Triton kernel hands tiles out as the model says, the timeline simulator and
the models match hand-computed values, the grader fails a wrong answer, and the kernels compile for sm_90
(Triton offline; CUDA C with nvcc where it is installed)."""
from __future__ import annotations

import shutil
import subprocess
from types import SimpleNamespace

import pytest
import torch

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import triton
import triton.language as tl
import bugs_late as bugs
from labtests import DEVICE, LABS
from perflab.check import compare

from labs.ch10_pipelining import _cuda, _matmul, book_check, compiled, models, timeline, views
from labs.ch10_pipelining._kernels import tile_of

CHAPTER = ["ch10.stages", "ch10.tile_order", "ch10.persistent", "ch10.cluster"]


def test_cpu_sizes_are_aligned_to_nothing():
    """Where the tests run, no dimension is a multiple of 16 (the GPU sizes keep N, K aligned for speed)."""
    for name in CHAPTER:
        for size in [*pl.load(name).SIZES["cpu"], LABS[name][1]]:
            assert all(d % 16 for d in size), f"{name} cpu size {size} has a multiple of 16"


def test_matmul_gpu_sizes_are_at_least_4096_squared_in_bf16():
    lab = pl.load("ch10.stages")
    m, n, k = lab.SIZES["gpu"][0]
    assert lab.DTYPES[0] == "bfloat16" and m * n >= 4096 * 4096 and k >= 4096
    assert n % 16 == 0 and k % 16 == 0, "rows of A, B and C must stay 16-byte aligned at the timed size"


# ---- the matmul's knobs (every variant at two sizes: tests/test_contract.py) ----------------------------

@pytest.mark.parametrize("tile", [_matmul.Tile(64, 64, 32, 4), _matmul.Tile(16, 64, 16, 4)])
@pytest.mark.parametrize("stages, group_m, persistent", [(1, 1, False), (3, 3, False), (2, 2, True)])
def test_matmul_any_tile_and_order(tile, stages, group_m, persistent):
    """The exercise's knobs: tiles bigger than a dimension, bands that do not divide the tile rows."""
    lab = pl.load("ch10.stages")
    inputs = lab.make_inputs((45, 77, 91), DEVICE, "bfloat16", seed=5)
    out = _matmul.matmul(**inputs, stages=stages, group_m=group_m, persistent=persistent, tile=tile)
    assert compare(out, lab.reference(**inputs), "bfloat16").ok


def test_matmul_reads_strides():
    """A transposed (non-contiguous) B gives the same product: the kernel uses the strides it is given."""
    lab = pl.load("ch10.stages")
    inputs = lab.make_inputs((37, 51, 29), DEVICE, "bfloat16", seed=9)
    b_t = inputs["b"].t().contiguous().t()
    assert not b_t.is_contiguous()
    assert compare(_matmul.matmul(inputs["a"], b_t), lab.reference(**inputs), "bfloat16").ok
    with pytest.raises(ValueError, match="needs \\(M, K\\) @ \\(K, N\\)"):
        _matmul.matmul(inputs["a"], inputs["a"])


# ---- the exercise (planted bugs: tests/test_contract.py) ------------------------------------------------

def test_grader_fails_a_wrong_answer_and_passes_the_starter():
    assert not pl.grade("ch10.stages", bugs.ch10_matmul_drops_last_k)
    starter = lambda a, b: _matmul.matmul(a, b, stages=1, group_m=1, tile=_matmul.Tile(64, 64, 32, 4))  # noqa: E731
    g = pl.grade("ch10.stages", starter)
    assert g.correct


def test_solution_is_the_tuned_lab_variant():
    from labs.ch10_pipelining import solutions, stages
    assert solutions.tuned is stages.stages_3


# ---- tile order: a permutation, and the Triton kernel agrees with the model --------------------------

@pytest.mark.parametrize("grid_m, grid_n, group_m", [(1, 1, 1), (5, 4, 1), (5, 4, 2), (5, 4, 8), (9, 64, 8), (7, 3, 4)])
def test_tile_order_is_a_permutation(grid_m, grid_n, group_m):
    order = models.tile_order(grid_m, grid_n, group_m)
    assert sorted(order) == [(r, c) for r in range(grid_m) for c in range(grid_n)]


@triton.jit
def _where(out_ptr, grid_m, grid_n, GROUP_M: tl.constexpr):
    pid = tl.program_id(0)
    r, c = tile_of(pid, grid_m, grid_n, GROUP_M)
    tl.store(out_ptr + 2 * pid, r)
    tl.store(out_ptr + 2 * pid + 1, c)


def test_triton_tile_of_matches_the_model():
    for grid_m, grid_n, g in [(5, 4, 2), (7, 3, 4), (3, 6, 1)]:
        out = torch.full((grid_m * grid_n, 2), -1, dtype=torch.int32, device=DEVICE)
        _where[(grid_m * grid_n,)](out, grid_m, grid_n, GROUP_M=g)
        assert [tuple(p) for p in out.tolist()] == models.tile_order(grid_m, grid_n, g)


def test_l2_model_by_hand():
    # 2 × 4 tiles of 1 × 1, K = 1, 1-byte elements: every panel is 1 byte; 4 programs per wave
    big = models.l2_traffic((2, 4, 1), tile=(1, 1), group_m=1, wave=4, l2_bytes=1e9, itemsize=1)
    assert big.dram_bytes == big.ideal_bytes == 6            # A: 2 rows, B: 4 columns, each once
    none = models.l2_traffic((2, 4, 1), tile=(1, 1), group_m=1, wave=4, l2_bytes=0, itemsize=1)
    assert none.dram_bytes == 10                                # wave 0: A0 B0-B3; wave 1: A1 B0-B3 again
    banded = models.l2_traffic((2, 4, 1), tile=(1, 1), group_m=2, wave=4, l2_bytes=0, itemsize=1)
    assert banded.dram_bytes == 8                               # wave 0: A0 A1 B0 B1; wave 1: A0 A1 B2 B3


def test_l2_model_prefers_bands_on_the_wide_lab_shape():
    row = models.l2_traffic((1_025, 16_384, 8_192), group_m=1, wave=132, l2_bytes=50e6)
    band = models.l2_traffic((1_025, 16_384, 8_192), group_m=8, wave=132, l2_bytes=50e6)
    assert band.dram_bytes < 0.6 * row.dram_bytes


# ---- timeline simulator: hand-computed schedules ---------------------------------------------------------

def test_one_stage_is_serial():
    assert timeline.simulate(stages=1, k_tiles=4, load=3, compute=1, issue=0).total == 16


def test_two_stages_by_hand():
    t = timeline.simulate("single", stages=2, k_tiles=4, load=3, compute=1, issue=0)
    mma = [(e.start, e.end) for e in t.events if e.kind == "mma"]
    assert mma == [(3, 4), (4, 5), (7, 8), (8, 9)]                # two slices per load latency + MMA
    assert t.total == 9 and t.mma_busy == pytest.approx(4 / 9)


def test_enough_stages_hide_the_load():
    t = timeline.simulate(stages=4, k_tiles=8, load=3, compute=1, issue=0)
    assert t.total == 3 + 8 and timeline.stages_to_hide(3, 1) == 4
    assert timeline.stages_to_hide(600, 800) == 2 and timeline.stages_to_hide(800, 800) == 2


def test_specialized_keeps_loading_across_tiles():
    kw = dict(stages=2, k_tiles=4, load=3, compute=1, issue=0, tiles=2, epilogue=2)
    single = timeline.simulate("single", **kw)
    spec = timeline.simulate("specialized", **kw)
    assert single.total == 9 + 2 + 9 + 2                           # each tile refills its pipeline
    assert spec.total == 19                                        # tile 1's loads start during the epilogue
    assert timeline.simulate("pingpong", **kw).total <= spec.total


def test_modes_rank_as_the_book_says():
    table, runs = timeline.compare_modes()
    single, spec, ping = (r.total for r in runs)
    assert ping < spec < single
    assert "pingpong" in str(table)


def test_simulator_rejects_bad_input():
    with pytest.raises(ValueError, match="mode"):
        timeline.simulate("magic")
    with pytest.raises(ValueError, match=">= 1"):
        timeline.simulate(stages=0)


def test_pipeline_calculator_text():
    text = timeline.explain(load_ns=1000, compute_ns=1000, stages=2, k_tiles=8)
    assert "1 stage : 16.0 µs" in text and "2 stages: 9.0 µs" in text and "→ 2" in text


# ---- models and views ---------------------------------------------------------------------------------

def test_launch_models_match_the_book():
    assert "20 ms of launch overhead" in models.launch_overhead(1000, 100, 20)
    assert "1.20×" in models.launch_overhead(1000, 100, 20)
    assert "33,792 threads" in models.persistent_grid(132, 256)


def _rec(variant, median_s, tflops=None):
    """A correct ch10.stages record, as results.Record has it (only the fields the views read)."""
    return SimpleNamespace(variant=variant, median_s=median_s, tflops=tflops, lab="ch10.stages", correct=True,
                           size=None)


def test_per_launch_cost_and_ratios_from_records():
    run = SimpleNamespace(records=[_rec("launch_per_task", 21e-3), _rec("one_launch", 1e-3)], size=(1000, 4099))
    assert models.per_launch_us(run) == pytest.approx(20.0)
    recs = {r.variant: r for r in [_rec("stages_1", 2.0, 100), _rec("stages_3", 1.0, 200),
                                   _rec("torch_matmul", 0.8, 250)]}
    lines = views._ratio_lines(recs, "test")
    assert "best Triton (stages_3) 200 TFLOP/s = 80% of torch.matmul" in lines[0]
    assert "stages_3 2.00×" in lines[1]
    assert book_check.stage_speedup(recs) == "2.00× (stages_3)"
    assert book_check.stage_activity(recs) == "40% → 80% of torch.matmul"
    assert book_check.launch_cost({"launch_per_task": _rec("l", 21e-3), "one_launch": _rec("o", 1e-3)}, 1000) \
        == "20.0 µs per launch → 20.0 ms per 1,000"


def test_machine_facts_name_their_source():
    f = views.machine_facts()
    assert f.sms > 0 and f.l2_mb > 0
    assert ("reference" in f.where) == (DEVICE == "cpu")          # a CPU borrows the reference GPU's figures


def test_book_check_runs_without_runs():
    text = str(book_check.table(sms=132))
    assert "L4241" in text and "L4288" in text and "33,792 (132 SMs)" in text


# ---- kernels compile for the GPUs they target ------------------------------------------------------------

def test_stages_compile_for_sm90_offline():
    """The stage sweep lowers as the lab says: ld.global with one stage, cp.async and one more 48 KB slice
    of shared memory per extra stage, wgmma on sm_90."""
    rows = compiled.offline(90)
    if rows is None:
        pytest.skip("this Triton cannot compile for sm_90 offline")
    assert [r.stages for r in rows] == [1, 2, 3, 4]
    assert rows[0].cp_async == 0 and rows[0].ld_global > 0
    assert all(r.cp_async > 0 and r.ld_global == 0 for r in rows[1:])
    assert [r.shared for r in rows] == [49_152 * s for s in (1, 2, 3, 4)]
    assert all(r.wgmma > 0 for r in rows)
    assert all(r.shared <= 232_448 for r in rows), "must fit an sm_90 block's 227 KB"


def test_tile_choice_fits_four_stages():
    for t in _matmul.GPU_TILES:
        assert t.stage_bytes(2) * _matmul.MAX_STAGES > 0
    assert _matmul.GPU_TILES[0].stage_bytes(2) * 4 <= 232_448        # H100/H200: 128×256×64 fits 4 stages
    assert _matmul.tile_for("cpu") == _matmul.CPU_TILE


def test_cuda_sources_declare_every_kernel():
    for name, source in _cuda.SOURCES.items():
        assert f'extern "C" __global__ void' in source and f"{name}(" in source
    with pytest.raises(ValueError, match="no CUDA kernel"):
        _cuda.kernel("nothing")


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed")
@pytest.mark.parametrize("source, arch", [("SPLIT_SOURCE", 75), ("SPLIT_SOURCE", 90), ("CLUSTER_SOURCE", 90)])
def test_cuda_sources_compile(tmp_path, source, arch):
    src = tmp_path / "k.cu"
    src.write_text(getattr(_cuda, source))
    out = subprocess.run(["nvcc", f"-arch=sm_{arch}", "-cubin", "-o", str(tmp_path / "k.cubin"), str(src)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]


def test_row_pieces_cover_every_column():
    """The CUDA kernels' piece(): SPLIT consecutive pieces of ceil(cols / SPLIT) cover [0, cols) once."""
    for cols in (1, 7, 8, 9, 4_099, 500_009):
        ln = -(-cols // _cuda.SPLIT)
        covered = []
        for part in range(_cuda.SPLIT):
            begin, end = part * ln, min(cols, part * ln + ln)
            covered += range(begin, end)
        assert covered == list(range(cols))
