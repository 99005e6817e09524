"""Simulators for the chapter's adaptive policies: dynamic batching with a timeout, early exit and cascades,
and a confidence-driven precision controller. Pure Python, deterministic for a seed, hand-checkable.

Dynamic batching, four requests (ms), batches of at most 2, a 5 ms timeout, a batch of b costs 3 + b ms:
[0, 1] fill a batch at t=1 (done 1 + 5 = 6); [2] times out at 7 (done 11); [10] times out at 15 (done 19).

    >>> r = simulate_batching([0, 1, 2, 10], max_batch=2, timeout=5, service=lambda b: 3 + b, policy="timer")
    >>> r.batches, r.latencies, r.span
    ([2, 1, 1], [6, 5, 9, 9], 19)

With a 0.5 ms timeout the timer cuts four batches of one, which queue behind each other; a batcher that
waits for the GPU to be free takes two requests at once instead:

    >>> r = simulate_batching([0, 1, 2, 3], 2, 0.5, lambda b: 3 + b, policy="timer")
    >>> r.batches, r.latencies
    ([1, 1, 1, 1], [4.5, 7.5, 10.5, 13.5])
    >>> r = simulate_batching([0, 1, 2, 3], 2, 0.5, lambda b: 3 + b, policy="when_free")
    >>> r.batches, r.latencies
    ([1, 2, 1], [4.5, 8.5, 7.5, 10.5])
"""
from __future__ import annotations

import math
import random
import statistics
from dataclasses import dataclass
from typing import Callable

POLICIES = ("timer", "when_free")


# ---- dynamic batching -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BatchingResult:
    """Per-request latencies (arrival to completion) and batch sizes, in the units of the inputs."""
    latencies: list
    batches: list
    span: float                    # first arrival to last completion

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.span

    @property
    def mean_batch(self) -> float:
        return statistics.fmean(self.batches)

    def percentile(self, q: float) -> float:
        s = sorted(self.latencies)
        return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


def simulate_batching(arrivals: list, max_batch: int, timeout: float, service: Callable[[int], float],
                      policy: str = "timer") -> BatchingResult:
    """One GPU serving batches of requests in arrival order.

    policy "timer": a batch opens at the first request's arrival and closes when ``max_batch`` requests
        are in it or ``timeout`` after it opened, whichever is first; closed batches queue for the GPU.
        This is the book's description (L6300): the timer bounds the wait *to be batched*, not the wait
        for the GPU.
    policy "when_free": the GPU takes the waiting requests (up to max_batch) as soon as it is free and
        either max_batch are waiting or the oldest has waited ``timeout`` (a work-conserving batcher).
    service(b): seconds (or ms) the GPU spends on a batch of b requests.
    """
    if policy not in POLICIES:
        raise ValueError(f"policy {policy!r} is not one of {POLICIES}")
    if max_batch < 1 or not (0 <= timeout < math.inf):
        raise ValueError(f"need max_batch >= 1 and a finite timeout >= 0, got {max_batch}, {timeout}")
    arr = sorted(arrivals)
    n, head, gpu_free = len(arr), 0, -math.inf
    lat, batches = [], []
    while head < n:
        full_at = arr[head + max_batch - 1] if head + max_batch - 1 < n else math.inf
        close = min(arr[head] + timeout, full_at)          # the batch is cut here
        if policy == "when_free":
            close = max(close, gpu_free)                   # ... but only taken when the GPU is free
        end = head
        while end < n and end - head < max_batch and arr[end] <= close:
            end += 1
        start = max(close, gpu_free)
        done = start + service(end - head)
        lat += [done - a for a in arr[head:end]]
        batches.append(end - head)
        gpu_free, head = done, end
    return BatchingResult(lat, batches, gpu_free - arr[0])


def poisson_arrivals(rate: float, n: int, seed: int = 0) -> list:
    """n arrival times of a Poisson process with ``rate`` requests per unit time."""
    rng = random.Random(seed)
    t, out = 0.0, []
    for _ in range(n):
        t += rng.expovariate(rate)
        out.append(t)
    return out


@dataclass(frozen=True)
class Service:
    """Time for the GPU to serve a batch of b requests: ``fixed + per_request * b`` (seconds)."""
    fixed: float
    per_request: float
    source: str = "assumed"

    def __call__(self, b: int) -> float:
        return self.fixed + self.per_request * b

    def capacity(self, max_batch: int) -> float:
        """Requests per second with every batch full: the most any timeout can sustain."""
        return max_batch / self(max_batch)


@dataclass(frozen=True)
class SweepPoint:
    """One (policy, arrival rate, timeout) point of the batching sweep, in the units of the inputs."""
    # where: the batching policy, arrivals per unit time and the batch timeout
    policy: str
    rate: float
    timeout: float
    # what the simulated GPU achieved: completed requests per unit time, latency percentiles, mean batch
    throughput: float
    p50: float
    p99: float
    mean_batch: float


def sweep(service: Service, rates, timeouts, max_batch: int = 8, n: int = 3000, seed: int = 0,
          policy: str = "timer") -> list[SweepPoint]:
    """One record per (rate, timeout): throughput, p50/p99 latency, mean batch. Sweeps are data."""
    out = []
    for rate in rates:
        arrivals = poisson_arrivals(rate, n, seed)
        for t in timeouts:
            r = simulate_batching(arrivals, max_batch, t, service, policy)
            out.append(SweepPoint(policy=policy, rate=rate, timeout=t, throughput=r.throughput,
                                  p50=r.percentile(0.5), p99=r.percentile(0.99), mean_batch=r.mean_batch))
    return out


# ---- early exit and cascades --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ExitResult:
    threshold: float
    fractions: list          # share of tokens leaving at each exit
    mean_cost: float         # average cost per token, relative to running the full model once
    agreement: float         # expected share of tokens whose answer equals the full model's


def early_exit(confidence: list, threshold: float, cost: list) -> ExitResult:
    """Leave at the first exit whose confidence reaches ``threshold``; the last exit is always taken.

    confidence[t][e]: confidence of token t at exit e, read as the probability that exit e's answer is the
    full model's (a *calibrated* exit head: an assumption a trained model must earn).
    cost[e]: cumulative cost of reaching exit e and evaluating its head (the last is the full model, 1.0
    for early exit; for a cascade small -> large it is [c_small, c_small + 1]).

    >>> r = early_exit([[0.95, 1.0], [0.5, 1.0], [0.9, 1.0], [0.2, 1.0]], 0.9, [0.3, 1.0])
    >>> r.fractions, round(r.mean_cost, 3), round(r.agreement, 4)
    ([0.5, 0.5], 0.65, 0.9625)
    """
    if len(set(len(c) for c in confidence)) != 1 or len(confidence[0]) != len(cost):
        raise ValueError(f"every token needs one confidence per exit ({len(cost)} exits)")
    exits = len(cost)
    counts, total_cost, agree = [0] * exits, 0.0, 0.0
    for conf in confidence:
        e = next((i for i in range(exits - 1) if conf[i] >= threshold), exits - 1)
        counts[e] += 1
        total_cost += cost[e]
        agree += 1.0 if e == exits - 1 else conf[e]
    n = len(confidence)
    return ExitResult(threshold, [c / n for c in counts], total_cost / n, agree / n)


def synthetic_confidence(n: int, depths: list, sharpness: float = 8.0, seed: int = 0) -> list:
    """A stand-in for trained exit heads: token difficulty d ~ U(0, 1); at depth f (fraction of the layers)
    the confidence is sigmoid(sharpness * (f - d)). Easy tokens are sure early, hard ones only at the end."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        d = rng.random()
        out.append([1.0 / (1.0 + math.exp(-sharpness * (f - d))) for f in depths])
    return out


def exit_costs(depths: list, head_cost: float) -> list:
    """Cumulative cost of reaching each exit: the layers run so far plus every exit head evaluated on the way.

    >>> exit_costs([0.25, 0.5, 1.0], head_cost=0.05)
    [0.3, 0.6, 1.15]
    """
    return [round(f + head_cost * (i + 1), 12) for i, f in enumerate(depths)]


# ---- a confidence-driven precision controller (book L8405-L8410) ---------------------------------------------

@dataclass(frozen=True)
class ControllerResult:
    low_fraction: float      # share of steps run in low precision
    switches: int            # precision changes (each may cost a kernel/graph swap)
    risky_steps: int         # steps in low precision while the raw margin was below ``risk``


def precision_controller(margins: list, enter: float, exit: float, ema: float = 1.0, every: int = 1,
                         risk: float | None = None) -> ControllerResult:
    """Run in low precision while the (smoothed) top-1 minus top-2 logit margin is high.

    The decision is re-evaluated every ``every`` steps on the host. ``ema`` = 1 means no smoothing; enter >
    exit adds hysteresis (enter low precision above ``enter``, leave below ``exit``). ``risky_steps`` counts
    low-precision steps whose own margin was under ``risk`` (default ``exit``): the price of smoothing.

    >>> precision_controller([3, 0, 3, 0, 3, 0], enter=1, exit=1).switches
    6
    >>> precision_controller([3, 0, 3, 0, 3, 0], enter=2, exit=0.5, ema=0.3).switches   # in once, stays
    1
    """
    if exit > enter:
        raise ValueError(f"exit ({exit}) must not exceed enter ({enter})")
    risk = exit if risk is None else risk
    low, smooth, switches, low_steps, risky = False, None, 0, 0, 0
    for i, m in enumerate(margins):
        smooth = m if smooth is None else ema * m + (1 - ema) * smooth
        if i % every == 0:
            want = smooth >= enter if not low else smooth >= exit
            if want != low:
                low, switches = want, switches + 1
        low_steps += low
        risky += low and m < risk
    return ControllerResult(low_steps / len(margins), switches, risky)


def margin_trace(n: int, seed: int = 0, mean: float = 2.0, noise: float = 1.5, persist: float = 0.9) -> list:
    """A synthetic top-1 minus top-2 margin per decode step: an AR(1) process around ``mean``, floored at 0.
    Trained models alternate confident runs (closing a quote) and uncertain tokens; random weights do not."""
    rng = random.Random(seed)
    x, out = mean, []
    for _ in range(n):
        x = mean + persist * (x - mean) + rng.gauss(0.0, noise) * math.sqrt(1 - persist ** 2)
        out.append(max(0.0, x))
    return out
