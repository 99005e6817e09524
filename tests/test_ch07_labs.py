"""Chapter 7 labs: module shape, correctness of every runnable variant, and planted bugs that must fail."""
from __future__ import annotations


import pytest
import torch

import perflab as pl
from labtests import runnable
from perflab.lab import REQUIRED_NAMES, info

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"

# lab -> (baseline, a second small size that is not aligned to any block size)
LABS = {
    "ch07.copy_ladder": ("strided_32", 33_331),
    "ch07.aos_soa": ("triton_aos", 5_003),
    "ch07.matmul_ladder": ("cuda_naive_uncoalesced", 67),
    "ch07.transpose": ("cuda_naive", (97, 45)),
    "ch07.saxpy2d": ("column_walk", (131, 67)),
}
TOL = {"float32": 1e-5, "tf32": 5e-3}     # normwise and worst-element error, relative to the reference


def check(out: torch.Tensor, ref: torch.Tensor, tol: float) -> str | None:
    """None when ``out`` matches ``ref``, else what is wrong."""
    if tuple(out.shape) != tuple(ref.shape):
        return f"shape {tuple(out.shape)}, expected {tuple(ref.shape)}"
    out, ref = out.detach().double().cpu(), ref.detach().double().cpu()
    if not torch.isfinite(out).all():
        return "non-finite values"
    diff = (out - ref).abs()
    normwise = (diff.norm() / ref.norm().clamp_min(1e-30)).item()
    worst = (diff.max() / ref.abs().max().clamp_min(1e-30)).item()
    if normwise > tol or worst > tol:
        return f"normwise error {normwise:.2e}, worst element {worst:.2e} (tolerance {tol:.0e})"
    return None


def tolerance(fn, dtype: str = "float32") -> float:
    meta = info(fn)
    return meta.tol if meta.tol is not None else TOL[meta.precision or dtype]


def sizes_of(name: str) -> list:
    return [pl.load(name).SIZES["cpu"][0], LABS[name][1]]


# ---- shape of every lab -----------------------------------------------------------------------

def test_list_labs_has_exactly_the_chapter_labs():
    assert sorted(n for n in pl.list_labs() if n.startswith("ch07.")) == sorted(LABS)


@pytest.mark.parametrize("name", LABS)
def test_lab_shape(name):
    lab = pl.load(name)
    missing = [n for n in REQUIRED_NAMES if not hasattr(lab.module, n)]
    assert not missing, f"{name} lacks {missing}"
    assert isinstance(lab.TITLE, str) and "\n" not in lab.TITLE
    assert lab.variant_names()[0] == LABS[name][0], "the baseline must come first"
    assert len(set(lab.variant_names())) == len(lab.variants)
    assert lab.DTYPES[0] == "float32"
    assert set(lab.SIZES) == {"cpu", "gpu"} and all(lab.SIZES.values())
    if lab.target is not None:
        assert 0 < lab.target <= 1
    for size in [*lab.SIZES["cpu"], *lab.SIZES["gpu"], LABS[name][1]]:
        dims = size if isinstance(size, tuple) else (size,)
        assert all(d % m for d in dims for m in (16, 32, 128)), f"size {size} is aligned to a block size"
        assert isinstance(lab.bytes(size, "float32"), int) and lab.bytes(size, "float32") > 0
        assert isinstance(lab.flops(size, "float32"), int) and lab.flops(size, "float32") >= 0


@pytest.mark.parametrize("name", LABS)
def test_cuda_c_variants_are_named_cuda(name):
    """Chapter convention (backend, note and seeded inputs are checked for every lab in test_lab_contract)."""
    for fn in pl.load(name).variants:
        assert fn.__name__.startswith("cuda_") == (info(fn).backend == "cupy"), fn.__name__


# ---- correctness ------------------------------------------------------------------------------

CASES = [(name, fn.__name__, size_index)
         for name in LABS for fn in pl.load(name).variants for size_index in (0, 1)]


@pytest.mark.parametrize("name, variant, size_index", CASES)
def test_variant_matches_reference(name, variant, size_index):
    lab = pl.load(name)
    fn = lab.get_variant(variant)
    if (why := runnable(fn)) is not None:
        pytest.skip(why)
    size = sizes_of(name)[size_index]
    inputs = lab.make_inputs(size, DEVICE, "float32", seed=1000 + 17 * size_index)
    problem = check(fn(**inputs), lab.reference(**inputs), tolerance(fn))
    assert problem is None, f"{name}.{variant} at size {size}: {problem}"


# ---- planted bugs: the same check must reject them -------------------------------------------

def copy_skips_last(x):
    y = torch.zeros_like(x)
    y[:-1] = x[:-1]
    return y


def particles_wrong_field(aos, soa, dt):
    return torch.add(soa[0:3], soa[4:7], alpha=dt)          # velocity read one field too far


def matmul_drops_k_tail(a, b):
    k = a.shape[1] - a.shape[1] % 16                          # forgets the last partial k block
    return a[:, :k] @ b[:k]


def transpose_swapped_indices(x):
    return x.reshape(x.shape[1], x.shape[0]).clone()          # right shape, wrong element order


def saxpy_mask_off_by_one_row(x, a, b):
    from labs.ch07_memory_access import saxpy2d
    rows, cols = x.shape
    y = torch.zeros_like(x)
    grid = (-(-rows * cols // saxpy2d.BLOCK),)
    saxpy2d._saxpy_row_walk_kernel[grid](x, y, a, b, rows - 1, cols, BLOCK=saxpy2d.BLOCK)
    return y


PLANTED = {
    "ch07.copy_ladder": copy_skips_last,
    "ch07.aos_soa": particles_wrong_field,
    "ch07.matmul_ladder": matmul_drops_k_tail,
    "ch07.transpose": transpose_swapped_indices,
    "ch07.saxpy2d": saxpy_mask_off_by_one_row,
}


@pytest.mark.parametrize("name", LABS)
@pytest.mark.parametrize("size_index", (0, 1))
def test_planted_bug_is_caught(name, size_index):
    lab = pl.load(name)
    size = sizes_of(name)[size_index]
    inputs = lab.make_inputs(size, DEVICE, "float32", seed=2000 + size_index)
    assert check(PLANTED[name](**inputs), lab.reference(**inputs), TOL["float32"]) is not None


def test_solution_is_the_lab_variant():
    from labs.ch07_memory_access import saxpy2d, solutions
    assert solutions.row_walk is saxpy2d.row_walk


def test_cuda_sources_declare_every_kernel():
    from labs.ch07_memory_access import _cuda
    for name, source in _cuda.SOURCES.items():
        assert f'extern "C" __global__ void {name}(' in source
    with pytest.raises(ValueError, match="no CUDA kernel"):
        _cuda.kernel("copy_nothing")


def test_bytes_and_flops_are_the_minimum():
    copy, mm, aos = pl.load("ch07.copy_ladder"), pl.load("ch07.matmul_ladder"), pl.load("ch07.aos_soa")
    assert copy.bytes(1_000_003, "float32") == 8 * 1_000_003 and copy.flops(1_000_003, "float32") == 0
    assert mm.flops(131, "float32") == 2 * 131 ** 3 and mm.bytes(131, "float32") == 3 * 131 * 131 * 4
    assert aos.bytes(100_003, "float32") == 9 * 4 * 100_003
