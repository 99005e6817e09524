"""Chapter 6 labs: module shape, correctness of every runnable variant at two non-aligned sizes, planted
bugs that must fail, and the exercise grader on a right and a wrong answer."""
from __future__ import annotations


import pytest
import torch
import triton

import perflab as pl
import labtests
from perflab.check import compare
from perflab.lab import REQUIRED_NAMES, info

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"

# lab -> (baseline, a second small size aligned to no block size)
LABS = {
    "ch06.first_kernel": ("torch_saxpy", 4_099),
    "ch06.block_sweep": ("cuda_32", 4_099),
    "ch06.triton_sweep": ("b32_w1", 4_099),
    "ch06.unified_memory": ("managed_fault", 5_003),
}



def runnable(fn) -> str | None:
    """The runner's rule for CuPy variants; the torch ones run here too (explicit_copy copies host to host)."""
    return labtests.runnable(fn) if info(fn).backend == "cupy" else None

def sizes_of(name: str) -> list:
    return [pl.load(name).SIZES["cpu"][0], LABS[name][1]]


# ---- shape of every lab -----------------------------------------------------------------------

def test_list_labs_has_exactly_the_chapter_labs():
    assert sorted(n for n in pl.list_labs() if n.startswith("ch06.")) == sorted(LABS)


@pytest.mark.parametrize("name", LABS)
def test_lab_shape(name):
    lab = pl.load(name)
    assert not [n for n in REQUIRED_NAMES if not hasattr(lab.module, n)]
    assert isinstance(lab.TITLE, str) and "\n" not in lab.TITLE
    assert lab.variant_names()[0] == LABS[name][0], "the baseline must come first"
    assert len(set(lab.variant_names())) == len(lab.variants)
    assert lab.DTYPES == ["float32"]
    assert set(lab.SIZES) == {"cpu", "gpu"} and all(lab.SIZES.values())
    for size in [*lab.SIZES["cpu"], *lab.SIZES["gpu"], LABS[name][1]]:
        assert all(size % m for m in (16, 32, 128)), f"size {size} is aligned to a block size"
        assert isinstance(lab.bytes(size, "float32"), int) and lab.bytes(size, "float32") > 0
        assert isinstance(lab.flops(size, "float32"), int) and lab.flops(size, "float32") >= 0


def test_gpu_sizes_fit_the_budget():
    """One call moves at most ~1.6 GB (0.2–60 ms on an H200); managed memory stays under 1 GiB."""
    for name in LABS:
        lab = pl.load(name)
        for size in lab.SIZES["gpu"]:
            assert lab.bytes(size, "float32") <= 1.7e9, (name, size)
    um = pl.load("ch06.unified_memory")
    assert max(um.SIZES["gpu"]) * 4 < um.MAX_MANAGED_BYTES


def test_inputs_are_fresh_random_data():
    lab = pl.load("ch06.first_kernel")
    one, same, other = (lab.make_inputs(1_003, "cpu", "float32", s) for s in (1, 1, 2))
    for key in ("x", "y"):
        assert one[key].std() > 0.5 and torch.equal(one[key], same[key]) and not torch.equal(one[key], other[key])
    assert 0.5 <= one["a"] < 1.5 and one["a"] != other["a"]
    um = pl.load("ch06.unified_memory").make_inputs(1_003, "cpu", "float32", 3)
    assert um["x"] is None and um["x_host"].device.type == "cpu" and um["x_host"].std() > 0.5


def test_sweeps_cover_the_settings():
    sweep, tsweep = pl.load("ch06.block_sweep"), pl.load("ch06.triton_sweep")
    assert [fn.threads for fn in sweep.variants] == [32, 33, 64, 96, 128, 256, 512, 1024]
    assert sweep.variant_names() == [f"cuda_{t}" for t in sweep.module.THREADS]
    assert [(fn.block, fn.num_warps) for fn in tsweep.variants] == list(tsweep.module.SETTINGS)
    assert sweep.module.cuda_33.threads == 33          # reachable by name (ncu's profile_target uses it)


# ---- correctness ------------------------------------------------------------------------------

CASES = [(name, fn.__name__, i) for name in LABS for fn in pl.load(name).variants for i in (0, 1)]


@pytest.mark.parametrize("name, variant, size_index", CASES)
def test_variant_matches_reference(name, variant, size_index):
    lab = pl.load(name)
    fn = lab.get_variant(variant)
    if (why := runnable(fn)) is not None:
        pytest.skip(why)
    size = sizes_of(name)[size_index]
    inputs = lab.make_inputs(size, DEVICE, "float32", seed=1000 + 17 * size_index)
    check = compare(fn(**inputs), lab.reference(**inputs), "float32")
    assert check.ok, f"{name}.{variant} at size {size}: {check.reason}"


# ---- planted bugs: the same check must reject them -------------------------------------------

def saxpy_forgets_the_tail(x, y, a):
    from labs.ch06_gpu_architecture import first_kernel
    out = torch.zeros_like(x)
    n = x.numel() - x.numel() % 32                   # a grid of n // 32 full blocks, no guard needed... and no tail
    first_kernel.saxpy_kernel[(n // 32,)](x, y, out, float(a), n, BLOCK=32, num_warps=1)
    return out


def saxpy_swaps_x_and_y(x, y, a):
    return torch.add(x, y, alpha=a)


def um_forgets_the_shift(x, x_host):
    return 2 * x_host.to(DEVICE)


PLANTED = {"ch06.first_kernel": saxpy_forgets_the_tail, "ch06.block_sweep": saxpy_swaps_x_and_y,
           "ch06.triton_sweep": saxpy_forgets_the_tail, "ch06.unified_memory": um_forgets_the_shift}


@pytest.mark.parametrize("name", LABS)
@pytest.mark.parametrize("size_index", (0, 1))
def test_planted_bug_is_caught(name, size_index):
    lab = pl.load(name)
    inputs = lab.make_inputs(sizes_of(name)[size_index], DEVICE, "float32", seed=2000 + size_index)
    assert not compare(PLANTED[name](**inputs), lab.reference(**inputs), "float32").ok


def test_explicit_copy_logic_on_this_device():
    """The explicit-copy path is plain torch: check it here even where the runner skips it (needs cuda)."""
    um = pl.load("ch06.unified_memory")
    inputs = um.make_inputs(5_003, DEVICE, "float32", 7)
    assert compare(um.explicit_copy(**inputs), um.reference(**inputs), "float32").ok


def test_managed_variants_explain_the_missing_gpu():
    um = pl.load("ch06.unified_memory")
    with pytest.raises(ValueError, match="needs a CUDA GPU"):
        um.module._on_host_then_gpu(None, to_gpu_first=True)


# ---- the exercise -----------------------------------------------------------------------------

def starter_saxpy(x, y, a):
    """The notebook's starter: correct, launched with BLOCK=32 and one warp."""
    from labs.ch06_gpu_architecture import first_kernel
    out = torch.empty_like(x)
    n = x.numel()
    first_kernel.saxpy_kernel[(triton.cdiv(n, 32),)](x, y, out, a, n, BLOCK=32, num_warps=1)
    return out


def test_grader_passes_the_starter_for_correctness():
    g = pl.grade("ch06.first_kernel", starter_saxpy)
    assert g.correct, g.lines


def test_grader_fails_a_wrong_answer():
    g = pl.grade("ch06.first_kernel", saxpy_forgets_the_tail)
    assert not g.correct and not g.passed
    assert "differ" in " ".join(g.lines) or "NaN" in " ".join(g.lines)


def test_solution_is_the_lab_variant():
    from labs.ch06_gpu_architecture import first_kernel, solutions
    assert solutions.triton_saxpy is first_kernel.triton_saxpy
