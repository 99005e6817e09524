"""Routing, offload and admission policies for the simulator: plain functions you can swap for your own.

Routers      router(req, workers) -> index of the worker that will own the sequence (Table 17-1, L7331)
             round_robin, least_loaded, kv_aware (the book's weighted latency cost, L7509–L7535)
Offload      offload(prompt_length=, prefix_cached_length=, prefill_queue_size=, decode_active_reqs=) -> bool
             should_offload_prefill (the rule of L7388–L7419, written for this course), always_remote,
             never_remote
Admission    admission(req, worker) -> bool; QoSController (the early-rejection estimate of L7616–L7635)
"""
from __future__ import annotations

from dataclasses import dataclass, field

from labs.ch17_disaggregation.sim import Worker, round_robin
from labs.ch17_disaggregation.workloads import Request

__all__ = ["round_robin", "least_loaded", "kv_aware", "kv_aware_percent", "latency_cost", "ROUTERS",
           "should_offload_prefill", "always_remote", "never_remote", "OFFLOAD", "QoSController"]


# ---- routers ---------------------------------------------------------------------------------------

def least_loaded(req: Request, workers: list) -> int:
    """Fewest requests in flight (queued, decoding, or arriving); ties go to the least KV, then the lowest index."""
    return min(range(len(workers)), key=lambda i: (workers[i].active, workers[i].kv_tokens, i))


# Table 17-3 (L7509–L7517): the weight of each factor in the latency cost (lower cost is better)
WEIGHTS = {"kv_occupancy": 3.0, "active_requests": 1.0, "cache_match": -10.0, "memory_bw": 0.5,
           "recent_prefix": -1.0}


def latency_cost(occupancy: float, active_reqs: int, cache_match: bool, mem_bw: float, recent_prefix: bool,
                 weights: dict = WEIGHTS) -> float:
    """The five-factor latency cost of L7521–L7535: a weighted sum, lower is better.

    occupancy and mem_bw are in whatever unit the caller passes (the book's names say percent);
    the weights do not change with the unit, so the unit decides how much a cache match is worth.
    """
    return (weights["kv_occupancy"] * occupancy + weights["active_requests"] * active_reqs
            + weights["cache_match"] * int(cache_match) + weights["memory_bw"] * mem_bw
            + weights["recent_prefix"] * int(recent_prefix))


def _kv_cost(req: Request, w: Worker, scale: float) -> float:
    # A decode step reads every KV byte it holds, so the worker's memory-bandwidth use follows its KV
    # occupancy: the simulator passes the occupancy for both factors.
    occ = w.occupancy * scale
    return latency_cost(occ, w.active, w.has_prefix(req.prefix), occ, req.prefix >= 0 and req.prefix in w.recent)


def kv_aware(req: Request, workers: list) -> int:
    """Lowest latency cost, occupancy as a fraction (0–1): a cache match is worth ten requests in flight."""
    return min(range(len(workers)), key=lambda i: (_kv_cost(req, workers[i], 1.0), i))


def kv_aware_percent(req: Request, workers: list) -> int:
    """The same cost with occupancy in percent (0–100), as the book's parameter names say: a cache match is
    then worth only 3.3 points of KV occupancy, and the router mostly balances KV."""
    return min(range(len(workers)), key=lambda i: (_kv_cost(req, workers[i], 100.0), i))


ROUTERS = {"round robin": round_robin, "least loaded": least_loaded, "KV-aware cost": kv_aware,
           "KV-aware cost, % units": kv_aware_percent}


# ---- the remote-prefill decision -------------------------------------------------------------------

PREFILL_LENGTH_THRESHOLD = 256   # tokens after the prefix-cache hit that make a prompt "long" (L7401)
PREFILL_QUEUE_MAX = 10           # prompts waiting in the prefill pool beyond which it counts as saturated
DECODE_LOAD_THRESHOLD = 8        # sequences on the decode worker beyond which it is "busy"
MID_LENGTH = 64                  # a busy decode worker still offloads prompts of at least this many tokens


def should_offload_prefill(prompt_length: int, prefix_cached_length: int, prefill_queue_size: int,
                           decode_active_reqs: int, ttft_slo_ms: int = 500) -> bool:
    """Send this prompt to the prefill pool (True) or prefill it on the decode worker (False).

    Our implementation of the rule the book lists at L7388–L7419, with its thresholds: only the
    uncached part of the prompt counts; a long prompt goes remote while the pool's queue is short; a
    busy decode worker also sends mid-length prompts away; everything else stays local (no transfer,
    the prefix cache is here). ttft_slo_ms is accepted for the book's signature and not used, as there.
    """
    uncached = max(0, prompt_length - prefix_cached_length)
    if uncached >= PREFILL_LENGTH_THRESHOLD and prefill_queue_size < PREFILL_QUEUE_MAX:
        return True
    return decode_active_reqs >= DECODE_LOAD_THRESHOLD and uncached >= MID_LENGTH


def always_remote(**_) -> bool:
    """Plain xPyD: every prompt goes through the prefill pool."""
    return True


def never_remote(**_) -> bool:
    """Prefill pool unused: every decode worker prefills its own prompts (colocated on the decode GPUs)."""
    return False


OFFLOAD = {"always remote": always_remote, "never remote": never_remote,
           "should_offload_prefill (L7388)": should_offload_prefill}


# ---- admission control -----------------------------------------------------------------------------

@dataclass
class QoSController:
    """Early rejection (L7616–L7635): estimate the TTFT a new request would see and turn low-priority
    requests away when the estimate is over the SLO. High-priority requests are always admitted.

    estimate = prompts queued ahead × average prefill time per request
             + sequences decoding   × average decode time per sequence per step
    (the worker keeps both averages as exponential moving averages of what it observed, L7645)
    """
    ttft_slo_s: float
    admitted: dict = field(default_factory=lambda: {"high": 0, "low": 0})
    rejected: dict = field(default_factory=lambda: {"high": 0, "low": 0})

    def estimate_ttft(self, w: Worker) -> float:
        return w.prefill_queue * w.ema_prefill_s + (len(w.running) + len(w.waiting)) * w.ema_decode_s

    def __call__(self, req: Request, w: Worker) -> bool:
        cls = "high" if req.high else "low"
        ok = req.high or self.estimate_ttft(w) <= self.ttft_slo_s
        (self.admitted if ok else self.rejected)[cls] += 1
        return ok
