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
