"""Every lab in labs/ follows the lab shape, and the loader explains bad names."""
import inspect

import pytest

import perflab as pl

LABS = pl.list_labs()


def test_there_are_labs():
    assert any(n.startswith("ch07.") for n in LABS)


@pytest.mark.parametrize("name", LABS)
def test_lab_shape(name):
    lab = pl.load(name)
    assert lab.TITLE and lab.DTYPES and lab.variants
    assert set(lab.SIZES) >= {"cpu", "gpu"} and lab.SIZES["cpu"] and lab.SIZES["gpu"]
    for tier, sizes in lab.SIZES.items():
        for size in sizes:
            dims = size if isinstance(size, tuple) else (size,)
            assert any(d % 16 for d in dims), f"{name} {tier} size {size} is aligned to 16: wrong indexing would pass"
    for fn in lab.variants:
        params = list(inspect.signature(fn).parameters)
        assert params, f"{name}.{fn.__name__} takes no inputs"
    size = lab.SIZES["cpu"][0]
    assert lab.bytes(size, lab.DTYPES[0]) > 0 and lab.flops(size, lab.DTYPES[0]) >= 0


def test_loader_errors_name_the_fix():
    with pytest.raises(ValueError, match="looks like 'ch07.copy_ladder'"):
        pl.load("copy_ladder")
    with pytest.raises(ValueError, match="no chapter 'ch99'"):
        pl.load("ch99.nothing")
    with pytest.raises(ValueError, match="no lab 'ch07.nothing'"):
        pl.load("ch07.nothing")
    with pytest.raises(ValueError, match="has no variant"):
        pl.load(LABS[0]).get_variant("nope")


# inputs that are deliberately small-scale (weights), so the spread check uses a lower bound
SMALL_SCALE_INPUTS = {("ch14.graph_breaks", "w")}


@pytest.mark.parametrize("name", LABS)
def test_variants_declare_backend_and_note(name):
    from perflab.lab import BACKENDS, info
    for fn in pl.load(name).variants:
        meta = info(fn)
        assert meta.backend in BACKENDS and meta.note, f"{name}.{fn.__name__}: decorate with pl.variant(note=...)"
        if meta.backend == "cupy":
            assert "cuda" in meta.needs, f"{name}.{fn.__name__}: CuPy variants need a GPU"


@pytest.mark.parametrize("name", LABS)
def test_inputs_are_seeded_random_data(name):
    """Same seed, same inputs; another seed, other inputs; never constant. `out` buffers are outputs."""
    import torch
    lab = pl.load(name)
    size = lab.SIZES["cpu"][0]
    one, same, other = (lab.make_inputs(size, "cpu", lab.DTYPES[0], s) for s in (1, 1, 2))
    for key, t in one.items():
        if not isinstance(t, torch.Tensor) or t.numel() < 2 or key == "out":
            continue
        assert torch.equal(t, same[key]) and not torch.equal(t, other[key]), f"{name}: {key} is not seeded"
        floor = 0.05 if (name, key) in SMALL_SCALE_INPUTS else 0.1
        assert t.float().std() > floor, f"{name}: {key} looks constant"
