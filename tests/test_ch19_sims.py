"""Chapter 19 simulators and calculators against hand-computed cases (the batching ones are simulators.py's
doctests, which make test runs with --doctest-modules)."""
from __future__ import annotations

import math

import pytest

from labs.ch19_adaptive_inference import batching, book_check, exits, ladder, warmup
from labs.ch19_adaptive_inference.simulators import (Service, early_exit, poisson_arrivals, precision_controller,
                                                     simulate_batching)


def svc(b):
    return 3 + b


def test_batching_edge_cases():
    arr = [0, 10, 20]
    one = simulate_batching(arr, 1, 100, svc, "timer")          # max_batch 1: no waiting for company
    assert one.batches == [1, 1, 1] and one.latencies == [4, 4, 4]
    everyone = simulate_batching([0, 0, 0, 0], 4, 0, svc, "timer")
    assert everyone.batches == [4] and everyone.latencies == [7] * 4
    with pytest.raises(ValueError, match="finite timeout"):
        simulate_batching(arr, 2, math.inf, svc)
    with pytest.raises(ValueError, match="policy"):
        simulate_batching(arr, 2, 1, svc, "fifo")


def test_poisson_arrivals_have_the_rate():
    a = poisson_arrivals(200.0, 20000, seed=1)
    assert a == sorted(a) and abs(len(a) / a[-1] - 200) < 6
    assert a == poisson_arrivals(200.0, 20000, seed=1) and a != poisson_arrivals(200.0, 20000, seed=2)


def test_service_capacity():
    s = Service(0.010, 0.0005)
    assert s(8) == pytest.approx(0.014) and s.capacity(8) == pytest.approx(8 / 0.014)


def test_sweep_table_marks_a_best_timeout_per_load():
    s = Service(0.010, 0.0005)
    records = batching.run(s, n=400)
    assert len(records) == 2 * len(batching.LOAD) * len(batching.TIMEOUTS_MS)
    low = [r for r in records if r.policy == "timer" and r.rate == min(r.rate for r in records)]
    assert min(low, key=lambda r: r.p50).timeout == 0, "at low load waiting does not pay"
    high = [r for r in records if r.policy == "timer" and r.rate == max(r.rate for r in records)]
    assert min(high, key=lambda r: r.p50).timeout >= 0.02, "at 90% load short timers cannot keep up"
    t = batching.table(records, s)
    assert sum(str(c).count("★") for row in t.rows for c in row) == 2 * len(batching.LOAD)
    assert "T=" in batching.figure_text(records)


def test_early_exit_by_hand():
    """A threshold no exit reaches, and a bad cost list (the threshold 0.9 case: early_exit's doctest)."""
    conf = [[0.95, 1.0], [0.5, 1.0], [0.9, 1.0], [0.2, 1.0]]
    never = early_exit(conf, 1.01, [0.3, 1.0])
    assert never.fractions == [0.0, 1.0] and never.mean_cost == 1.0 and never.agreement == 1.0
    with pytest.raises(ValueError, match="one confidence per exit"):
        early_exit(conf, 0.5, [0.3, 0.6, 1.0])


def test_head_share_and_exit_tables():
    d, L, V = 768, 12, 50257
    assert exits.head_share((d, L, 127)) == pytest.approx(V * d / (V * d + L * 12 * d * d))
    assert exits.exit_table(n=200).rows and exits.cascade_table(n=200).rows


def test_precision_controller_by_hand():
    flap = precision_controller([3, 0, 3, 0, 3, 0], enter=1, exit=1)
    assert flap.switches == 6 and flap.low_fraction == 0.5 and flap.risky_steps == 0
    calm = precision_controller([3, 0, 3, 0, 3, 0], enter=2, exit=0.5, ema=0.3)
    assert calm.switches == 1 and calm.low_fraction == 1.0 and calm.risky_steps == 3
    slow = precision_controller([3, 3, 0, 0, 0, 0], enter=1, exit=1, every=4)
    assert slow.switches == 2 and slow.risky_steps == 2      # decided at steps 0 and 4 only
    with pytest.raises(ValueError, match="must not exceed"):
        precision_controller([1], enter=1, exit=2)


def test_break_even_and_calculators():
    assert warmup.break_even(0.050, 0.002, 1e-4, 1.1e-3) == 48
    assert warmup.break_even(1.0, 0.0, 2e-3, 1e-3) is None
    assert book_check.kv_saving(64) == pytest.approx(1 - 4.25 / 8.25)
    assert book_check.kv_saving(10 ** 9) == pytest.approx(0.5)
    memory = ladder.Memory(fp32=400, bf16=200, int8_torch=110, int8_triton=110, fp8=120)
    assert "0.60× with 8-bit weights" in str(book_check.table(memory=memory))
