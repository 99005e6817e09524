"""Chapter 12 labs: module shape, correctness of every runnable variant at non-aligned sizes, planted bugs,
the exercise grader, and the CUDA C / Triton sources lowering for sm_75 and sm_90 offline."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

import pytest
import torch

import perflab as pl
from labtests import runnable
from perflab.check import compare
from perflab.lab import REQUIRED_NAMES, info

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# lab -> (baseline, a second small size that is not aligned to any block size)
LABS = {
    "ch12.launch_bound": ("eager", 9),
    "ch12.skewed_queue": ("static_split", (3_079, 2, 1)),
    "ch12.atomic_batch": ("lane_1", (3_079, 2, 1)),
    "ch12.book_queue": ("cuda_static", (2_311, 3)),
}


def sizes_of(name: str) -> list:
    return [pl.load(name).SIZES["cpu"][0], LABS[name][1]]


def first_dim(size) -> int:
    return size[0] if isinstance(size, tuple) else size


# ---- shape of every lab -----------------------------------------------------------------------

def test_list_labs_has_exactly_the_chapter_labs():
    assert sorted(n for n in pl.list_labs() if n.startswith("ch12.")) == sorted(LABS)


@pytest.mark.parametrize("name", LABS)
def test_lab_shape(name):
    lab = pl.load(name)
    missing = [n for n in REQUIRED_NAMES if not hasattr(lab.module, n)]
    assert not missing, f"{name} lacks {missing}"
    assert isinstance(lab.TITLE, str) and "\n" not in lab.TITLE
    assert lab.variant_names()[0] == LABS[name][0], "the baseline must come first"
    assert len(set(lab.variant_names())) == len(lab.variants)
    assert lab.DTYPES == ["float32"]
    assert set(lab.SIZES) == {"cpu", "gpu"} and all(lab.SIZES.values())
    for size in [*lab.SIZES["cpu"], *lab.SIZES["gpu"], LABS[name][1]]:
        n = first_dim(size)                       # items or rows: never a multiple of a block size
        assert all(n % m for m in (16, 32, 128, 1024)), f"size {size} is aligned to a block size"
        assert isinstance(lab.bytes(size, "float32"), int) and lab.bytes(size, "float32") > 0
        assert isinstance(lab.flops(size, "float32"), int) and lab.flops(size, "float32") > 0


def test_cuda_c_variants_are_named_cuda():
    for name in LABS:
        for fn in pl.load(name).variants:
            if info(fn).backend == "cupy":
                assert fn.__name__.startswith("cuda_") and "cuda" in info(fn).needs, fn.__name__


def test_gpu_sizes_stay_within_memory_budget():
    """Inputs plus output of the largest GPU size, in GB (the brief: at most 8 GB)."""
    for name in LABS:
        lab = pl.load(name)
        for size in lab.SIZES["gpu"]:
            assert lab.bytes(size, "float32") < 2e9, (name, size)


# ---- correctness ------------------------------------------------------------------------------

CASES = [(name, fn.__name__, i) for name in LABS for fn in pl.load(name).variants for i in (0, 1)
         if not (fn.__name__ == "compiled" and i == 1)]      # one Inductor compile (~10 s on 2 cores) is enough


@pytest.mark.parametrize("name, variant, size_index", CASES)
def test_variant_matches_reference(name, variant, size_index):
    lab = pl.load(name)
    fn = lab.get_variant(variant)
    if (why := runnable(fn)) is not None:
        pytest.skip(why)
    size = sizes_of(name)[size_index]
    inputs = lab.make_inputs(size, DEVICE, "float32", seed=1000 + 17 * size_index)
    check = compare(fn(**inputs), lab.reference(**inputs), info(fn).precision or "float32", info(fn).tol)
    assert check.ok, f"{name}.{variant} at size {size}: {check.reason}"


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


# ---- planted bugs: the same check must reject them -------------------------------------------

def step_skips_last_layer(x, w, b):
    from labs.ch12_graphs_scheduling import launch_bound as lb
    return lb.step(x, w[:-1], b[:-1])


def static_floor_ranges(x, cost, a, b, unit):
    """per = tiles // programs (floor): the last tiles belong to nobody."""
    from labs.ch12_graphs_scheduling import _triton as T
    y = torch.full_like(x, float("nan"))
    n = x.numel()
    T.static_kernel[(3,)](x, cost, y, n, a, b, -(-n // 32) // 3, BLOCK=32, UNIT=unit)
    return y


def queue_one_unit_short(x, cost, a, b, unit):
    from labs.ch12_graphs_scheduling import skewed_queue as sq
    return sq.dynamic(x, (cost - 1).clamp_min(0).to(torch.int32), a, b, unit)


def book_wrong_period(x, a, b, unit):
    idx = torch.arange(x.numel(), device=x.device, dtype=torch.float64)
    return x.double() + torch.remainder(idx, 255) * (unit * b)


PLANTED = {
    "ch12.launch_bound": step_skips_last_layer,
    "ch12.skewed_queue": static_floor_ranges,
    "ch12.atomic_batch": queue_one_unit_short,
    "ch12.book_queue": book_wrong_period,
}


@pytest.mark.parametrize("name", LABS)
@pytest.mark.parametrize("size_index", (0, 1))
def test_planted_bug_is_caught(name, size_index):
    lab = pl.load(name)
    size = sizes_of(name)[size_index]
    inputs = lab.make_inputs(size, DEVICE, "float32", seed=2000 + size_index)
    assert not compare(PLANTED[name](**inputs), lab.reference(**inputs), "float32").ok


# ---- the exercise --------------------------------------------------------------------------------

def test_grader_passes_the_solution_and_the_starter_but_fails_a_wrong_answer():
    from labs.ch12_graphs_scheduling import solutions
    good = pl.grade("ch12.skewed_queue", solutions.dynamic_queue)
    assert good.correct and "correct at sizes" in str(good)
    starter = pl.grade("ch12.skewed_queue", pl.load("ch12.skewed_queue").static_split)
    assert starter.correct                                    # the committed starter is correct, only slow
    bad = pl.grade("ch12.skewed_queue", queue_one_unit_short)
    assert not bad.passed and "NOT YET" in str(bad)


def test_solution_is_the_lab_variant():
    from labs.ch12_graphs_scheduling import _triton, skewed_queue, solutions
    assert solutions.dynamic_queue is skewed_queue.dynamic_queue
    assert solutions.dynamic_kernel is _triton.dynamic_kernel


# ---- the graph variant's bookkeeping -------------------------------------------------------------

def test_graph_variant_explains_what_it_needs():
    from labs.ch12_graphs_scheduling import launch_bound as lb
    inp = lb.make_inputs(3, "cpu", "float32", 0)
    with pytest.raises(ValueError, match="CUDA tensors"):
        lb.graph_for(**inp)
    assert pl.load("ch12.launch_bound").TIMING == "cpu"        # wall clock of back-to-back steps


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
    env = dict(os.environ, PERFLAB_TIER="gpu", TRITON_INTERPRET="0")
    out = subprocess.run([sys.executable, "-c", TRITON_OFFLINE], capture_output=True, text=True, timeout=300,
                         env=env, cwd=REPO)
    if out.returncode != 0 and "ptxas" in out.stderr.lower() and "not found" in out.stderr.lower():
        pytest.skip("Triton's ptxas is unavailable")
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.split("\n")
    for arch in ("75", "90"):
        got = {ln.split()[1]: ln.split()[2:] for ln in lines if ln.startswith(arch + " ")}
        assert got["static_kernel"] == ["True", "0"] and got["grid_kernel"] == ["True", "0"]
        assert got["dynamic_kernel"][0] == "True" and int(got["dynamic_kernel"][1]) >= 1
        assert int(got["lane_queue_kernel"][1]) >= 2
