"""Chapter 14: broken/fixed twins are equal and really differ in graph breaks (a test fails if a fix is
undone), recompile counts, the exercise grader, the padding calculator and the PTX counter (shape, variants
at two sizes, planted bugs: tests/test_contract.py)."""
from __future__ import annotations

import pytest
import torch

import perflab as pl

from labs.ch14_compiler import breaks, exercise, graph_breaks, ptx, shapes, solutions


# ---- graph breaks: the counts the notebook reports are real ------------------------------------------

@pytest.mark.parametrize("pair", [p for p in breaks.PAIRS if "relu_" not in p])
def test_broken_has_a_break_and_fixed_has_none(pair):
    bad, good, _ = breaks.PAIRS[pair]
    inp = breaks.example_inputs(seed=3)
    b, f = breaks.explain(bad, **inp), breaks.explain(good, **inp)
    assert b.breaks >= 1 and b.graphs >= 2 and b.reasons, f"{bad.__name__} should break the graph"
    assert f.breaks == 0 and f.graphs == 1, f"{good.__name__} must compile to one graph, got {f}"


@pytest.mark.parametrize("pair", list(breaks.PAIRS))
@pytest.mark.parametrize("seed,rows", [(1, 37), (2, 53)])
def test_twins_are_equal(pair, seed, rows):
    bad, good, _ = breaks.PAIRS[pair]
    inp = breaks.example_inputs(seed, rows=rows)
    for sign in (1.0, -1.0):                   # both sides of the data-dependent branch
        x = {"x": inp["x"] * sign, "w": inp["w"]}
        torch.testing.assert_close(good(**x), bad(**x))


def test_graph_breaks_lab_broken_and_fixed_blocks():
    b = breaks.explain(graph_breaks._broken, **graph_breaks.make_inputs((37, 29, 45)))
    f = breaks.explain(graph_breaks._fixed, **graph_breaks.make_inputs((37, 29, 45)))
    assert b.breaks >= 3 and f.breaks == 0 and f.graphs == 1


def test_inplace_relu_does_not_break_in_torch2():
    assert breaks.explain(breaks.inplace_relu_, **breaks.example_inputs()).breaks == 0


def test_exercise_starter_breaks_and_solution_does_not():
    inp = exercise.make_inputs((37, 101), seed=4)
    assert breaks.explain(exercise.starter, **inp).breaks >= 1
    assert breaks.explain(solutions.clip_softmax, **inp).breaks == 0
    assert breaks.verdict(solutions.clip_softmax, **inp).startswith("✅")
    assert breaks.verdict(exercise.starter, **inp).startswith("❌")


# ---- recompiles -----------------------------------------------------------------------------------

def test_recompile_counts():
    batches = (3, 5, 7, 11)
    assert shapes.compiles("dynamic=False", batches)[0] == len(batches)
    assert shapes.compiles("default", batches)[0] == 2
    assert shapes.compiles("mark_dynamic", batches)[0] == 1
    assert shapes.compiles("dynamic=True", batches)[0] == 1


def test_recompile_log_names_the_failing_guard():
    lines = shapes.recompile_log("dynamic=False", (3, 5, 7))
    assert len(lines) == 2 and "expected 3, actual 5" in lines[0], lines
    assert shapes.recompile_log("mark_dynamic", (3, 5, 7)) == []


def test_padding_waste_by_hand():
    assert shapes.padding_waste(2, 100, 300).startswith("padding to 300 wastes 33%")     # (200 + 0) / 600
    assert "wastes 0%" in shapes.padding_waste(5, 128, 128)
    with pytest.raises(ValueError):
        shapes.padding_waste(3, 10, 5)


# ---- the exercise (variants at two sizes and planted bugs: tests/test_contract.py) ---------------------

def test_exercise_grader():
    assert pl.grade("ch14.exercise", solutions.clip_softmax).correct
    assert pl.grade("ch14.exercise", exercise.starter).correct
    wrong = lambda x: torch.softmax(torch.clamp(x, -exercise.LIMIT, exercise.LIMIT), dim=1)  # noqa: E731 clamps, not scales
    assert not pl.grade("ch14.exercise", wrong).correct


# ---- PTX -------------------------------------------------------------------------------------------

def test_ptx_count_by_hand():
    text = "wgmma.mma_async.sync.aligned.m64n64k16 a;\nwgmma.fence.sync.aligned;\nmma.sync.aligned.m16n8k16 b;\nfma.rn.f32 c;"
    assert ptx.count(text) == {"wgmma": 1, "mma_sync": 1, "fma": 1}


def test_offline_ptx_has_wgmma_on_sm90_and_mma_on_sm80():
    s90, s80 = ptx.offline(90, "fp16"), ptx.offline(80, "fp16")
    if s90 is None or s80 is None:
        pytest.skip("this Triton cannot compile offline")
    assert s90.wgmma > 0 and s90.mma_sync == 0
    assert s80.mma_sync > 0 and s80.wgmma == 0
