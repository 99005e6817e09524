"""The second knob space: the chapter 17 serving simulator's deployment knobs, scored by SLO goodput.

Every config is simulated, not timed, so the table is exact and cheap: the tuners' comparison then shows
the same search problem on a space whose best config is not obvious (how many of 4 GPUs do prefill, the
decode batch cap, the prefill batch budget).
"""
from __future__ import annotations

import math

from labs.ch20_tuning.space import Space, SpaceTimes
from perflab.table import Table

GPUS = 4
# a mid-size model on one GPU, in round numbers (prefill 0.1 ms per prompt token, a decode step 8 ms plus
# 0.2 ms per sequence): used where no H200 calibration of the course engine is recorded yet
HAND_COST = dict(prefill_fixed_s=2e-3, prefill_per_token_s=1e-4, decode_fixed_s=8e-3, decode_per_seq_s=2e-4,
                 source="hand-written round numbers (no H200 calibration recorded yet)")


def space() -> Space:
    return Space({"n_prefill": (0, 1, 2, 3), "max_batch": (4, 8, 16, 32, 64, 128),
                  "max_prefill_tokens": (512, 1024, 2048, 4096, 8192)})


def cost_model():
    """The H200-calibrated engine costs from the reference (ch17), else the hand-written model."""
    from labs.ch17_disaggregation import calibrate, sim
    return calibrate.reference_cost() or sim.CostModel(**HAND_COST)


def measure(cost=None, n_requests: int = 200, seed: int = 1) -> SpaceTimes:
    """GPU-seconds per request served within the SLO, for every config (lower is better; inf: none served).

    The SLO is the chapter 17 default for this workload (P90 TTFT and TPOT against the cost model's own
    unloaded times); the rate is the highest the config sustains within it (ch17's max_rate)."""
    from labs.ch17_disaggregation import goodput, sim, workloads
    cost = cost or cost_model()
    work = workloads.make_workload(n_requests, 512, 64, seed=seed)
    slo = goodput.slo_for(cost, work)
    values = {}
    for config in space().configs():
        n_prefill, max_batch, max_prefill = config
        cluster = sim.Cluster(n_prefill=n_prefill, n_decode=GPUS - n_prefill, max_batch=max_batch,
                              max_prefill_tokens=max_prefill)
        rate = goodput.max_rate(cluster, cost, work, slo, steps=6)
        values[config] = GPUS / rate if rate > 0 else math.inf
    return SpaceTimes(f"GPU-seconds per request within the SLO, {GPUS}-GPU deployments (simulated; {cost.source})",
                      values)


def table(values: SpaceTimes, n: int = 5) -> Table:
    sp = space()
    ranked = sorted(values.seconds.items(), key=lambda kv: kv[1])
    pick = ranked[:n] + ranked[-2:]
    rows = [[sp.label(c), "none" if math.isinf(v) else f"{1 / v:,.2f}", f"{v / ranked[0][1]:.2f}×"]
            for c, v in pick]
    return Table(["config (4 GPUs)", "goodput, req/s per GPU", "cost ÷ best"], rows,
                 title=f"Serving simulator: {len(values.seconds)} deployments scored by SLO goodput",
                 notes=[values.what, "the first rows are the best, the last two the worst"])
