"""The notebook's simulated experiments, each one function returning a Table: routing, the offload decision,
admission control under overload, and the sweeps' table and chart.

Every scenario takes the calibrated CostModel, so its times are this device's; loads are given as a
fraction of what the cluster can carry, so the same scenario means the same thing on a CPU and an H200.
"""
from __future__ import annotations

from labs.ch17_disaggregation import goodput, policies
from labs.ch17_disaggregation.sim import Cluster, CostModel, SimResult, simulate
from labs.ch17_disaggregation.workloads import make_workload, periodic_heavy
from perflab.table import Table


def _ms(s: float) -> str:
    return f"{s * 1e3:.3g}"


def work_per_request(cost: CostModel, workload, batch: int = 8) -> float:
    """GPU seconds one request costs a colocated worker: its prefill plus its share of decode steps at ~batch."""
    p = round(workload.mean_prompt)
    return cost.prefill_s(p) + workload.mean_output * cost.decode_s(batch, batch * p) / batch


def imbalance(res: SimResult) -> float:
    """Busiest worker's busy time over the mean: 1.0 is perfectly even."""
    busy = [w.busy_s for w in res.workers]
    return max(busy) / (sum(busy) / len(busy))


# ---- routing ---------------------------------------------------------------------------------------

def routing(cost: CostModel, load: float = 0.7, workers: int = 4, n: int = 600, seed: int = 3) -> Table:
    """Four routers over colocated workers that cache 2 of 8 shared prefixes (Zipf-popular, ¾ of the prompt)."""
    wl = make_workload(n, 256, 32, seed=seed, prefix_groups=8, prefix_share=0.75)
    slo = goodput.slo_for(cost, wl)
    rate = load * workers / work_per_request(cost, wl)
    rows = []
    for name, router in policies.ROUTERS.items():
        res = simulate(Cluster(n_decode=workers, prefix_cache=2), cost, wl.requests(rate), router=router)
        hits = sum(r.cached > 0 for r in res.served) / len(res.served)
        rows.append([name, _ms(res.p(res.ttfts(), 0.5)), _ms(res.p(res.ttfts(), 0.99)), _ms(res.p(res.tpots(), 0.9)),
                     f"{hits:.0%}", f"{imbalance(res):.2f}", f"{res.attainment(slo.ttft_s, slo.tpot_s):.0%}"])
    return Table(["router", "TTFT p50 ms", "TTFT p99 ms", "TPOT p90 ms", "prefix hits", "busiest/mean",
                  "meet both SLOs"], rows,
                 title=f"Routing {n} requests over {workers} colocated workers at {rate:.0f} RPS (≈{load:.0%} load), "
                       f"8 shared prefixes, 2 cached per worker",
                 notes=[f"SLO: {slo}; times from {cost.source}",
                        "KV-aware: 3·occupancy + 1·requests − 10·cache match + 0.5·bandwidth − 1·recent prefix "
                        "(Table 17-3, L7509–L7535); occupancy as a fraction, and in % in the last row"])


def skewed(cost: CostModel, workers: int = 4, n: int = 240) -> Table:
    """Every 4th request is heavy: round-robin (period = workers) piles all of them onto one worker."""
    wl = periodic_heavy(n, workers, light=(32, 8), heavy=(448, 48))
    rate = 0.5 * workers / work_per_request(cost, wl)
    rows = []
    for name, router in list(policies.ROUTERS.items())[:2]:
        res = simulate(Cluster(n_decode=workers), cost, wl.requests(rate), router=router)
        rows.append([name, _ms(res.p(res.ttfts(), 0.99)), _ms(res.p(res.tpots(), 0.9)), f"{imbalance(res):.2f}"])
    return Table(["router", "TTFT p99 ms", "TPOT p90 ms", "busiest/mean"], rows,
                 title=f"A skewed stream: every {workers}th request is heavy (448-token prompt, 48 tokens out) · "
                       f"{rate:.0f} RPS over {workers} workers")


# ---- the remote-prefill decision -------------------------------------------------------------------

def offload(cost: CostModel, n: int = 400, seed: int = 5, extra: dict | None = None) -> Table:
    """1P2D with prefix caches: always remote, never remote, should_offload_prefill (L7388–L7419), and any
    policies in ``extra`` ({name: fn}, fn with the keywords of policies.should_offload_prefill)."""
    wl = make_workload(n, 200, 32, seed=seed, spread=0.9, prefix_groups=6, prefix_share=0.5)
    slo = goodput.slo_for(cost, wl)
    cluster = Cluster(n_prefill=1, n_decode=2, prefix_cache=3)
    rate = 0.6 * cluster.gpus / work_per_request(cost, wl)
    rows = []
    for name, policy in {**policies.OFFLOAD, **(extra or {})}.items():
        res = simulate(cluster, cost, wl.requests(rate), offload=policy)
        good = goodput.max_rate(cluster, cost, wl, slo, offload=policy) / cluster.gpus
        off = sum(r.offloaded for r in res.served) / len(res.served)
        rows.append([name, f"{off:.0%}", _ms(res.p(res.ttfts(), 0.5)), _ms(res.p(res.ttfts(), 0.99)),
                     _ms(res.p(res.tpots(), 0.9)), f"{res.attainment(slo.ttft_s, slo.tpot_s):.0%}", f"{good:.1f}"])
    return Table(["policy", "offloaded", "TTFT p50 ms", "TTFT p99 ms", "TPOT p90 ms", "meet both SLOs",
                  "goodput RPS/GPU"], rows,
                 title=f"Who prefills? 1P2D, prompts 20–380 tokens (half of each a shared prefix), {rate:.0f} RPS",
                 notes=[f"SLO: {slo}", "the policy sees the uncached prompt length, the pool's queue and the decode "
                        "worker's load; thresholds 256 / 10 / 8 / 64 as in the book"])


# ---- admission control -----------------------------------------------------------------------------

def overload(cost: CostModel, over: float = 1.5, workers: int = 2, n: int = 500, seed: int = 7) -> Table:
    """Offered load `over` × what the cluster carries at the TTFT SLO; 30% of requests are high priority.
    Latency-first prefill (at most 512 prompt tokens per batch), so the order of the queue matters."""
    wl = make_workload(n, 256, 32, seed=seed, high_share=0.3)
    slo = goodput.slo_for(cost, wl)
    cluster = Cluster(n_decode=workers, max_prefill_tokens=512)
    cap = goodput.max_rate(cluster, cost, wl, slo, "ttft")
    rate = over * cap
    rows = []
    for name, prio, qos in (("FIFO, admit all", False, None), ("priority queue", True, None),
                            ("priority + early rejection", True, policies.QoSController(slo.ttft_s))):
        res = simulate(cluster, cost, wl.requests(rate), priority=prio, admission=qos)
        row = [name]
        for high in (True, False):
            cls = [r for r in res.requests if r.high == high]
            served = [r for r in cls if not r.rejected]
            ok = sum(r.ttft <= slo.ttft_s for r in served)
            row += [_ms(res.p([r.ttft for r in served], 0.99)) if served else "—", f"{ok / len(cls):.0%}"]
        row.append(f"{len(res.rejected) / len(res.requests):.0%}")
        rows.append(row)
    return Table(["policy", "high: TTFT p99 ms", "high: within TTFT SLO", "low: TTFT p99 ms",
                  "low: within TTFT SLO", "rejected (all low)"], rows,
                 title=f"Overload: {rate:.0f} RPS offered to {workers} colocated workers that carry {cap:.0f} RPS "
                       f"at the TTFT SLO ({over:.1f}×); 30% high priority",
                 notes=[f"TTFT SLO {_ms(slo.ttft_s)} ms at P{slo.pct * 100:.0f}; rejected requests count as misses",
                        "early rejection: estimated TTFT = prompts queued × average prefill time + sequences "
                        "decoding × average decode time per sequence (L7626–L7629), low priority only"])


# ---- sweeps ----------------------------------------------------------------------------------------

def sweep_table(rows: list, knob: str) -> Table:
    label = {"tpot": "TPOT SLO", "link": "KV link GB/s"}[knob]
    out = []
    for r in rows:
        x = f"{r.x:g}× step = {_ms(r.slo.tpot_s)} ms" if knob == "tpot" else f"{r.x:g}"
        splits = "  ".join(f"{p}P{d}D {v:.1f}" for (p, d), v in r.all.items())
        ratio = f"{r.disagg / r.coloc:.2f}×" if r.coloc else "—"
        out.append([x, _ms(r.transfer_s), f"{r.coloc:.1f}", splits, r.config, ratio])
    unit = "× decode step" if knob == "tpot" else "GB/s"
    gpus = sum(next(iter(rows[0].all)))
    return Table([label, "KV transfer ms", f"colocated ×{gpus} RPS/GPU", "xPyD RPS/GPU (simulated)", "best",
                  "best / colocated"], out,
                 title=f"Where disaggregation stops paying: {gpus} GPUs, sweeping the {label}",
                 notes=[goodput.crossover(rows, unit), "TTFT SLO fixed; 0.0 = the SLO is missed even at a trickle; "
                        "KV transfer: the mean prompt's KV over the link"])


def sweep_chart(rows: list, knob: str):
    """Plotly: colocated vs best xPyD goodput per GPU along the knob (log x)."""
    import plotly.graph_objects as go
    xs = [r.x for r in rows]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=xs, y=[r.coloc for r in rows], mode="lines+markers", name="colocated"))
    fig.add_trace(go.Scatter(x=xs, y=[r.disagg for r in rows], mode="lines+markers+text", name="best xPyD",
                             text=[r.config for r in rows], textposition="top center"))
    title = "TPOT SLO (× unloaded decode step)" if knob == "tpot" else "KV link bandwidth (GB/s)"
    fig.update_layout(xaxis_type="log", xaxis_title=title, yaxis_title="goodput, requests/s per GPU", height=340,
                      title=f"Goodput per GPU vs {title}")
    return fig


def sweep_text(rows: list) -> str:
    top = max(max(r.coloc, r.disagg) for r in rows) or 1.0
    bar = lambda v: "█" * round(24 * v / top)  # noqa: E731
    return "\n".join(f"{r.x:>7g}  colocated {bar(r.coloc):<24} {r.coloc:6.1f} | {r.config} "
                     f"{bar(r.disagg):<24} {r.disagg:6.1f}" for r in rows)
