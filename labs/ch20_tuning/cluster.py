"""Cluster-scale arithmetic: how often something fails at N GPUs, and how often to checkpoint.

Default failure rate: Meta's Llama 3 paper (2024, §3.3.4) reports 419 unexpected interruptions in a 54-day
snapshot of pre-training on 16,384 H100 GPUs: one per ~50,700 GPU-hours.
"""
from __future__ import annotations

import math
from perflab.validate import calculator_inputs

LLAMA3_GPU_HOURS_PER_FAILURE = 16_384 * 54 * 24 / 419


def failures_per_day(n_gpus: int, gpu_hours_per_failure: float = LLAMA3_GPU_HOURS_PER_FAILURE) -> float:
    """Expected interruptions per day when any one of ``n_gpus`` failing stops the job.

    >>> round(failures_per_day(16_384), 2)        # the Llama 3 rate, back out of itself: 419 / 54 days
    7.76
    """
    if n_gpus < 1 or gpu_hours_per_failure <= 0:
        raise ValueError(f"need n_gpus ≥ 1 and a positive failure interval, got {n_gpus}, {gpu_hours_per_failure}")
    return n_gpus * 24 / gpu_hours_per_failure


def young_interval_s(checkpoint_s: float, mtbf_s: float) -> float:
    """Young's first-order optimum: checkpoint every √(2·C·M) seconds (C: time to write one checkpoint,
    M: mean time between failures of the whole job). Good while C ≪ M.

    >>> round(young_interval_s(60, 3600))          # 1-minute checkpoints, a failure an hour: every ~11 min
    657
    """
    if checkpoint_s <= 0 or mtbf_s <= 0:
        raise ValueError(f"checkpoint time and MTBF must be positive, got {checkpoint_s}, {mtbf_s}")
    return math.sqrt(2 * checkpoint_s * mtbf_s)


def wasted_fraction(interval_s: float, checkpoint_s: float, restart_s: float, mtbf_s: float) -> float:
    """Share of wall time that is not progress, for failures at random (exponential) times: the expected
    wall time to finish ``interval_s`` of work plus its checkpoint, restarts and re-done work included, is
    M·e^(R/M)·(e^((τ+C)/M) − 1) (Daly, 2006).

    >>> round(wasted_fraction(600, 60, 300, 3600), 3)
    0.238
    """
    if min(interval_s, mtbf_s) <= 0 or min(checkpoint_s, restart_s) < 0:
        raise ValueError("interval and MTBF must be positive, checkpoint and restart times ≥ 0")
    x = (interval_s + checkpoint_s) / mtbf_s
    if x > 700:                                     # e^x overflows: practically no progress at all
        return 1.0
    expected = mtbf_s * math.exp(restart_s / mtbf_s) * math.expm1(x)
    return 1 - interval_s / expected


def best_interval_s(checkpoint_s: float, restart_s: float, mtbf_s: float) -> float:
    """The interval with the least waste under the exact model (a scan over a log grid, then refined)."""
    grid = [mtbf_s * 10 ** (k / 40) for k in range(-200, 41)]
    best = min(grid, key=lambda t: wasted_fraction(t, checkpoint_s, restart_s, mtbf_s))
    lo, hi = best / 10 ** (1 / 40), best * 10 ** (1 / 40)
    for _ in range(60):                             # golden-section refine of a unimodal function
        a, b = lo + 0.382 * (hi - lo), lo + 0.618 * (hi - lo)
        if wasted_fraction(a, checkpoint_s, restart_s, mtbf_s) < wasted_fraction(b, checkpoint_s, restart_s, mtbf_s):
            hi = b
        else:
            lo = a
    return (lo + hi) / 2


@calculator_inputs(positive="n_gpus gpu_hours_per_failure checkpoint_s restart_s")
def cluster(n_gpus: int = 16_384, gpu_hours_per_failure: float = LLAMA3_GPU_HOURS_PER_FAILURE,
            checkpoint_s: float = 60.0, restart_s: float = 600.0) -> str:
    """The calculator: failures per day, the job's MTBF, the best checkpoint interval and what it costs."""
    per_day = failures_per_day(n_gpus, gpu_hours_per_failure)
    mtbf_s = 86_400 / per_day
    try:
        tau = best_interval_s(checkpoint_s, restart_s, mtbf_s)
        waste = wasted_fraction(tau, checkpoint_s, restart_s, mtbf_s)
        hourly = wasted_fraction(3600, checkpoint_s, restart_s, mtbf_s)
    except OverflowError:
        raise ValueError(f"cluster: one failure every {mtbf_s:,.3g} s is far shorter than the {restart_s:g} s restart "
                         f"and {checkpoint_s:g} s checkpoint: the job would never make progress") from None
    return (f"{n_gpus:,} GPUs: {per_day:,.2f} interruptions/day (one every {mtbf_s / 3600:,.2f} h); "
            f"best: checkpoint every {tau / 60:,.1f} min (Young's √(2CM): {young_interval_s(checkpoint_s, mtbf_s) / 60:,.1f}) "
            f"→ {waste:.1%} of time lost; hourly checkpoints: {hourly:.1%}")
