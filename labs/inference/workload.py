"""Request workloads: arrival times, prompt lengths and output lengths, all from one seed.

A workload is a list of Requests. Arrivals are a Poisson process at ``rate_rps`` (rate None: all
arrive at t = 0, an offline batch). Lengths come from small named distributions:

    ("fixed", n)                 always n
    ("uniform", lo, hi)          integers lo..hi
    ("lognormal", median, sigma, lo, hi)   a long right tail, clipped to [lo, hi]
    ("bimodal", p_long, short_lo, short_hi, long_lo, long_hi)   mostly short, a share p_long long
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Request:
    id: int
    prompt: tuple                 # token ids
    max_new_tokens: int           # random weights never emit EOS: this is the output length
    arrival_s: float = 0.0


def sample_length(dist: tuple, rng: random.Random) -> int:
    kind, *p = dist
    if kind == "fixed":
        return int(p[0])
    if kind == "uniform":
        return rng.randint(p[0], p[1])
    if kind == "lognormal":
        median, sigma, lo, hi = p
        return int(min(hi, max(lo, round(median * math.exp(rng.gauss(0.0, sigma))))))
    if kind == "bimodal":
        p_long, slo, shi, llo, lhi = p
        return rng.randint(llo, lhi) if rng.random() < p_long else rng.randint(slo, shi)
    raise ValueError(f"unknown length distribution {kind!r}: use fixed, uniform, lognormal or bimodal")


def make_workload(n: int, *, vocab_size: int, prompt_len: tuple, output_len: tuple,
                  rate_rps: float | None = None, seed: int = 0) -> list[Request]:
    """n requests, their prompts random tokens below vocab_size."""
    rng = random.Random(seed)
    t, out = 0.0, []
    for i in range(n):
        if rate_rps:
            t += rng.expovariate(rate_rps)
        prompt = tuple(rng.randrange(vocab_size) for _ in range(sample_length(prompt_len, rng)))
        out.append(Request(i, prompt, sample_length(output_len, rng), t if rate_rps else 0.0))
    return out


def skewed(n: int, vocab_size: int, long_len: int, seed: int = 0, rate_rps: float | None = None,
           every: int = 8) -> list[Request]:
    """The batching workload: prompts of 8-40 tokens; outputs of 2-8 tokens, except that one request
    in every ``every`` consecutive arrivals (at a random place among them) wants ~long_len tokens."""
    rng = random.Random(seed)
    outputs = []
    for start in range(0, n, every):
        block = [rng.randint(2, 8) for _ in range(min(every, n - start))]
        block[rng.randrange(len(block))] = rng.randint(long_len - long_len // 8, long_len)
        outputs += block
    base = make_workload(n, vocab_size=vocab_size, prompt_len=("uniform", 8, 40), output_len=("fixed", 1),
                         rate_rps=rate_rps, seed=seed)
    return [Request(r.id, r.prompt, out, r.arrival_s) for r, out in zip(base, outputs)]
