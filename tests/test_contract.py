"""One contract for every lab in labs/: its shape and options, odd sizes, seeded inputs, every variant right at
two sizes (through the runner's own gate), and planted bugs the gate must catch. The data: tests/labtests.py
(baselines, second sizes) and tests/planted.py (the bugs)."""
from __future__ import annotations

import inspect
import re

import pytest
import torch

import perflab as pl
from perflab.check import tolerance
from perflab.lab import BACKENDS, REQUIRED_NAMES, LabOptions, info, options_of
from perflab.runner import check_variant

import planted
from labtests import EXACT, LABS, ONE_SIZE, REFUSES, WRONG_ON_PURPOSE, here, relabel, sizes_of

ALL = pl.list_labs()


def test_loader_errors_name_the_fix():
    with pytest.raises(ValueError, match="looks like 'ch07.copy_ladder'"):
        pl.load("copy_ladder")
    with pytest.raises(ValueError, match="has no variant"):
        pl.load(ALL[0]).get_variant("nope")


def test_every_lab_has_a_row_in_the_tables():
    """A new lab gets its baseline and a second odd size in tests/labtests.py LABS (and bugs in planted.py)."""
    assert sorted(ALL) == sorted(LABS), "add the new lab to tests/labtests.py LABS, or drop the old one"
    assert set(planted.PLANTED) <= set(ALL)


# ---- shape, options and sizes -----------------------------------------------------------------------

def dims(size) -> tuple:
    return size if isinstance(size, tuple) else (size,)


@pytest.mark.parametrize("name", ALL)
def test_lab_shape(name):
    lab = pl.load(name)
    missing = [n for n in REQUIRED_NAMES if not hasattr(lab.module, n)]
    assert not missing, f"{name} lacks {missing}"
    assert isinstance(lab.TITLE, str) and lab.TITLE and "\n" not in lab.TITLE
    names = lab.variant_names()
    assert names[0] == LABS[name][0], "the baseline must come first"
    assert len(set(names)) == len(names), f"{name}: two variants share a name"
    assert lab.DTYPES and all(isinstance(getattr(torch, d, None), torch.dtype) for d in lab.DTYPES), lab.DTYPES
    assert set(lab.SIZES) >= {"cpu", "gpu"} and lab.SIZES["cpu"] and lab.SIZES["gpu"]
    for fn in lab.variants:
        meta = info(fn)
        assert list(inspect.signature(fn).parameters), f"{name}.{fn.__name__} takes no inputs"
        assert meta.backend in BACKENDS and meta.note, f"{name}.{fn.__name__}: decorate with pl.variant(note=...)"
        if meta.backend == "cupy":
            assert "cuda" in meta.needs, f"{name}.{fn.__name__}: CuPy variants need a GPU: needs=('cuda',)"


@pytest.mark.parametrize("name", ALL)
def test_options_are_valid(name):
    """pl.LabOptions checks each value when the lab loads; here, what needs the lab beside it."""
    lab = pl.load(name)
    options = lab.options
    assert isinstance(options, LabOptions) and options == options_of(lab.module)
    if options.generated_variants is not None:
        clash = [v for v in lab.variant_names() if re.fullmatch(options.generated_variants, v)]
        assert not clash, f"{name}: generated_variants also matches the listed variants {clash}"
    if options.sweep is not None:
        sweep = options.sweep if isinstance(options.sweep, list) else [s for t in options.sweep.values() for s in t]
        for size in sweep:
            assert any(isinstance(d, int) and d % 16 for d in dims(size)), f"{name} sweep size {size} is aligned to 16"


@pytest.mark.parametrize("name", ALL)
def test_sizes_are_odd_and_costed(name):
    """Every size leaves a partial block somewhere (aligned sizes hide indexing bugs); bytes/flops are counts."""
    lab = pl.load(name)
    for size in [*lab.SIZES["cpu"], *lab.SIZES["gpu"], LABS[name][1]]:
        assert any(isinstance(d, int) and d % 16 for d in dims(size)), f"{name} size {size} is aligned to 16"
        for dtype in lab.DTYPES:
            nbytes, nflops = lab.bytes(size, dtype), lab.flops(size, dtype)
            assert isinstance(nbytes, int) and nbytes > 0, f"{name}.bytes({size}, {dtype}) = {nbytes!r}"
            assert isinstance(nflops, int) and nflops >= 0, f"{name}.flops({size}, {dtype}) = {nflops!r}"


# inputs that are deliberately small-scale (weights), so the spread check uses a lower bound
SMALL_SCALE_INPUTS = {("ch14.graph_breaks", "w")}


@pytest.mark.parametrize("name", ALL)
def test_inputs_are_seeded_random_data(name):
    """Same seed, same inputs; another seed, other inputs; never constant. `out` buffers are outputs."""
    lab = pl.load(name)
    size = lab.SIZES["cpu"][0]
    one, same, other = (lab.make_inputs(size, "cpu", lab.DTYPES[0], s) for s in (1, 1, 2))
    assert isinstance(one, dict) and one.keys() == same.keys() == other.keys()
    seeded = [key for key, t in one.items() if isinstance(t, torch.Tensor) and t.numel() >= 2 and key != "out"]
    assert seeded or name == "ch16.cuda_graph_decode" or any(not isinstance(t, torch.Tensor) for t in one.values())
    for key in seeded:
        t = one[key]
        assert torch.equal(t, same[key]) and not torch.equal(t, other[key]), f"{name}: {key} is not seeded"
        floor = 0.05 if (name, key) in SMALL_SCALE_INPUTS else 0.1
        assert t.float().std() > floor, f"{name}: {key} looks constant"


# ---- every variant matches the reference ---------------------------------------------------------

def cases(name):
    """(size index, dtype): both sizes in the first dtype, each further dtype at the small second size."""
    dtypes = pl.load(name).DTYPES
    return [(0, dtypes[0]), (1, dtypes[0])] + [(1, d) for d in dtypes[1:]]


VARIANT_CASES = [(name, fn.__name__, i, dtype) for name in ALL for fn in pl.load(name).variants
                 for i, dtype in cases(name) if not (i and (name, fn.__name__) in ONE_SIZE)]


@pytest.mark.parametrize("name, variant, i, dtype", VARIANT_CASES)
def test_variant_matches_reference(name, variant, i, dtype):
    lab = pl.load(name)
    fn, why = here(name, lab.get_variant(variant))
    if fn is None:
        pytest.skip(why)
    size = sizes_of(name)[i]
    row = check_variant(lab, relabel(fn, tol=0.0) if name in EXACT else fn, size, dtype, seed=1000 + 17 * i)
    if (name, variant, dtype) in REFUSES:
        assert row.status == "error" and REFUSES[name, variant, dtype] in row.why, row
        return
    if (name, variant) in WRONG_ON_PURPOSE:
        assert row.status == "wrong", f"{name}.{variant} is a shortcut the gate must reject: {row.status}"
        return
    assert row.status in ("correct", "checked"), f"{name}.{variant} at {size}, {dtype}: {row.status}: {row.why}"


# ---- planted bugs: the same gate must reject them -------------------------------------------------

def loosest(lab, dtype: str) -> float:
    """The widest tolerance any variant of the lab is granted: a planted bug must fail even that."""
    return max(meta.tol if meta.tol is not None else tolerance(meta.precision or dtype)
               for meta in map(info, lab.variants))


def first_runnable(name: str):
    """A variant that runs here to corrupt: a plain torch one if there is (interpreted Triton is slow)."""
    ready = [fn for fn, _ in (here(name, v) for v in pl.load(name).variants) if fn is not None]
    return next((fn for fn in ready if info(fn).backend == "torch"), ready[0] if ready else None)


PLANTED_CASES = [(name, getattr(bug, "__name__", bug), i) for name in ALL for bug in planted.bugs_of(name)
                 for i in ((0,) if isinstance(bug, str) else (0, 1))]


@pytest.mark.parametrize("name, bug, i", PLANTED_CASES)
def test_planted_bug_is_caught(name, bug, i):
    lab = pl.load(name)
    dtype = lab.DTYPES[0]
    if bug in planted.CORRUPTIONS:
        right = first_runnable(name)
        if right is None:
            pytest.skip("no variant of this lab runs here")
        wrong = planted.corrupted(right, bug)
    else:
        wrong = next(b for b in planted.PLANTED[name] if b.__name__ == bug)
        if not hasattr(wrong, "perflab"):
            wrong = relabel(wrong, tol=loosest(lab, dtype))
        wrong, why = here(name, wrong)
        if wrong is None:
            pytest.skip(why)
    size = sizes_of(name)[i]
    row = check_variant(lab, wrong, size, dtype, seed=2000 + i)
    assert row.status == "wrong", f"{name}: {bug} at {size} was {row.status}: {row.why}"
    if bug != "wrong_dtype":
        assert "dtype" not in row.why, f"{name}: {bug} was caught for its dtype only: {row.why}"


GRADED_CASES = [(name, bug.__name__) for name in planted.GRADED for bug in planted.PLANTED[name]]


@pytest.mark.parametrize("name, bug", GRADED_CASES)
def test_grader_fails_planted_bug(name, bug):
    wrong = next(b for b in planted.PLANTED[name] if b.__name__ == bug)
    assert not pl.grade(name, wrong).correct
