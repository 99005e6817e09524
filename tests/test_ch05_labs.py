"""Chapter 5 transform lab: shape, every variant equal to the reference at non-aligned sizes, planted bugs fail."""
from __future__ import annotations

import pytest
import torch

import perflab as pl
from perflab.check import compare
from perflab.lab import BACKENDS, REQUIRED_NAMES, info

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
LAB = "ch05.transforms"
SECOND_SIZE = 67                     # a second batch size, aligned to nothing


def test_list_labs_has_exactly_the_chapter_labs():
    assert sorted(n for n in pl.list_labs() if n.startswith("ch05.")) == [LAB]


def test_lab_shape():
    lab = pl.load(LAB)
    assert not [n for n in REQUIRED_NAMES if not hasattr(lab.module, n)]
    assert lab.variant_names()[0] == "python_loop", "the baseline must come first"
    assert lab.DTYPES == ["float32"] and set(lab.SIZES) == {"cpu", "gpu"}
    for size in [*lab.SIZES["cpu"], *lab.SIZES["gpu"], SECOND_SIZE]:
        assert all(size % m for m in (16, 32, 128)), f"size {size} is aligned to a block size"
        assert isinstance(lab.bytes(size), int) and lab.bytes(size) > 0
        assert isinstance(lab.flops(size), int) and lab.flops(size) > 0
    for fn in lab.variants:
        assert info(fn).backend in BACKENDS and info(fn).note


def test_inputs_are_fresh_random_data():
    lab = pl.load(LAB)
    one, same, other = (lab.make_inputs(301, "cpu", "float32", s) for s in (1, 1, 2))
    assert one["images"].float().std() > 10 and 0.2 < one["flip"].float().mean() < 0.8
    assert torch.equal(one["images"], same["images"]) and not torch.equal(one["images"], other["images"])


@pytest.mark.parametrize("variant", [fn.__name__ for fn in pl.load(LAB).variants])
@pytest.mark.parametrize("size_index", [0, 1])
def test_variant_matches_reference(variant, size_index):
    lab = pl.load(LAB)
    size = [lab.SIZES["cpu"][0], SECOND_SIZE][size_index]
    inputs = lab.make_inputs(size, DEVICE, "float32", seed=500 + size_index)
    out = lab.get_variant(variant)(**inputs)
    assert out.dtype == torch.float32 and out.device.type == DEVICE
    check = compare(out, lab.reference(**inputs), "float32")
    assert check.ok, f"{variant} at size {size}: {check.reason}"


# ---- planted bugs: the same gate must reject them ----------------------------------------------

def flips_none(images, flip, mean, std):
    return pl.load(LAB).get_variant("torch_batched")(images, torch.zeros_like(flip), mean, std)


def flips_the_wrong_axis(images, flip, mean, std):
    return pl.load(LAB).get_variant("torch_batched")(images.transpose(-1, -2), flip, mean, std).transpose(-1, -2)


def swaps_mean_and_std(images, flip, mean, std):
    return pl.load(LAB).get_variant("torch_batched")(images, flip, std, mean)


def forgets_the_last_image(images, flip, mean, std):
    out = pl.load(LAB).get_variant("torch_batched")(images, flip, mean, std)
    out[-1] = 0
    return out


@pytest.mark.parametrize("bug", [flips_none, flips_the_wrong_axis, swaps_mean_and_std, forgets_the_last_image])
def test_planted_bugs_are_caught(bug):
    lab = pl.load(LAB)
    inputs = lab.make_inputs(SECOND_SIZE, DEVICE, "float32", seed=3)
    assert not compare(bug(**inputs), lab.reference(**inputs), "float32").ok


def test_runner_marks_a_wrong_variant_and_does_not_time_it():
    r = pl.run(LAB, size=SECOND_SIZE, variants=["torch_batched", swaps_mean_and_std], rep_ms=5, record=False)
    assert r["torch_batched"].status in ("timed", "checked")
    assert r["swaps_mean_and_std"].status == "wrong" and r["swaps_mean_and_std"].measurement is None


def test_grader_passes_the_solution_and_the_starter_and_fails_a_bug():
    from labs.ch05_data_pipeline import solutions
    assert pl.grade(LAB, solutions.torch_batched).correct
    assert pl.grade(LAB, pl.load(LAB).get_variant("python_loop")).correct
    assert not pl.grade(LAB, flips_none).correct
