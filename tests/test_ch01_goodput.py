"""Chapter 1: fresh data, checkpoints, the grader, calculators by hand (variants and planted bugs, through the
gate and the grader: tests/test_contract.py)."""
from __future__ import annotations

import os

import pytest
import torch

import perflab as pl
from labs.ch01_goodput import book_check, calculators as calc, stopwatch, train_loop as tl
from labtests import sizes_of

SIZES = sizes_of("ch01.train_loop")


def test_fresh_seeds_give_fresh_data():
    a, b = tl.make_inputs(SIZES[1], "cpu", seed=1), tl.make_inputs(SIZES[1], "cpu", seed=2)
    assert not torch.equal(a["raw"], b["raw"]) and not torch.equal(a["init"][0], b["init"][0])


def test_checkpoints_are_written():
    inputs = tl.make_inputs(SIZES[1], "cpu", seed=3)
    for f in os.listdir(inputs["ckpt_dir"]):
        os.remove(os.path.join(inputs["ckpt_dir"], f))
    tl.all_fixes(**inputs)
    saved = sorted(os.listdir(inputs["ckpt_dir"]))
    assert saved == [f"step{s}.pt" for s in range(tl.CKPT_EVERY, tl.STEPS + 1, tl.CKPT_EVERY)]
    params = torch.load(os.path.join(inputs["ckpt_dir"], saved[-1]))
    assert len(params) == 6 and params[0].shape == (SIZES[1][1], SIZES[1][1])


def test_grader_passes_the_solution():
    from labs.ch01_goodput.solutions import all_fixes
    assert pl.grade("ch01.train_loop", all_fixes).correct


def test_flops_is_six_n_d():
    assert tl.n_params((5, 3)) == 2 * (9 + 3) + 30 + 10
    assert tl.flops((5, 3)) == 6 * tl.n_params((5, 3)) * 5 * tl.STEPS


def test_stopwatch_fractions_and_breakdown():
    w = stopwatch.Stopwatch(sync=False)
    w.seconds.update({"data": 1.0, "compute": 2.0}); w.wall = 4.0
    f = w.fractions()
    assert f["data"] == 0.25 and f["compute"] == 0.5 and f["other"] == pytest.approx(0.25)
    t = stopwatch.breakdown(size=SIZES[1], repeats=1, variants=["stalled", "compute_only"])
    assert [r[0] for r in t.rows] == ["stalled", "compute_only"] and t.rows[1][4] == "0%"   # no checkpoint


def test_goodput_calculators_match_the_book():
    assert calc.goodput_fraction(100_000, 10, 8, 1500) == pytest.approx(10_000 / 12_000)   # L331 83.3%
    assert calc.goodput_fraction(300, 1, 1, 1000) == pytest.approx(0.30)                   # L337
    assert calc.training_flops(100e12, 29e12) == pytest.approx(1.74e28)                     # vs L245 1.2e29
    assert 2e14 / calc.TIB == pytest.approx(181.9, abs=0.1)                                 # L257 "182 TB"
    assert calc.gpus_to_hold(100e12, 2, 288) == pytest.approx(694.4, abs=0.1)


def test_bytes_per_param_recipes():
    assert calc.bytes_per_param(**calc.RECIPES["bf16 mixed + Adam"]).total == 16
    assert calc.bytes_per_param(**calc.RECIPES["fp32 + Adam"]).total == 16
    assert calc.bytes_per_param(**calc.RECIPES["fp8 mixed + Adam"]).total == 15
    assert calc.bytes_per_param(**calc.RECIPES["inference fp4"]).total == 0.5
    assert "200 TB = 182 TiB" in calc.explain_memory(100, "inference bf16", 180)


def test_book_check_rows():
    t = book_check.table()
    text = str(t)
    assert "1.74e+28" in text and "83.3%" in text and "182 TiB" in text and len(t.rows) == 7
