"""Lab options are declared once (LabOptions) and checked at load; chapters list their labs (LABS)."""
import importlib
import types

import pytest

import perflab as pl
from perflab.lab import chapter, load


def _lab_module(**globals_):
    mod = types.ModuleType("ch99_fake.lab")
    mod.TITLE, mod.SIZES, mod.DTYPES = "fake", {"cpu": [3], "gpu": [3]}, ["float32"]
    mod.make_inputs = mod.reference = mod.bytes = mod.flops = lambda *a, **k: 0
    mod.variants = [lambda x: x]
    vars(mod).update(globals_)
    return mod


def test_a_misspelt_option_names_the_valid_ones():
    with pytest.raises(TypeError, match=r"no option 'targte'.*'target'"):
        pl.LabOptions(targte=0.8)


@pytest.mark.parametrize("bad", [dict(target=1.5), dict(target=0), dict(timing="wall"), dict(bandwidth="hbm"),
                                 dict(generated_variants="cuda_(t"), dict(expects_inf="yes"), dict(sweep=3)])
def test_a_bad_option_value_is_refused_with_what_it_must_be(bad):
    (name, value), = bad.items()
    with pytest.raises(TypeError, match=rf"LabOptions\({name}=.*must be"):
        pl.LabOptions(**bad)


def test_options_are_frozen_and_default_to_the_device_copy():
    opts = pl.LabOptions(target=0.8)
    assert (opts.target, opts.bandwidth, opts.timing, opts.expects_inf) == (0.8, "copy", "auto", False)
    assert repr(opts) == "LabOptions(target=0.8)"
    with pytest.raises(AttributeError):
        opts.target = 0.5


def test_a_lab_reads_its_options_and_a_legacy_global_is_an_error():
    assert load(_lab_module(OPTIONS=pl.LabOptions(timing="cpu"))).options.timing == "cpu"
    assert load(_lab_module()).options == pl.LabOptions()
    with pytest.raises(TypeError, match=r"\['TARGET'\].*OPTIONS = pl.LabOptions\(target=...\)"):
        load(_lab_module(TARGET=0.8))
    with pytest.raises(TypeError, match="must be a perflab.LabOptions"):
        load(_lab_module(OPTIONS={"target": 0.8}))
    assert load("ch03.h2d_copy").options.bandwidth == "h2d_pinned"


def test_chapters_list_their_labs_and_a_helper_is_not_a_lab():
    ch09 = chapter("ch09")
    assert "l2norm" in ch09.labs and "traffic" not in ch09.labs
    with pytest.raises(ValueError, match="ch09's labs"):
        load("ch09.traffic")
    assert chapter("ch17").measurements == ("calibration",)
    assert any(r.lab == "ch07.copy_ladder" for r in chapter("ch07").ratios())
    assert all(c.lab.startswith("ch09.") for c in chapter("ch09").claims())


def test_a_chapter_whose_labs_name_a_missing_module_is_an_error(monkeypatch):
    package = importlib.import_module("labs.ch07_memory_access")
    monkeypatch.setattr(package, "LABS", [*package.LABS, "copy_ladderr"])
    with pytest.raises(ValueError, match=r"names \['copy_ladderr'\], which are not modules"):
        pl.list_labs()
    monkeypatch.delattr(package, "LABS")
    with pytest.raises(TypeError, match=r"must list its labs: LABS = \[...\]"):
        chapter("ch07")
