"""Chapter 5 transform lab: fresh inputs, a wrong variant is not timed, the grader (shape, variants at two sizes,
planted bugs: tests/test_contract.py)."""
from __future__ import annotations

import perflab as pl
import bugs_early as bugs
from labtests import LABS

LAB = "ch05.transforms"
SECOND_SIZE = LABS[LAB][1]


def test_inputs_are_images_and_balanced_flips():
    """Pixel-scale images and flips of both kinds (seeding: tests/test_contract.py)."""
    one = pl.load(LAB).make_inputs(301, "cpu", "float32", 1)
    assert one["images"].float().std() > 10 and 0.2 < one["flip"].float().mean() < 0.8


# ---- the runner and the grader on a planted bug (the bugs: tests/bugs_early.py) ----------------------------

def test_runner_marks_a_wrong_variant_and_does_not_time_it():
    r = pl.run(LAB, size=SECOND_SIZE, variants=["torch_batched", bugs.ch05_swaps_mean_and_std], rep_ms=5, record=False)
    assert r["torch_batched"].status in ("timed", "checked")
    wrong = r["ch05_swaps_mean_and_std"]
    assert wrong.status == "wrong" and wrong.measurement is None


def test_grader_passes_the_solution_and_the_starter_and_fails_a_bug():
    from labs.ch05_data_pipeline import solutions
    assert pl.grade(LAB, solutions.torch_batched).correct
    assert pl.grade(LAB, pl.load(LAB).get_variant("python_loop")).correct
    assert not pl.grade(LAB, bugs.ch05_flips_none).correct
