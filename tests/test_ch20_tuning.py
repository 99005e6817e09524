"""Chapter 20: the knob space, the three tuners, the verify loop, the cluster arithmetic, the book check."""
import math

import numpy as np
import pytest
import torch

import perflab as pl
from labs.ch20_tuning import book_check, candidates, cluster, objectives, search, verify
from labs.ch20_tuning.space import Space, SpaceTimes
from labs.ch20_tuning.objectives import DROP_K_TAIL, SKIP_HALF_K


# ---- space and tuners ---------------------------------------------------------------------------------

def bowl():
    """A smooth synthetic space (144 configs) with one best config away from the corners."""
    space = Space({"a": tuple(range(6)), "b": tuple(range(6)), "c": tuple(range(4))})
    times = {cfg: 1.0 + 0.3 * (cfg[0] - 4) ** 2 + 0.2 * (cfg[1] - 1) ** 2 + 0.5 * (cfg[2] - 2) ** 2
             for cfg in space.configs()}
    return space, times


def test_space_counts_and_rejects_empty_knobs():
    space, _ = bowl()
    assert space.size == len(space.configs()) == 144 and len(set(space.configs())) == 144
    assert space.label((1, 2, 3)) == "a=1 b=2 c=3"
    with pytest.raises(ValueError, match="at least one value"):
        Space({"a": ()})


def test_exhaustive_finds_the_minimum_and_random_never_repeats():
    space, times = bowl()
    assert search.exhaustive(space, times.__getitem__).best() == ((4, 1, 2), 1.0)
    trace = search.random_search(space, times.__getitem__, budget=50, seed=3)
    assert len(trace.configs) == len(set(trace.configs)) == 50


def test_trials_to_within_counts_from_one():
    t = search.Trace("x", ["p", "q", "r"], [3.0, 1.04, 1.0])
    assert t.trials_to_within(1.0, 0.05) == 2 and t.trials_to_within(1.0, 0.0) == 3
    assert t.trials_to_within(0.5, 0.05) is None
    assert t.best_so_far().tolist() == [3.0, 1.04, 1.0]


def test_model_based_beats_random_on_a_smooth_space():
    space, times = bowl()
    best = min(times.values())
    model = [search.model_based(space, times.__getitem__, 36, seed=s).trials_to_within(best, 0.05) or 999
             for s in range(8)]
    rand = [search.random_search(space, times.__getitem__, 144, seed=s).trials_to_within(best, 0.05)
            for s in range(8)]
    assert len(set(search.model_based(space, times.__getitem__, 36, seed=0).configs)) == 36
    assert np.median(model) <= 36 and np.median(model) < np.median(rand)


def test_model_based_survives_configs_that_cannot_run():
    space, times = bowl()
    times = {c: (math.inf if c[0] == 0 else t) for c, t in times.items()}
    trace = search.model_based(space, times.__getitem__, 30, seed=1)
    assert trace.best()[1] == 1.0


def test_compare_reports_each_tuner():
    space, times = bowl()
    table, traces = search.compare(space, SpaceTimes("a bowl", times), seeds=range(2))
    assert [row[0] for row in table.rows] == ["exhaustive", "random", "model-based"]
    assert [name for name, _ in traces.by_tuner()] == ["random", "model-based"] and len(traces.random) == 2
    assert all(len(t.times) == 72 for _, runs in traces.by_tuner() for t in runs)    # half of 144


def test_tuning_cost_arithmetic_and_errors():
    assert "with probability 72%" in search.tuning_cost(5, 3, 0.8, 0.1, 0.05, 25)   # 1 − 0.95^25
    with pytest.raises(ValueError):
        search.tuning_cost(top_share=1.5)


# ---- objectives and the verify loop -------------------------------------------------------------------

@pytest.fixture(scope="module")
def chain():
    obj = objectives.chunked_chain()
    obj.size = 2 ** 16 + 3                              # fast enough for a unit test
    return obj


def test_chunked_chain_every_config_is_right_at_a_non_aligned_size(chain):
    inputs = chain.make_inputs(5_003, 7)
    ref = chain.reference(**inputs)
    for config in chain.space.configs():
        assert torch.allclose(chain.run(config, **inputs).double(), ref, rtol=1e-5, atol=1e-6), config


def test_verifier_rejects_both_shortcuts_and_the_weak_one_misses_the_tail(chain):
    cfg = (4096, "reused", "float32")
    assert verify.verify(chain, verify.Candidate("honest", cfg)) is None
    assert "wrong" in verify.verify(chain, verify.Candidate("half", cfg, SKIP_HALF_K))
    assert "wrong" in verify.verify(chain, verify.Candidate("tail", cfg, DROP_K_TAIL))
    aligned_only = chain.checked_at(chain.check_sizes[:1])
    assert verify.verify(aligned_only, verify.Candidate("tail", cfg, DROP_K_TAIL)) is None


def test_loop_keeps_only_correct_candidates(chain):
    cands = [verify.Candidate("slow", (1024, "fresh", "float64")),
             verify.Candidate("skips", (65536, "reused", "float32"), SKIP_HALF_K),
             verify.Candidate("good", (65536, "reused", "float32"))]
    table, kept = verify.loop(chain, cands, rep_ms=5)
    verdicts = [row[-1] for row in table.rows]
    assert verdicts[0] == "kept" and verdicts[1].startswith("rejected: wrong")
    assert kept.label in ("slow", "good") and kept.shortcut == objectives.EXACT


# ---- the lab -------------------------------------------------------------------------------------------

def test_lab_gate_rejects_the_shortcuts_at_every_cpu_size():
    for size in candidates.SIZES["cpu"]:
        run = pl.run("ch20.candidates", size=size, record=False)
        ok = {r.variant: r.correct for r in run.records}
        assert ok == {"torch_matmul": True, "triton_small_tiles": True, "triton_tuned": True,
                      "triton_skips_half_k": False, "triton_drops_k_tail": False}, (size, ok)


def test_tail_shortcut_is_right_when_block_k_divides_k():
    inputs = candidates.make_inputs((40, 24, 128), "cpu", "float32", 5)
    out = candidates.triton_drops_k_tail(**inputs)
    assert torch.allclose(out.double(), candidates.reference(**inputs), rtol=1e-3, atol=1e-3)


def test_grade_passes_the_starter_and_fails_a_shortcut():
    from labs.ch20_tuning.solutions import my_matmul
    starter = lambda a, b: candidates.triton_matmul(a, b, **candidates.SMALL)   # noqa: E731
    assert pl.grade("ch20.candidates", starter).correct
    assert pl.grade("ch20.candidates", my_matmul).correct
    assert not pl.grade("ch20.candidates", candidates.triton_skips_half_k).correct


# ---- cluster arithmetic and the book check -------------------------------------------------------------

def test_cluster_arithmetic_by_hand():
    assert cluster.failures_per_day(16_384) == pytest.approx(419 / 54)
    assert cluster.young_interval_s(60, 3600) == pytest.approx(math.sqrt(2 * 60 * 3600))
    # M·e^(R/M)·(e^((τ+C)/M) − 1) with τ = 600, C = 60, R = 300, M = 3600
    expected = 3600 * math.exp(300 / 3600) * math.expm1(660 / 3600)
    assert cluster.wasted_fraction(600, 60, 300, 3600) == pytest.approx(1 - 600 / expected)
    tau = cluster.best_interval_s(60, 300, 3600)
    w = lambda t: cluster.wasted_fraction(t, 60, 300, 3600)   # noqa: E731
    assert w(tau) <= min(w(tau * 0.9), w(tau * 1.1))
    assert abs(tau / cluster.young_interval_s(60, 3600) - 1) < 0.15    # Young is close while C ≪ M
    with pytest.raises(ValueError):
        cluster.failures_per_day(0)


def test_strassen_matches_matmul_and_rejects_odd_sizes():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(64, 64, generator=g, dtype=torch.float64), torch.randn(64, 64, generator=g, dtype=torch.float64)
    assert torch.allclose(book_check.strassen_one_level(a, b), a @ b)
    with pytest.raises(ValueError, match="even size"):
        book_check.strassen_one_level(a[:63, :63], b[:63, :63])


def test_serving_space_is_scored_by_the_simulator():
    from labs.ch20_tuning import serving
    values = serving.measure(n_requests=40)
    assert len(values.seconds) == serving.space().size == 120
    finite = [v for v in values.seconds.values() if math.isfinite(v)]
    assert finite and min(finite) < max(finite)                      # the knobs matter
    assert values.best == min(values.seconds, key=values.seconds.get)
    assert serving.table(values).rows[0][0] == serving.space().label(values.best)
