"""Serving metrics from per-request traces: TTFT, TPOT, percentiles, throughput and goodput under an SLO.

    TTFT  time to first token   = first token time - arrival
    TPOT  time per output token = (last token time - first token time) / (tokens - 1)   (needs >= 2 tokens)
    E2E   end to end            = last token time - arrival
    goodput = requests per second that met every SLO (DistServe's definition), also as tokens/s
"""
from __future__ import annotations

from dataclasses import dataclass, field

from perflab.measure import quantile


@dataclass
class Trace:
    """What happened to one request: when it arrived and when each output token was ready."""
    id: int
    arrival_s: float
    prompt_len: int
    token_times: list = field(default_factory=list)
    tokens: list = field(default_factory=list)
    cached_tokens: int = 0            # prompt tokens reused from the prefix cache
    computed_tokens: int = 0          # prompt tokens run through the model

    @property
    def ttft(self) -> float:
        return self.token_times[0] - self.arrival_s

    @property
    def tpot(self) -> float | None:
        n = len(self.token_times)
        return (self.token_times[-1] - self.token_times[0]) / (n - 1) if n > 1 else None

    @property
    def e2e(self) -> float:
        return self.token_times[-1] - self.arrival_s

    def gaps(self) -> list[float]:
        """Inter-token gaps (what a streaming user sees between tokens)."""
        t = self.token_times
        return [b - a for a, b in zip(t, t[1:])]


def percentile(values, q: float) -> float:
    """perflab's quantile (linear interpolation between closest ranks, numpy's default) with q in percent.

    >>> percentile([1, 2, 3, 4], 50), percentile([1, 2, 3, 4], 99)
    (2.5, 3.97)
    """
    return round(quantile(values, q / 100), 12)


@dataclass(frozen=True)
class Summary:
    """One row of serving numbers over a set of traces (times in seconds), as summarize() returns it."""
    # how much work, over which span (first arrival -> last token)
    requests: int
    span_s: float
    tokens_per_s: float
    # latency percentiles; the TPOT ones and max_gap are None when no request made two tokens
    ttft_p50: float
    ttft_p99: float
    tpot_p50: float | None
    tpot_p99: float | None
    max_gap: float | None
    # against the SLO given to summarize() (every request meets an SLO that was not given)
    slo_met: float
    goodput_rps: float
    goodput_tokens_per_s: float
    # the traces summarized (not shown in the repr)
    traces: tuple = field(default=(), repr=False, compare=False)


def summarize(traces: list[Trace], ttft_slo_s: float | None = None, tpot_slo_s: float | None = None) -> Summary:
    """One row of serving numbers. Throughput counts output tokens over the span first arrival -> last token."""
    if not traces:
        raise ValueError("no traces to summarize")
    start = min(t.arrival_s for t in traces)
    end = max(t.token_times[-1] for t in traces)
    span = end - start
    tokens = sum(len(t.token_times) for t in traces)
    ttft = [t.ttft for t in traces]
    tpot = [t.tpot for t in traces if t.tpot is not None]
    ok = [t for t in traces if (ttft_slo_s is None or t.ttft <= ttft_slo_s)
          and (tpot_slo_s is None or t.tpot is None or t.tpot <= tpot_slo_s)]
    gaps = [g for t in traces for g in t.gaps()]
    return Summary(requests=len(traces), span_s=span, tokens_per_s=tokens / span if span else float("inf"),
                   ttft_p50=percentile(ttft, 50), ttft_p99=percentile(ttft, 99),
                   tpot_p50=percentile(tpot, 50) if tpot else None, tpot_p99=percentile(tpot, 99) if tpot else None,
                   max_gap=max(gaps) if gaps else None,
                   slo_met=len(ok) / len(traces),
                   goodput_rps=len(ok) / span if span else float("inf"),
                   goodput_tokens_per_s=sum(len(t.token_times) for t in ok) / span if span else float("inf"),
                   traces=tuple(traces))
