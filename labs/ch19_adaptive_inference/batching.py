"""Dynamic batching timeout sweep: the engine's measured batch cost fed to the batching simulator.

A request here is "decode ``new_tokens`` tokens after a prompt". The engine serves a batch of b such
requests in ``fixed + per_request * b`` seconds: at batch 1 decode is bound by reading the weights, so a
bigger batch costs little more (:func:`calibrate` measures both numbers on this device). The simulator
then plays Poisson arrivals against that cost for each timeout.
"""
from __future__ import annotations

import perflab as pl
import torch

from labs.ch19_adaptive_inference import engine
from labs.ch19_adaptive_inference.simulators import POLICIES, Service, SweepPoint, sweep
from labs.inference.generate import generate

TIMEOUTS_MS = (0, 2, 5, 10, 20, 50)
LOAD = (0.02, 0.1, 0.4, 0.9)             # arrival rates as fractions of the full-batch capacity


def calibrate(size=None, max_batch: int = 8, new_tokens: int = 16, rep_ms: float = 100) -> Service:
    """Time the engine's greedy generate (bf16, KV cache) at batch 1 and ``max_batch``; fit fixed + per request."""
    lab = pl.load("ch19.decode_graph")
    size = lab.SIZES[pl.env().tier][0] if size is None else size
    b = engine.bundle(tuple(size), engine.device_key(pl.device()))
    model = b.model("bf16")
    g = torch.Generator().manual_seed(3)
    prompts = torch.randint(0, b.config.vocab_size, (max_batch, size[2]), generator=g).tolist()
    t = {}
    for n in (1, max_batch):
        t[n] = pl.bench(lambda: generate(model, prompts[:n], new_tokens), rep_ms=rep_ms,
                        label=f"generate batch {n}").median
    per = max(0.0, (t[max_batch] - t[1]) / (max_batch - 1))
    return Service(t[1] - per, per, source=f"engine {size}, bf16, {new_tokens} new tokens, measured on "
                                           f"{pl.env().device}")


def run(service: Service, max_batch: int = 8, n: int = 3000, seed: int = 0) -> list[SweepPoint]:
    """Both policies at every load and timeout (the sweep as records)."""
    rates = [f * service.capacity(max_batch) for f in LOAD]
    timeouts = [ms / 1e3 for ms in TIMEOUTS_MS]
    return [rec for policy in POLICIES for rec in sweep(service, rates, timeouts, max_batch, n, seed, policy)]


def _ms(s: float) -> str:
    return f"{s * 1e3:,.0f}" if s < 10 else ">10 s"


def table(records: list[SweepPoint], service: Service, max_batch: int = 8):
    """Rows: policy and timeout; columns: load. Cells: p50 / p99 latency in ms and the mean batch; ★ marks
    the timeout with the lowest median latency at that load."""
    from perflab.table import Table
    rates = sorted({r.rate for r in records})
    best = {(p, rate): min((r for r in records if r.rate == rate and r.policy == p), key=lambda r: r.p50)
            for p in POLICIES for rate in rates}
    rows = []
    for r0 in [r for r in records if r.rate == rates[0]]:
        row = [r0.policy, f"{r0.timeout * 1e3:g} ms"]
        for rate in rates:
            r = next(x for x in records if x.rate == rate and x.timeout == r0.timeout
                     and x.policy == r0.policy)
            star = " ★" if best[(r.policy, rate)] is r else ""
            row.append(f"{_ms(r.p50)} / {_ms(r.p99)} ({r.mean_batch:.1f}){star}")
        rows.append(row)
    cols = ["policy", "timeout"] + [f"λ={rate:,.0f}/s ({f:.0%})" for rate, f in zip(rates, LOAD)]
    notes = [f"cell: p50 / p99 latency in ms (mean batch), ★ lowest p50 of the policy at that load; λ in requests/s as a share of the full-batch "
             f"capacity {service.capacity(max_batch):,.0f}/s; at most {max_batch} per batch",
             f"batch cost {service.fixed * 1e3:.1f} ms + {service.per_request * 1e3:.2f} ms per request "
             f"({service.source})",
             "timer: batches close on size or timeout and queue for the GPU (the book's description, L6300); "
             "when_free: the GPU takes whatever waits when it frees up (work-conserving)",
             "a p99 of seconds means that timeout cannot keep up with that load: batches stay too small"]
    return Table(cols, rows, title="Dynamic batching: latency vs load for each timeout (simulated)", notes=notes)


def figure(records: list[SweepPoint]):
    """p99 latency against achieved throughput, one line per (policy, timeout)."""
    import plotly.graph_objects as go
    fig = go.Figure()
    for policy in POLICIES:
        for t in sorted({r.timeout for r in records}):
            pts = [r for r in records if r.policy == policy and r.timeout == t]
            fig.add_trace(go.Scatter(x=[r.throughput for r in pts], y=[r.p99 * 1e3 for r in pts],
                                     mode="lines+markers", name=f"{policy} T={t * 1e3:g} ms",
                                     line=dict(dash="solid" if policy == "timer" else "dot")))
    fig.update_layout(title="p99 latency vs throughput (simulated from the engine's batch cost)",
                      xaxis_title="completed requests/s", yaxis_title="p99 latency (ms)", yaxis_type="log",
                      height=420, margin=dict(l=60, r=20, t=50, b=50))
    return fig


def figure_text(records: list[SweepPoint]) -> str:
    lines = ["p99 latency (ms) at each load, timer policy:"]
    for t in sorted({r.timeout for r in records}):
        pts = [r for r in records if r.policy == "timer" and r.timeout == t]
        lines.append(f"  T={t * 1e3:>4g} ms  " + "  ".join(f"{r.throughput:>7,.0f}/s→{_ms(r.p99):>6}"
                                                          for r in pts))
    return "\n".join(lines)
