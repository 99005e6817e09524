"""Goodput under SLOs: the book's xPyD arithmetic, the simulator's search for the highest rate that meets
the SLOs, colocated vs xPyD, and the sweeps that show where disaggregation stops paying.

Goodput (DistServe, the book's L7048): the highest request rate at which the P90 TTFT and the P90 TPOT
both stay within their SLOs. Per GPU: divided by the GPUs the configuration uses.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from labs.ch17_disaggregation.sim import Cluster, CostModel, simulate
from labs.ch17_disaggregation.workloads import Workload
from perflab.validate import calculator_inputs

# The book's worked example (L7048–L7052): SLOs and the rates read off its Figure 17-2.
BOOK = {"ttft_slo_s": 0.4, "tpot_slo_s": 0.04, "coloc_ttft_rps": 3.0, "coloc_tpot_rps": 1.6,
        "prefill_rps": 5.6, "decode_rps": 10.0, "n_prefill": 2, "n_decode": 1}


def pool_goodput(n_prefill: int, prefill_rps: float, n_decode: int, decode_rps: float) -> float:
    """Requests/s per GPU of an xPyD deployment: the slower pool sets the rate, every GPU shares it (L7052).

    >>> round(pool_goodput(2, 5.6, 1, 10.0), 1)
    3.3
    """
    return min(n_prefill * prefill_rps, n_decode * decode_rps) / (n_prefill + n_decode)


@dataclass(frozen=True)
class BookExample:
    """The book's worked 2P1D example (L7048–L7052), recomputed by book_example()."""
    # goodput, requests/s: one colocated GPU, each pool of the 2P1D deployment, and 2P1D per GPU
    colocated_rps_per_gpu: float
    prefill_pool_rps: float
    decode_pool_rps: float
    disagg_rps_per_gpu: float
    # 2P1D over colocated: per GPU, and in total on 3× the GPUs
    gain_per_gpu: float
    gain_total: float


def book_example() -> BookExample:
    """The book's 1.6 vs 3.3 RPS/GPU, recomputed from the inputs it states."""
    b = BOOK
    coloc = min(b["coloc_ttft_rps"], b["coloc_tpot_rps"])             # one GPU must meet both SLOs
    disagg = pool_goodput(b["n_prefill"], b["prefill_rps"], b["n_decode"], b["decode_rps"])
    return BookExample(colocated_rps_per_gpu=coloc, prefill_pool_rps=b["n_prefill"] * b["prefill_rps"],
                       decode_pool_rps=b["n_decode"] * b["decode_rps"], disagg_rps_per_gpu=disagg,
                       gain_per_gpu=disagg / coloc, gain_total=disagg * 3 / coloc)


@calculator_inputs(positive="n_prefill prefill_rps n_decode decode_rps")
def explain_book(n_prefill=2, prefill_rps=5.6, n_decode=1, decode_rps=10.0) -> str:
    """The calculator's text: xPyD goodput per GPU from per-worker rates (defaults: the book's, L7048–L7052)."""
    g = pool_goodput(n_prefill, prefill_rps, n_decode, decode_rps)
    side = "prefill" if n_prefill * prefill_rps < n_decode * decode_rps else "decode"
    return (f"{n_prefill}P{n_decode}D: min({n_prefill} × {prefill_rps:g}, {n_decode} × {decode_rps:g}) / "
            f"{n_prefill + n_decode} GPUs = {g:.2f} RPS/GPU ({side} pool limits); the book's colocated GPU: "
            f"min(3, 1.6) = 1.6 RPS (L7048) → {g / 1.6:.2f}× per GPU")


def book_example_text() -> str:
    """The worked example as printed lines, each step with the book's line."""
    b, x = book_example(), BOOK
    return "\n".join([
        f"SLOs: P90 TTFT ≤ {x['ttft_slo_s']:g} s, P90 TPOT ≤ {x['tpot_slo_s']:g} s (L7048)",
        f"colocated, 1 GPU: TTFT allows {x['coloc_ttft_rps']:g} RPS, TPOT allows {x['coloc_tpot_rps']:g} RPS -> goodput "
        f"min({x['coloc_ttft_rps']:g}, {x['coloc_tpot_rps']:g}) = {b.colocated_rps_per_gpu:g} RPS/GPU (L7048)",
        f"2P1D: prefill pool {x['n_prefill']} x {x['prefill_rps']:g} = {b.prefill_pool_rps:.1f} RPS, decode pool "
        f"{x['n_decode']} x {x['decode_rps']:g} = {b.decode_pool_rps:g} RPS",
        f"      goodput min({b.prefill_pool_rps:.1f}, {b.decode_pool_rps:g}) / 3 GPUs = "
        f"{b.disagg_rps_per_gpu:.4f} -> {b.disagg_rps_per_gpu:.1f} RPS/GPU (book: 3.3, L7050-L7052)",
        f"gain: {b.gain_per_gpu:.2f}x per GPU; {b.gain_total:.2f}x in total on 3x the GPUs"])


@calculator_inputs(positive="rate_rps latency_s")
def explain_little(rate_rps=10.0, latency_s=2.0) -> str:
    """Little's law, L = λ·W (standard queueing, not stated in the book): requests in flight."""
    return (f"{rate_rps:g} requests/s × {latency_s:g} s each = {rate_rps * latency_s:g} requests in the system on "
            f"average (their KV is all resident at once)")


# ---- SLOs and the goodput search -------------------------------------------------------------------

@dataclass(frozen=True)
class SLO:
    ttft_s: float
    tpot_s: float
    pct: float = 0.9                 # the book's example uses P90 for both (L7048)

    def __str__(self):
        return f"P{self.pct * 100:.0f} TTFT ≤ {self.ttft_s * 1e3:.3g} ms, P{self.pct * 100:.0f} TPOT ≤ {self.tpot_s * 1e3:.3g} ms"


def slo_for(cost: CostModel, workload: Workload, ttft_x: float = 4.0, tpot_x: float = 3.0) -> SLO:
    """SLOs scaled to this device: TTFT ttft_x times an unloaded prefill of the mean prompt, TPOT tpot_x
    times an unloaded decode step at batch 1 (the book's 0.4 s and 0.04 s are for a 13B model on an
    A100; a tiny model on a CPU needs SLOs in its own time scale)."""
    p = round(workload.mean_prompt)
    return SLO(ttft_x * cost.prefill_s(p), tpot_x * cost.decode_s(1, p))


def meets(result, slo: SLO, which: str = "both") -> bool:
    """Whether a simulated run meets the SLO on TTFT, TPOT, or both, at the SLO's percentile."""
    if which not in ("both", "ttft", "tpot"):
        raise ValueError(f"which must be 'both', 'ttft' or 'tpot', got {which!r}")
    ok = True
    if which in ("both", "ttft"):
        ok &= result.p(result.ttfts(), slo.pct) <= slo.ttft_s
    if which in ("both", "tpot"):
        ok &= result.p(result.tpots(), slo.pct) <= slo.tpot_s
    return ok


def max_rate(cluster: Cluster, cost: CostModel, workload: Workload, slo: SLO, which: str = "both",
             steps: int = 8, **policies) -> float:
    """The highest request rate (requests/s for the whole cluster) meeting the SLO: double until it fails,
    then bisect. The same requests at every rate (time rescaled), so the search is deterministic."""
    ok = lambda rate: meets(simulate(cluster, cost, workload.requests(rate), **policies), slo, which)  # noqa: E731
    guess = cluster.gpus / (cost.prefill_s(round(workload.mean_prompt)) + cost.decode_s(1) * workload.mean_output)
    lo, hi = 0.0, guess
    while ok(hi):
        lo, hi = hi, hi * 2
        if hi > 1e6 * guess:
            raise ValueError("the SLO holds at any rate: is the SLO looser than the cost of a request?")
    for _ in range(steps):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo


@dataclass
class Capacities:
    """Per-worker rates at the SLO, measured by simulation (the inputs of the book's arithmetic)."""
    coloc_ttft: float          # one colocated GPU, TTFT SLO only
    coloc_tpot: float          # one colocated GPU, TPOT SLO only
    coloc_both: float          # one colocated GPU, both SLOs: its goodput
    prefill: float             # one prefill worker, TTFT SLO (its decode side never touches TTFT)
    decode: float              # one decode worker fed instantly (free prefill), TPOT SLO

    def predict(self, n_prefill: int, n_decode: int) -> float:
        return pool_goodput(n_prefill, self.prefill, n_decode, self.decode)


def capacities(cost: CostModel, workload: Workload, slo: SLO, max_batch: int = 64) -> Capacities:
    one = Cluster(n_decode=1, max_batch=max_batch)
    pd = Cluster(n_prefill=1, n_decode=1, max_batch=max_batch)
    return Capacities(coloc_ttft=max_rate(one, cost, workload, slo, "ttft"),
                      coloc_tpot=max_rate(one, cost, workload, slo, "tpot"),
                      coloc_both=max_rate(one, cost, workload, slo, "both"),
                      prefill=max_rate(pd, cost, workload, slo, "ttft"),
                      decode=max_rate(pd, cost.free_prefill(), workload, slo, "tpot"))


CONFIGS = [(1, 1), (2, 1), (1, 2)]


def best_config(cap: Capacities, configs=CONFIGS) -> tuple:
    """(n_prefill, n_decode) with the highest predicted goodput per GPU."""
    return max(configs, key=lambda c: (cap.predict(*c), -sum(c)))


@dataclass
class Comparison:
    """Colocated vs xPyD on one workload: pool rates, the book's arithmetic on them, and direct simulations."""
    cost: CostModel
    workload: Workload
    slo: SLO
    cap: Capacities
    simulated: dict            # (n_prefill, n_decode) -> simulated goodput, requests/s per GPU
    coloc_same: float          # colocated workers as many as the book's 2P1D has GPUs, per GPU

    def table(self):
        from perflab.table import Table
        cap, base = self.cap, self.cap.coloc_both
        rows = [["colocated, 1 GPU", f"min({cap.coloc_ttft:.1f}, {cap.coloc_tpot:.1f}) = "
                 f"{min(cap.coloc_ttft, cap.coloc_tpot):.1f}", f"{base:.1f}", "1.00×"],
                ["colocated, 3 GPUs (round robin)", "—", f"{self.coloc_same:.1f}", f"{self.coloc_same / base:.2f}×"]]
        for (n_p, n_d), sim in self.simulated.items():
            rows.append([f"{n_p}P{n_d}D", f"min({n_p}×{cap.prefill:.1f}, {n_d}×{cap.decode:.1f}) / {n_p + n_d} = "
                         f"{cap.predict(n_p, n_d):.1f}", f"{sim:.1f}", f"{sim / base:.2f}×"])
        wl = self.workload
        return Table(["deployment", "book's arithmetic on simulated pool rates, RPS/GPU", "simulated goodput RPS/GPU",
                      "vs colocated 1 GPU"], rows,
                     title=f"Goodput per GPU under {self.slo} · {len(wl)} requests, prompt ≈ {wl.mean_prompt:.0f}, "
                           f"output ≈ {wl.mean_output:.0f} tokens",
                     notes=[f"one prefill worker carries {cap.prefill:.1f} RPS at the TTFT SLO, one decode worker "
                            f"{cap.decode:.1f} RPS at the TPOT SLO; a colocated GPU {cap.coloc_ttft:.1f} (TTFT only), "
                            f"{cap.coloc_tpot:.1f} (TPOT only)",
                            "simulated above the arithmetic: prefill workers pulling from one shared queue absorb "
                            "bursts better than separate ones (pooling), which the min() formula ignores",
                            f"costs: {self.cost.source}; KV link {self.cost.link_gbps:g} GB/s"])


def compare(cost: CostModel, workload: Workload, slo: SLO, cap: Capacities | None = None,
            configs=CONFIGS) -> Comparison:
    """Colocated vs each xPyD: the book's arithmetic on measured pool rates beside a direct simulation."""
    cap = cap or capacities(cost, workload, slo)
    sims = {(n_p, n_d): max_rate(Cluster(n_prefill=n_p, n_decode=n_d), cost, workload, slo) / (n_p + n_d)
            for n_p, n_d in configs}
    same = max_rate(Cluster(n_decode=3), cost, workload, slo) / 3
    return Comparison(cost, workload, slo, cap, sims, same)


# ---- where disaggregation stops paying --------------------------------------------------------------

@dataclass(frozen=True)
class SweepRow:
    """One point of sweep(): colocated vs the best xPyD split at one value of the swept knob."""
    # the knob's value (TPOT SLO as × an unloaded decode step, or link GB/s), the SLO there, the KV transfer (s)
    x: float
    slo: SLO
    transfer_s: float
    # goodput per GPU, requests/s: colocated, the best split (its name, e.g. "2P1D"), and every split
    coloc: float
    config: str
    disagg: float
    all: dict


def sweep(cost: CostModel, workload: Workload, *, tpot_x=None, link_gbps=None, gpus: int = 3,
          ttft_x: float = 4.0, steps: int = 7) -> list[SweepRow]:
    """Goodput per GPU of `gpus` colocated GPUs vs the best split into xPyD (x + y = gpus), all simulated,
    along one knob: the TPOT SLO (as a multiple of an unloaded decode step, ``tpot_x=[...]``) or the KV
    link's bandwidth (``link_gbps=[...]``, with the SLOs of the nominal link)."""
    if (tpot_x is None) == (link_gbps is None):
        raise ValueError("sweep one knob: pass tpot_x=[...] or link_gbps=[...]")
    rows, coloc = [], None
    for x in (tpot_x if tpot_x is not None else link_gbps):
        c = cost if tpot_x is not None else replace(cost, link_gbps=x)
        slo = slo_for(cost, workload, ttft_x, x if tpot_x is not None else 3.0)
        if coloc is None or tpot_x is not None:          # colocated GPUs never use the KV link
            coloc = max_rate(Cluster(n_decode=gpus), c, workload, slo, steps=steps) / gpus
        sims = {(p, gpus - p): max_rate(Cluster(n_prefill=p, n_decode=gpus - p), c, workload, slo, steps=steps) / gpus
                for p in range(1, gpus)}
        n_p, n_d = max(sims, key=lambda k: sims[k])
        rows.append(SweepRow(x=x, slo=slo, transfer_s=c.transfer_s(round(workload.mean_prompt)), coloc=coloc,
                             config=f"{n_p}P{n_d}D", disagg=sims[(n_p, n_d)], all=sims))
    return rows


def link_points(cost: CostModel, workload: Workload, steps=(30, 10, 3, 1, 0.1)) -> list:
    """Link bandwidths (GB/s, two significant digits) at which the mean prompt's KV takes ``steps`` unloaded
    decode steps to cross: the same sweep then brackets the crossover on a CPU and on an H200."""
    p = round(workload.mean_prompt)
    out = []
    for k in steps:
        gbps = p * cost.kv_bytes_per_token / (k * cost.decode_s(1, p)) / 1e9
        out.append(float(f"{gbps:.2g}"))
    return out


def crossover(rows: list, unit: str) -> str:
    """One sentence: where along the sweep the best xPyD stops beating colocated."""
    wins = [(r.x, r.disagg > r.coloc) for r in rows]
    lo, hi = wins[0][0], wins[-1][0]
    if all(w for _, w in wins):
        return f"disaggregation pays at every point of this sweep ({lo:g}–{hi:g} {unit})"
    if not any(w for _, w in wins):
        return f"disaggregation never pays in this sweep ({lo:g}–{hi:g} {unit}) on this device"
    win = ", ".join(f"{x:g}" for x, w in wins if w)
    lose = ", ".join(f"{x:g}" for x, w in wins if not w)
    return f"disaggregation wins at {win} {unit}; it stops paying (colocated as good or better) at {lose} {unit}"
