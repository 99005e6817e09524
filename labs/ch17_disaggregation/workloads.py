"""Requests and workloads for the serving simulator: Poisson arrivals, length mixes, shared prefixes, classes."""
from __future__ import annotations

import math
import random
from dataclasses import dataclass


@dataclass(eq=False)
class Request:
    rid: int
    arrival: float
    prompt: int
    output: int                        # tokens to generate, the first one included
    prefix: int = -1                   # shared-prefix group (a system prompt, a document); -1 = none
    prefix_len: int = 0
    high: bool = True                  # priority class
    # filled in by the simulator
    worker: int = -1                   # decode (or colocated) worker that holds the sequence
    prefill_worker: int = -1
    offloaded: bool = False
    cached: int = 0                    # prompt tokens served from a prefix cache
    rejected: bool = False
    prefill_start: float = math.nan
    first_token: float = math.nan
    finish: float = math.nan
    generated: int = 0
    finished_count: int = 0            # conservation: must end at exactly 1 for every admitted request

    @property
    def ttft(self) -> float:
        return self.first_token - self.arrival

    @property
    def tpot(self) -> float:
        return (self.finish - self.first_token) / (self.output - 1) if self.output > 1 else 0.0


@dataclass(frozen=True)
class Workload:
    """Arrivals at 1 request/s plus lengths; ``requests(rate)`` rescales time (same requests at any rate)."""
    gaps: tuple
    prompts: tuple
    outputs: tuple
    prefixes: tuple
    prefix_lens: tuple
    high: tuple

    def __len__(self):
        return len(self.gaps)

    def requests(self, rate: float) -> list:
        if rate <= 0:
            raise ValueError(f"rate must be > 0 requests/s, got {rate}")
        t, out = 0.0, []
        for i in range(len(self.gaps)):
            t += self.gaps[i] / rate
            out.append(Request(i, t, self.prompts[i], self.outputs[i], self.prefixes[i], self.prefix_lens[i],
                               self.high[i]))
        return out

    @property
    def mean_prompt(self) -> float:
        return sum(self.prompts) / len(self.prompts)

    @property
    def mean_output(self) -> float:
        return sum(self.outputs) / len(self.outputs)


def make_workload(n: int, prompt_mean: int, output_mean: int, *, seed: int = 0, spread: float = 0.5,
                  prefix_groups: int = 0, prefix_share: float = 0.0, high_share: float = 1.0,
                  poisson: bool = True) -> Workload:
    """n requests: Poisson arrivals (unit rate), prompt and output lengths uniform in mean·(1 ± spread).

    prefix_groups > 0: every request starts with one of that many shared prefixes (Zipf-popular, like a
    few system prompts or documents) of length prefix_share·prompt_mean. high_share: fraction of
    high-priority requests.
    """
    rng = random.Random(seed)
    lo_p, hi_p = max(1, round(prompt_mean * (1 - spread))), max(1, round(prompt_mean * (1 + spread)))
    lo_o, hi_o = max(2, round(output_mean * (1 - spread))), max(2, round(output_mean * (1 + spread)))
    weights = [1.0 / (g + 1) for g in range(prefix_groups)]
    plen = round(prefix_share * prompt_mean) if prefix_groups else 0
    gaps, prompts, outputs, prefixes, plens, high = [], [], [], [], [], []
    for _ in range(n):
        gaps.append(rng.expovariate(1.0) if poisson else 1.0)
        p = rng.randint(lo_p, hi_p)
        g = rng.choices(range(prefix_groups), weights)[0] if prefix_groups else -1
        prompts.append(max(p, plen + 1) if g >= 0 else p)
        outputs.append(rng.randint(lo_o, hi_o))
        prefixes.append(g)
        plens.append(plen if g >= 0 else 0)
        high.append(rng.random() < high_share)
    return Workload(*(tuple(x) for x in (gaps, prompts, outputs, prefixes, plens, high)))


def periodic_heavy(n: int, period: int, light=(64, 8), heavy=(1024, 64), gap: float = 1.0) -> Workload:
    """Evenly spaced requests; every period-th one is heavy (a long prompt and a long answer). With period
    equal to the number of workers, round-robin sends every heavy request to the same worker."""
    pairs = [heavy if i % period == 0 else light for i in range(n)]
    return Workload(tuple([gap] * n), tuple(p for p, _ in pairs), tuple(o for _, o in pairs),
                    tuple([-1] * n), tuple([0] * n), tuple([True] * n))
