"""Chapter 12 labs: exact scheduler answers, small-tile schedulers, the exercise grader, and the CUDA C / Triton
sources lowering for sm_75 and sm_90 offline (shape, variants, planted bugs: tests/test_contract.py)."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import pytest
import torch

import perflab as pl
import bugs_late as bugs
from labtests import DEVICE, lower_offline

CHAPTER = ["ch12.launch_bound", "ch12.skewed_queue", "ch12.atomic_batch", "ch12.book_queue"]


def test_gpu_sizes_stay_within_memory_budget():
    """Inputs plus output of the largest GPU size, in GB (the brief: at most 8 GB)."""
    for name in CHAPTER:
        lab = pl.load(name)
        for size in lab.SIZES["gpu"]:
            assert lab.bytes(size, "float32") < 2e9, (name, size)


# ---- the schedulers' answers (every variant at two sizes: tests/test_contract.py) -----------------------

def test_skewed_results_are_exact():
    """a = 1 and dyadic x, b: every multiply-add is exact, so the kernels match the float64 answer bit for bit."""
    lab = pl.load("ch12.skewed_queue")
    inputs = lab.make_inputs((2_053, 2, 1), DEVICE, "float32", seed=5)
    ref = lab.reference(**inputs)
    for fn in (lab.static_split, lab.dynamic_queue, lab.hardware_grid):
        assert torch.equal(fn(**inputs).double(), ref), fn.__name__


def test_heavy_items_sit_at_the_front():
    lab = pl.load("ch12.skewed_queue")
    n, light, unit = 8_003, 5, 1
    cost = lab.make_inputs((n, light, unit), "cpu", "float32", seed=3)["cost"]
    heavy = int(n * lab.HEAVY_FRACTION)
    assert cost[:heavy].min() >= lab.HEAVY_FACTOR * light > cost[heavy:].max()
    assert cost[heavy:].min() >= light and cost[:heavy].max() < (lab.HEAVY_FACTOR + 1) * light
    with pytest.raises(ValueError, match="exact range"):
        lab.make_inputs((101, 300, 32), "cpu", "float32", 0)


@pytest.mark.parametrize("programs, chunk", [(1, 1), (3, 1), (5, 2), (4, 7)])
def test_triton_schedulers_with_small_tiles(programs, chunk):
    """The schedulers at BLOCK = 32 and several programs: many tiles, uneven ranges, a partial last tile."""
    from labs.ch12_graphs_scheduling import _triton as T
    lab = pl.load("ch12.skewed_queue")
    inp = lab.make_inputs((1_001, 2, 3), DEVICE, "float32", seed=programs)
    x, c, n = inp["x"], inp["cost"], inp["x"].numel()
    ref = lab.reference(**inp)
    tiles = -(-n // 32)
    per = -(-tiles // programs)
    outs = {}
    y = torch.full_like(x, float("nan"))
    T.static_kernel[(programs,)](x, c, y, n, 1.0, inp["b"], per, BLOCK=32, UNIT=3)
    outs["static"] = y
    y, counter = torch.full_like(x, float("nan")), torch.zeros(1, dtype=torch.int32, device=DEVICE)
    T.dynamic_kernel[(programs,)](x, c, y, counter, n, 1.0, inp["b"], CHUNK=chunk, BLOCK=32, UNIT=3)
    outs["dynamic"] = y
    assert counter.item() >= tiles                       # every tile was handed out
    y, counter = torch.full_like(x, float("nan")), torch.zeros(1, dtype=torch.int32, device=DEVICE)
    T.lane_queue_kernel[(programs,)](x, c, y, counter, n, 1.0, inp["b"], ITEMS=chunk, BLOCK=32, UNIT=3)
    outs["lane"] = y
    for name, out in outs.items():
        assert torch.equal(out.double(), ref), name


# ---- the exercise --------------------------------------------------------------------------------

def test_grader_passes_the_solution_and_the_starter_but_fails_a_wrong_answer():
    from labs.ch12_graphs_scheduling import solutions
    good = pl.grade("ch12.skewed_queue", solutions.dynamic_queue)
    assert good.correct and "correct at sizes" in str(good)
    starter = pl.grade("ch12.skewed_queue", pl.load("ch12.skewed_queue").static_split)
    assert starter.correct                                    # the committed starter is correct, only slow
    bad = pl.grade("ch12.skewed_queue", bugs.ch12_queue_one_unit_short)
    assert not bad.passed and "NOT YET" in str(bad)


def test_solution_is_the_lab_variant():
    from labs.ch12_graphs_scheduling import _triton, skewed_queue, solutions
    assert solutions.dynamic_queue is skewed_queue.dynamic_queue
    assert solutions.dynamic_kernel is _triton.dynamic_kernel


def test_folded_step_launches_three_kernels_per_layer_and_matches_the_step():
    """The CPU path of the launch_bound answer: the same step in 96 kernels; the eager starter's 160 fail."""
    from labs.ch12_graphs_scheduling import launch_bound as lb, solutions
    from perflab import exercise
    inp = lb.make_inputs(7, "cpu", "float32", 3)
    folded, out = exercise.probe(solutions.folded_step, inp)
    eager, _ = exercise.probe(lb.step, inp)
    assert (folded.kernels, eager.kernels) == (3 * lb.LAYERS, 5 * lb.LAYERS)
    torch.testing.assert_close(out, lb.step(**inp), rtol=1e-5, atol=1e-5)
    assert "kernels per call: 160 (at most 96)" in str(pl.grade("ch12.launch_bound", lb.step, seeds=(11,), sizes=[7]))


# ---- the graph variant's bookkeeping -------------------------------------------------------------

def test_graph_variant_explains_what_it_needs():
    from labs.ch12_graphs_scheduling import launch_bound as lb
    inp = lb.make_inputs(3, "cpu", "float32", 0)
    with pytest.raises(ValueError, match="CUDA tensors"):
        lb.graph_for(**inp)
    assert pl.load("ch12.launch_bound").options.timing == "cpu"        # wall clock of back-to-back steps


def test_book_check_table_from_medians():
    from labs.ch12_graphs_scheduling import book_check
    m = {"ch12.launch_bound": {"eager": 1e-3, "cuda_graph": 2.5e-4},
         "ch12.skewed_queue": {"static_split": 8e-3, "dynamic_queue": 2e-3},
         "ch12.atomic_batch": {"lane_1": 4e-3, "lane_16": 5e-4, "tile_1": 4e-4},
         "ch12.book_queue": {"cuda_static": 3e-4, "cuda_dynamic": 2.5e-4}}
    assert book_check._claims(m) == ["75% cut (4.0×)", "1.20×", "4.00×",
                                     "1 → 16 items: 8.0× faster; 16 is 1.25× the best"]
    assert book_check._claims({}) == [None] * 4
    t = book_check.table()
    assert len(t.rows) == 4 and all(len(r) == 5 for r in t.rows)
    assert "L4814" in str(t) and "L4975" in str(t) and "L4749" in str(t)
    assert "1.40×" in str(t) and "2.06×" in str(t)


# ---- the sources lower for the GPUs the course supports, without a GPU -------------------------

@pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs the CUDA toolkit's nvcc")
@pytest.mark.parametrize("arch", ["sm_75", "sm_90"])
def test_cuda_sources_compile_offline(arch):
    from labs.ch12_graphs_scheduling import _cuda
    for source in dict.fromkeys(_cuda.SOURCES.values()):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "k.cu")
            with open(src, "w") as f:
                f.write(source)
            out = subprocess.run(["nvcc", f"-arch={arch}", "-cubin", "-Xptxas", "-v", src, "-o",
                                  os.path.join(tmp, "k.cubin")], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        assert "spill" not in out.stderr or " 0 bytes spill" in out.stderr
    for name, source in _cuda.SOURCES.items():
        assert f'extern "C" __global__ void {name}(' in source


TRITON_OFFLINE = r"""
import re, triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from labs.ch12_graphs_scheduling import _triton as T
base = {"x_ptr": "*fp32", "c_ptr": "*i32", "y_ptr": "*fp32"}
sc = {"n": "i32", "a": "fp32", "b": "fp32"}
kernels = {
 "static_kernel": ({**base, **sc, "per_program": "i32", "BLOCK": "constexpr", "UNIT": "constexpr"}, {}),
 "dynamic_kernel": ({**base, "counter_ptr": "*i32", **sc, "CHUNK": "constexpr", "BLOCK": "constexpr",
                     "UNIT": "constexpr"}, {"CHUNK": 4}),
 "grid_kernel": ({**base, **sc, "BLOCK": "constexpr", "UNIT": "constexpr"}, {}),
 "lane_queue_kernel": ({**base, "counter_ptr": "*i32", **sc, "ITEMS": "constexpr", "BLOCK": "constexpr",
                        "UNIT": "constexpr"}, {"ITEMS": 4}),
}
for arch in (75, 90):
    for name, (sig, cx) in kernels.items():
        ck = triton.compile(ASTSource(fn=getattr(T, name), signature=sig, constexprs={**cx, "BLOCK": T.BLOCK, "UNIT": 32}),
                            target=GPUTarget("cuda", arch, 32), options={"num_warps": T.WARPS})
        ptx = ck.asm["ptx"]
        print(arch, name, len(re.findall(r"fma\.rn\.f32", ptx)) >= 64, len(re.findall(r"atom\.global", ptx)))
"""


def test_triton_kernels_lower_for_sm75_and_sm90_offline():
    lines = lower_offline(TRITON_OFFLINE, timeout=300).split("\n")
    for arch in ("75", "90"):
        got = {ln.split()[1]: ln.split()[2:] for ln in lines if ln.startswith(arch + " ")}
        assert got["static_kernel"] == ["True", "0"] and got["grid_kernel"] == ["True", "0"]
        assert got["dynamic_kernel"][0] == "True" and int(got["dynamic_kernel"][1]) >= 1
        assert int(got["lane_queue_kernel"][1]) >= 2
