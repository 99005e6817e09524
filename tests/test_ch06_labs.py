"""Chapter 6 labs: sweeps and budgets, fresh inputs, the explicit copy here, the grader on a right and a wrong
answer (shape, every variant at two sizes, the explicit copy on a CPU, planted bugs: tests/test_contract.py)."""
from __future__ import annotations

import pytest
import torch
import triton

import perflab as pl
import bugs_early as bugs

CHAPTER = ["ch06.first_kernel", "ch06.block_sweep", "ch06.triton_sweep", "ch06.unified_memory"]


def test_gpu_sizes_fit_the_budget():
    """One call moves at most ~1.6 GB (0.2–60 ms on an H200); managed memory stays under 1 GiB."""
    for name in CHAPTER:
        lab = pl.load(name)
        for size in lab.SIZES["gpu"]:
            assert lab.bytes(size, "float32") <= 1.7e9, (name, size)
    um = pl.load("ch06.unified_memory")
    assert max(um.SIZES["gpu"]) * 4 < um.MAX_MANAGED_BYTES


def test_inputs_are_fresh_random_data():
    lab = pl.load("ch06.first_kernel")
    one, other = (lab.make_inputs(1_003, "cpu", "float32", s) for s in (1, 2))    # tensor seeding: test_contract
    assert one["x"].std() > 0.5 and one["y"].std() > 0.5
    assert 0.5 <= one["a"] < 1.5 and one["a"] != other["a"]
    um = pl.load("ch06.unified_memory").make_inputs(1_003, "cpu", "float32", 3)
    assert um["x"] is None and um["x_host"].device.type == "cpu" and um["x_host"].std() > 0.5


def test_sweeps_cover_the_settings():
    sweep, tsweep = pl.load("ch06.block_sweep"), pl.load("ch06.triton_sweep")
    assert [fn.threads for fn in sweep.variants] == [32, 33, 64, 96, 128, 256, 512, 1024]
    assert sweep.variant_names() == [f"cuda_{t}" for t in sweep.module.THREADS]
    assert [(fn.block, fn.num_warps) for fn in tsweep.variants] == list(tsweep.module.SETTINGS)
    assert sweep.module.cuda_33.threads == 33          # reachable by name (ncu's profile_target uses it)


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
    g = pl.grade("ch06.first_kernel", bugs.ch06_saxpy_forgets_the_tail)
    assert not g.correct and not g.passed
    assert "differ" in " ".join(g.lines) or "NaN" in " ".join(g.lines)


def test_solution_is_the_lab_variant():
    from labs.ch06_gpu_architecture import first_kernel, solutions
    assert solutions.triton_saxpy is first_kernel.triton_saxpy
