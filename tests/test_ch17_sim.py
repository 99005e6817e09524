"""Chapter 17's simulator and policies: conservation, Little's law, hand-computed timelines, the book's 1.6 vs 3.3
arithmetic, goodput search, routing, the offload rule, admission control, and the calibration fit."""
from __future__ import annotations

import math

import pytest

from labs.ch17_disaggregation import calibrate, goodput, policies, scenarios
from labs.ch17_disaggregation.sim import Cluster, CostModel, simulate
from labs.ch17_disaggregation.workloads import Workload, make_workload, periodic_heavy

COST = CostModel(prefill_fixed_s=0.4e-3, prefill_per_token_s=20e-6, prefill_per_token2_s=20e-9,
                 decode_fixed_s=0.3e-3, decode_per_seq_s=10e-6, decode_per_ctx_s=0.3e-6,
                 kv_bytes_per_token=2048, link_gbps=1.0, link_latency_s=50e-6)


def one(prompt: int, output: int, arrival: float = 1.0) -> Workload:
    return Workload((arrival,), (prompt,), (output,), (-1,), (0,), (True,))


# ---- the book's arithmetic, exactly ------------------------------------------------------------------

def test_book_example_is_exact():
    b = goodput.book_example()
    assert b.colocated_rps_per_gpu == 1.6                       # min(3, 1.6), L7048
    assert b.prefill_pool_rps == pytest.approx(11.2, abs=1e-12) and b.decode_pool_rps == 10.0
    assert b.disagg_rps_per_gpu == 10 / 3                         # min(2 × 5.6, 10) / 3, L7052
    assert f"{b.disagg_rps_per_gpu:.1f}" == "3.3"
    assert b.gain_per_gpu == pytest.approx(10 / 3 / 1.6) and b.gain_total == pytest.approx(6.25)
    assert goodput.pool_goodput(1, 5.6, 2, 10.0) == pytest.approx(5.6 / 3)    # prefill-bound the other way
    assert "3.33 RPS/GPU" in goodput.explain_book() and "decode pool limits" in goodput.explain_book()


def test_cost_model_by_hand():
    assert COST.prefill_s(100) == pytest.approx(0.4e-3 + 100 * 20e-6 + 100 * 100 * 20e-9)
    assert COST.decode_s(4, 400) == pytest.approx(0.3e-3 + 4 * 10e-6 + 400 * 0.3e-6)
    assert COST.transfer_s(1000) == pytest.approx(50e-6 + 1000 * 2048 / 1e9)
    assert COST.free_prefill().prefill_s(500) == 0.0


# ---- hand-computed timelines ----------------------------------------------------------------------

def test_colocated_single_request_timeline():
    (r,) = simulate(Cluster(), COST, one(100, 5).requests(1.0)).requests
    assert r.first_token == pytest.approx(1.0 + COST.prefill_s(100))
    steps = sum(COST.decode_s(1, 100 + k) for k in range(1, 5))     # 4 more tokens, context grows by one each
    assert r.finish == pytest.approx(r.first_token + steps)
    assert r.tpot == pytest.approx(steps / 4)


def test_disaggregated_single_request_pays_the_transfer_in_tpot():
    (r,) = simulate(Cluster(n_prefill=1, n_decode=1), COST, one(100, 5).requests(1.0)).requests
    assert r.offloaded and r.ttft == pytest.approx(COST.prefill_s(100))
    steps = sum(COST.decode_s(1, 100 + k) for k in range(1, 5))
    assert r.finish == pytest.approx(r.first_token + COST.transfer_s(100) + steps)


def test_colocated_prefill_stalls_running_decode():
    """A prompt arriving mid-decode runs before the next step (prefill priority): the first request's TPOT grows."""
    wl = Workload((1.0, 0.0025), (100, 300), (20, 2), (-1, -1), (0, 0), (True, True))
    first, _ = simulate(Cluster(), COST, wl.requests(1.0)).requests
    alone = simulate(Cluster(), COST, one(100, 20).requests(1.0)).requests[0]
    assert first.tpot - alone.tpot == pytest.approx(COST.prefill_s(300) / 19, rel=0.05)
    wl2 = Workload((1.0, 0.0025), (100, 300), (20, 2), (-1, -1), (0, 0), (True, True))
    first_d, _ = simulate(Cluster(n_prefill=1, n_decode=1), COST, wl2.requests(1.0)).requests
    assert first_d.tpot < alone.tpot * 1.1                            # a prefill worker takes it: no stall


# ---- conservation and Little's law --------------------------------------------------------------

SETUPS = [
    (Cluster(), {}),
    (Cluster(n_decode=3), {"router": policies.least_loaded}),
    (Cluster(n_prefill=2, n_decode=1, max_batch=8), {}),
    (Cluster(n_prefill=1, n_decode=2, prefix_cache=2), {"offload": policies.should_offload_prefill,
                                                         "router": policies.kv_aware}),
    (Cluster(n_decode=2, max_prefill_tokens=300), {"priority": True, "admission": policies.QoSController(0.01)}),
]


@pytest.mark.parametrize("cluster,kw", SETUPS, ids=[c.name + str(sorted(k)) for c, k in SETUPS])
@pytest.mark.parametrize("rate", [50.0, 400.0])
def test_every_request_finishes_exactly_once(cluster, kw, rate):
    wl = make_workload(300, 200, 16, seed=11, prefix_groups=4, prefix_share=0.5, high_share=0.4)
    res = simulate(cluster, COST, wl.requests(rate), **kw)
    assert len(res.requests) == 300 and len({r.rid for r in res.requests}) == 300
    for r in res.requests:
        if r.rejected:
            assert r.finished_count == 0 and math.isnan(r.finish) and not r.high
        else:
            assert r.finished_count == 1 and r.generated == r.output
            assert r.arrival <= r.prefill_start <= r.first_token <= r.finish
    assert sum(w.kv_tokens for w in res.workers) == 0 and sum(w.context for w in res.workers) == 0
    assert all(not w.running and not w.waiting and not w.queue and w.incoming == 0 for w in res.workers)


@pytest.mark.parametrize("cluster,kw", SETUPS[:4], ids=[c.name for c, _ in SETUPS[:4]])
def test_littles_law_on_the_simulators_own_output(cluster, kw):
    """L from the event loop's integral of requests in the system equals λ·W from the request records."""
    wl = make_workload(400, 150, 24, seed=3, prefix_groups=4, prefix_share=0.5)
    res = simulate(cluster, COST, wl.requests(120.0), **kw)
    L, lam, W = res.little()
    assert L > 0.5 and L == pytest.approx(lam * W, rel=1e-6)
    Lq, lam_q, Wq = res.little_queue()
    assert Lq == pytest.approx(lam_q * Wq, rel=1e-6)


def test_workload_is_seeded_and_rescaled():
    a, b, c = (make_workload(50, 100, 10, seed=s) for s in (1, 1, 2))
    assert a == b and a != c
    slow, fast = a.requests(10.0), a.requests(20.0)
    assert [r.prompt for r in slow] == [r.prompt for r in fast]
    assert fast[-1].arrival == pytest.approx(slow[-1].arrival / 2)
    with pytest.raises(ValueError, match="rate must be > 0"):
        a.requests(0)


# ---- goodput search ----------------------------------------------------------------------------

def test_max_rate_is_the_edge_of_the_slo():
    wl = make_workload(200, 200, 16, seed=0)
    slo = goodput.slo_for(COST, wl)
    rate = goodput.max_rate(Cluster(), COST, wl, slo)
    assert goodput.meets(simulate(Cluster(), COST, wl.requests(rate)), slo)
    assert not goodput.meets(simulate(Cluster(), COST, wl.requests(rate * 1.5)), slo)
    assert goodput.max_rate(Cluster(), COST, wl, slo) == rate            # deterministic
    with pytest.raises(ValueError, match="which must be"):
        goodput.meets(simulate(Cluster(), COST, wl.requests(rate)), slo, "p99")


def test_tighter_tpot_slo_favours_disaggregation():
    wl = make_workload(200, 256, 24, seed=0)
    rows = goodput.sweep(COST, wl, tpot_x=[2.0, 30.0])
    tight, loose = rows
    assert tight.disagg > tight.coloc and loose.coloc > loose.disagg
    assert "wins at 2 × decode step; it stops paying (colocated as good or better) at 30" in goodput.crossover(rows, "× decode step")
    with pytest.raises(ValueError, match="sweep one knob"):
        goodput.sweep(COST, wl)


# ---- routing, offload, admission -------------------------------------------------------------------

@pytest.mark.parametrize("workers", [2, 3, 4])
def test_least_loaded_never_worse_than_round_robin_on_a_skewed_stream(workers):
    wl = periodic_heavy(120, workers, light=(32, 4), heavy=(448, 40), gap=1.0)
    rate = 0.5 * workers / scenarios.work_per_request(COST, wl)
    rr = simulate(Cluster(n_decode=workers), COST, wl.requests(rate), router=policies.round_robin)
    ll = simulate(Cluster(n_decode=workers), COST, wl.requests(rate), router=policies.least_loaded)
    assert all(r.worker == 0 for r in rr.requests if r.prompt == 448)     # round robin piles them up
    for q in (0.9, 0.99, 1.0):                 # the tail (round robin gives light requests an idle worker: p50)
        assert ll.p(ll.ttfts(), q) <= rr.p(rr.ttfts(), q) + 1e-12
        assert ll.p(ll.tpots(), q) <= rr.p(rr.tpots(), q) + 1e-12
    assert scenarios.imbalance(ll) <= scenarios.imbalance(rr) and ll.t_end <= rr.t_end


def test_latency_cost_uses_table_17_3_weights():
    assert policies.latency_cost(0.5, 4, True, 0.2, True) == pytest.approx(3 * 0.5 + 4 - 10 + 0.5 * 0.2 - 1)
    assert policies.latency_cost(50, 4, False, 20, False) == pytest.approx(150 + 4 + 10)


def test_kv_aware_prefers_the_worker_holding_the_prefix():
    wl = Workload((1.0, 1.0, 1.0), (300, 300, 300), (4, 4, 4), (5, 6, 5), (200, 200, 200), (True,) * 3)
    res = simulate(Cluster(n_decode=3, prefix_cache=4), COST, wl.requests(1.0), router=policies.kv_aware)
    a, b, c = res.requests
    assert c.worker == a.worker and c.cached == 200 and a.cached == 0
    rr = simulate(Cluster(n_decode=3, prefix_cache=4), COST, wl.requests(1.0)).requests
    assert rr[2].worker != rr[0].worker and rr[2].cached == 0


@pytest.mark.parametrize("args,expected", [
    ((1000, 0, 0, 0), True),          # long, pool free
    ((1000, 0, 10, 0), False),        # long, pool saturated (queue at the max)
    ((1000, 900, 0, 0), False),       # mostly cached: 100 uncached tokens stay local
    ((255, 0, 0, 0), False), ((256, 0, 0, 0), True),
    ((100, 0, 50, 8), True),          # busy decode worker offloads mid-length prompts
    ((63, 0, 0, 20), False), ((64, 0, 0, 20), True), ((100, 0, 0, 7), False),
])
def test_should_offload_prefill_truth_table(args, expected):
    p, c, q, d = args
    assert policies.should_offload_prefill(prompt_length=p, prefix_cached_length=c, prefill_queue_size=q,
                                           decode_active_reqs=d) is expected


def test_offload_policy_is_pluggable():
    wl = make_workload(120, 200, 8, seed=1, spread=0.9)
    never = simulate(Cluster(n_prefill=1, n_decode=1), COST, wl.requests(50.0), offload=policies.never_remote)
    always = simulate(Cluster(n_prefill=1, n_decode=1), COST, wl.requests(50.0), offload=policies.always_remote)
    assert not any(r.offloaded for r in never.requests) and all(r.offloaded for r in always.requests)
    assert all(r.prefill_worker == 1 for r in always.requests) and all(r.prefill_worker == 0 for r in never.requests)


def test_admission_rejects_only_low_priority_over_the_estimate():
    qos = policies.QoSController(ttft_slo_s=0.01)
    wl = make_workload(400, 256, 16, seed=2, high_share=0.3)
    res = simulate(Cluster(n_decode=1, max_prefill_tokens=512), COST, wl.requests(400.0), priority=True, admission=qos)
    assert res.rejected and all(not r.high for r in res.rejected)
    assert qos.rejected["high"] == 0 and qos.rejected["low"] == len(res.rejected)
    fifo = simulate(Cluster(n_decode=1, max_prefill_tokens=512), COST, wl.requests(400.0))
    p99 = lambda res: res.p(res.ttfts(high=True), 0.99)  # noqa: E731
    assert p99(res) < p99(fifo)


def test_scenario_tables_render():
    assert "round robin" in str(scenarios.skewed(COST, n=80))
    text = str(scenarios.overload(COST, n=200))
    assert "priority + early rejection" in text and "L7626" in text


# ---- calibration -----------------------------------------------------------------------------

def test_fit_recovers_known_coefficients():
    from perflab.measure import Measurement
    pre = [(p, Measurement([COST.prefill_s(p)])) for p in (16, 64, 160, 320, 480)]
    dec = [(b, c, Measurement([COST.decode_s(b, b * c)])) for c in (64, 320) for b in (1, 4, 16, 48)]
    fitted = calibrate.fit(pre, dec, kv_bytes_per_token=2048)
    for name in ("prefill_fixed_s", "prefill_per_token_s", "prefill_per_token2_s", "decode_fixed_s",
                 "decode_per_seq_s", "decode_per_ctx_s"):
        assert getattr(fitted, name) == pytest.approx(getattr(COST, name), rel=1e-6), name


def test_calibration_measures_and_round_trips_through_records():
    cal = calibrate.measure(tier="cpu", plan=dict(prompts=[16, 48, 96], batches=[1, 4, 8], contexts=[32],
                                                  rep_ms=5), record=False)
    assert len(cal.prefill) == 3 and len(cal.decode) == 3 and cal.cost.prefill_s(96) > 0
    assert "fit vs p20" in str(cal.table())
    again = calibrate.from_records(calibrate.records(cal))
    assert again.kv_bytes_per_token == cal.cost.kv_bytes_per_token == 2048
    assert again.prefill_s(64) == pytest.approx(cal.cost.prefill_s(64), rel=1e-6)


def test_book_example_text_and_link_points():
    text = goodput.book_example_text()
    assert "min(3, 1.6) = 1.6 RPS/GPU" in text and "min(11.2, 10) / 3 GPUs = 3.3333 -> 3.3 RPS/GPU" in text
    wl = make_workload(50, 200, 16, seed=0)
    pts = goodput.link_points(COST, wl, steps=(10, 1))
    assert pts[1] == pytest.approx(10 * pts[0], rel=0.05)
    step = COST.decode_s(1, round(wl.mean_prompt))
    assert COST.with_link(pts[1]).transfer_s(round(wl.mean_prompt)) == pytest.approx(step + 50e-6, rel=0.05)
