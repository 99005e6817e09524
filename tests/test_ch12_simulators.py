"""Chapter 12 simulators: makespans and the launch model against hand-computed values (the doctests run under
`make test`'s --doctest-modules)."""
from __future__ import annotations

import random

import pytest

from labs.ch12_graphs_scheduling import simulators as sim


def test_static_split_hand_computed():
    # 10 tasks on 4 workers: per = 3 -> [0:3], [3:6], [6:9], [9:10]
    s = sim.static_split([9, 1, 1, 2, 2, 2, 1, 1, 1, 5], workers=4)
    assert s.loads == (11, 6, 3, 5) and s.makespan == 11
    assert s.utilization == pytest.approx(25 / 44)
    assert sim.static_split([], workers=3).makespan == 0


def test_dynamic_queue_hand_computed():
    # 2 workers, chunk 1: w0 takes 9 (0-9); w1 takes 1,1,2,2,2 (done at 8), then 1 (8-9);
    # at t=9 both free: w0 takes 1 (9-10), w1 takes 1 (9-10); then w0 takes 5 (10-15)
    d = sim.dynamic_queue([9, 1, 1, 2, 2, 2, 1, 1, 1, 5], workers=2)
    assert d.makespan == 15 and d.grabs == 10 and d.loads == (15, 10)
    # chunk 3: w0 [9,1,1]=11, w1 [2,2,2]=6 then [1,1,1] at 6-9, then [5] at 9-14
    d3 = sim.dynamic_queue([9, 1, 1, 2, 2, 2, 1, 1, 1, 5], workers=2, chunk=3)
    assert d3.makespan == 14 and d3.grabs == 4


def test_counter_contention_hand_computed():
    # 6 unit tasks, 3 workers, each atomic takes 2 and the counter serves one at a time:
    # grabs served at 2, 4, 6 (tasks end 3, 5, 7), then 8, 10, 12 (tasks end 9, 11, 13)
    d = sim.dynamic_queue([1] * 6, workers=3, atomic_cost=2)
    assert d.makespan == 13
    # chunk 3: two grabs served at 2 and 4, tasks end at 5 and 7
    assert sim.dynamic_queue([1] * 6, workers=3, chunk=3, atomic_cost=2).makespan == 7


def test_dynamic_never_worse_than_total_over_workers_and_static_on_uniform_work():
    rng = random.Random(1)
    costs = [rng.randint(1, 50) for _ in range(997)]
    for p in (1, 7, 64):
        d = sim.compare(costs, p).dynamic
        assert d.makespan >= sum(costs) / p
        assert d.makespan <= sum(costs) / p + max(costs)       # list scheduling's bound
    c = sim.compare([3] * 640, 64)
    assert c.static.makespan == c.dynamic.makespan == 30 and c.ratio == 1


def test_heavy_front_ratio_matches_the_formula():
    costs = sim.heavy_front(64 * 132, 1, factor=8, fraction=1 / 8)
    c = sim.compare(costs, 132)
    assert c.static.makespan == 64 * 8                          # the first slices are all heavy
    assert c.dynamic.makespan == pytest.approx(sum(costs) / 132, rel=0.01)
    assert c.ratio == pytest.approx(sim.predicted_ratio(8, 1 / 8), rel=0.01)
    shuffled = list(costs)
    random.Random(0).shuffle(shuffled)
    assert sim.compare(shuffled, 132).ratio < 1.5                  # shuffled, the static split is nearly balanced


def test_lockstep():
    assert sim.lockstep([1, 2, 3, 4, 5], lanes=2) == [2, 4, 5]
    assert sim.lockstep([7], lanes=32) == [7]


def test_errors_name_the_fix():
    with pytest.raises(ValueError, match="workers must be a positive int"):
        sim.static_split([1], workers=0)
    with pytest.raises(ValueError, match="chunk must be at least 1"):
        sim.dynamic_queue([1], workers=1, chunk=0)


def test_launch_model_hand_computed():
    m = sim.LaunchModel(kernels=160, cpu_us=6, kernel_us=1.5, replay_us=15)
    assert (m.eager_us, m.graph_us, m.speedup, m.cut) == (960, 240, 4.0, 0.75)
    g = sim.LaunchModel(kernels=100, cpu_us=5, kernel_us=20, replay_us=10)   # GPU-bound: nothing to save
    assert g.speedup == 1.0 and g.cut == 0
    b = sim.LaunchModel(kernels=100, cpu_us=10, kernel_us=7.5, replay_us=10)  # the book's 20-30 % band
    assert b.cut == pytest.approx(0.25)
    assert "launch-bound" in sim.explain_launch() and "L4975" in sim.explain_launch()


def test_book_levels_hand_computed():
    rows = {r.balance.split(" (")[0]: r for r in sim.book_levels()}
    sm = rows["across SMs"]
    # 4096 blocks of 256 items, each block's work 0+1+...+255 = 32,640; 132 SMs
    assert sm.static == 32 * 32_640 and sm.dynamic == pytest.approx(4096 * 32_640 / 132)
    assert sm.ratio == pytest.approx(32 / (4096 / 132))
    warps = rows["across warps"]
    # static: 4096 blocks of cost 255 (their slowest warp) on 132 x 8 block slots = 4 waves
    assert warps.static == 4 * 255
    assert 1.3 < warps.ratio < 1.5 and "1.78×" in warps.assumes     # 255 x 8 / (31 + 63 + ... + 255) = 1.78
    lanes = rows["across lanes too"]
    assert lanes.dynamic == pytest.approx(4096 * 32_640 / (132 * 2048)) and lanes.ratio == pytest.approx(2.0625)


def test_explain_split_text():
    text = sim.explain_split(workers=132, tasks_per_worker=64)
    assert "4.27×" in text and "static split: makespan 512" in text
    assert "already balanced" in sim.explain_split(order="shuffled")
