"""Serving metrics against hand-computed values, and the workload generator's seeding and shapes."""
import random

import pytest

from labs.inference.metrics import Trace, percentile, summarize
from labs.inference.workload import make_workload, sample_length


def test_trace_metrics_by_hand():
    t = Trace(0, arrival_s=1.0, prompt_len=5, token_times=[1.5, 1.7, 2.0, 2.1])
    assert t.ttft == pytest.approx(0.5)
    assert t.tpot == pytest.approx((2.1 - 1.5) / 3)
    assert t.e2e == pytest.approx(1.1)
    assert t.gaps() == pytest.approx([0.2, 0.3, 0.1])
    assert Trace(1, 0.0, 3, token_times=[0.4]).tpot is None


def test_percentile_matches_linear_interpolation():
    assert percentile([5], 99) == 5
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10, 0, 20], 0) == 0 and percentile([10, 0, 20], 100) == 20
    assert percentile(list(range(101)), 99) == 99
    assert percentile([1, 2, 3, 4], 99) == pytest.approx(3.97)
    with pytest.raises(ValueError):
        percentile([], 50)


def test_summarize_by_hand():
    traces = [Trace(0, 0.0, 4, token_times=[0.1, 0.2, 0.3]),          # TTFT 0.1, TPOT 0.1
              Trace(1, 0.0, 4, token_times=[0.5, 1.0]),               # TTFT 0.5, TPOT 0.5
              Trace(2, 0.2, 4, token_times=[0.4])]                    # TTFT 0.2, no TPOT
    s = summarize(traces, ttft_slo_s=0.3, tpot_slo_s=0.2)
    assert s.span_s == pytest.approx(1.0)
    assert s.tokens_per_s == pytest.approx(6.0)
    assert s.ttft_p50 == pytest.approx(0.2)
    assert s.tpot_p50 == pytest.approx(0.3)                         # between 0.1 and 0.5
    assert s.max_gap == pytest.approx(0.5)
    assert s.slo_met == pytest.approx(2 / 3)                        # request 1 misses both
    assert s.goodput_rps == pytest.approx(2.0)
    assert s.goodput_tokens_per_s == pytest.approx(4.0)
    assert summarize(traces).slo_met == 1.0


def test_workload_is_seeded():
    a = make_workload(20, vocab_size=50, prompt_len=("uniform", 3, 9), output_len=("lognormal", 8, 0.5, 2, 30),
                      rate_rps=10.0, seed=4)
    b = make_workload(20, vocab_size=50, prompt_len=("uniform", 3, 9), output_len=("lognormal", 8, 0.5, 2, 30),
                      rate_rps=10.0, seed=4)
    c = make_workload(20, vocab_size=50, prompt_len=("uniform", 3, 9), output_len=("lognormal", 8, 0.5, 2, 30),
                      rate_rps=10.0, seed=5)
    assert a == b and a != c
    times = [r.arrival_s for r in a]
    assert times == sorted(times) and times[0] > 0
    assert all(3 <= len(r.prompt) <= 9 and 2 <= r.max_new_tokens <= 30 for r in a)
    assert all(r.arrival_s == 0 for r in make_workload(3, vocab_size=5, prompt_len=("fixed", 2),
                                                         output_len=("fixed", 1)))


def test_poisson_rate_is_about_right():
    reqs = make_workload(2000, vocab_size=5, prompt_len=("fixed", 1), output_len=("fixed", 1),
                         rate_rps=50.0, seed=0)
    assert reqs[-1].arrival_s == pytest.approx(2000 / 50.0, rel=0.1)


def test_length_distributions():
    rng = random.Random(0)
    assert sample_length(("fixed", 7), rng) == 7
    xs = [sample_length(("bimodal", 0.25, 1, 2, 100, 100), rng) for _ in range(4000)]
    assert 0.2 < sum(x == 100 for x in xs) / len(xs) < 0.3
    with pytest.raises(ValueError, match="unknown"):
        sample_length(("zipf", 1), rng)
