"""An MoE routing simulator: Zipf-skewed top-k routing, expert capacity, dropped and rerouted tokens,
the load on the busiest expert and rank, and the all-to-all bytes of expert parallelism.

    r = simulate(tokens=4099, experts=64, top_k=2, capacity_factor=1.25, skew=1.0, ep_ranks=8)
    pl.show(sweep_table())                     # drops vs capacity factor and skew

Routing: each token ranks the experts by a random draw weighted by a Zipf popularity (expert e has
weight 1/(e+1)^skew; skew 0 is uniform) and keeps its top_k (a stand-in for a learned gate's top-k). Each expert accepts at most
capacity = ceil(CF · tokens · top_k / experts) assignments, first come first served in token order.
Overflowing assignments are dropped, or, with ``reroute``, offered to the token's next choices (up to
REROUTE_ROUNDS more each) that still have room (the "redistribute overflow" policy of L6071). Experts live on ``ep_ranks`` ranks in contiguous
groups; tokens start on ranks in contiguous blocks; an assignment whose expert is on another rank crosses
the network twice (dispatch, then combine).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from labs.ch15_parallel_decoding import calculators as calc

REROUTE_ROUNDS = 3           # how many further choices an overflowing assignment may try


@dataclass
class MoEResult:
    tokens: int
    experts: int
    top_k: int
    capacity_factor: float
    skew: float
    ep_ranks: int
    capacity: int
    load: torch.Tensor            # assignments offered to each expert (before capacity)
    kept: torch.Tensor            # assignments each expert processed
    dropped: int                  # assignments lost
    rerouted: int                 # assignments moved to a later choice
    a2a_bytes: float              # dispatch + combine across ranks
    rank_load: torch.Tensor       # assignments processed per rank
    assign: torch.Tensor          # (tokens, top_k) expert of each assignment (after rerouting)
    keep: torch.Tensor            # (tokens, top_k) False where it was dropped

    @property
    def drop_fraction(self) -> float:
        return self.dropped / (self.tokens * self.top_k)

    @property
    def reroute_fraction(self) -> float:
        return self.rerouted / (self.tokens * self.top_k)

    @property
    def max_over_mean(self) -> float:
        """Busiest expert's offered load ÷ the mean: the capacity factor it would need to drop nothing."""
        return float(self.load.max()) / (self.tokens * self.top_k / self.experts)

    @property
    def rank_imbalance(self) -> float:
        """Busiest rank's work ÷ the mean rank's: the MoE layer waits for the slowest rank."""
        return float(self.rank_load.max()) / float(self.rank_load.float().mean())

    def __repr__(self):
        return (f"MoE {self.tokens} tokens, {self.experts} experts, top-{self.top_k}, CF {self.capacity_factor}, "
                f"skew {self.skew}: capacity {self.capacity}, dropped {self.drop_fraction:.1%}, rerouted "
                f"{self.reroute_fraction:.1%}, busiest expert {self.max_over_mean:.2f}× mean, busiest rank "
                f"{self.rank_imbalance:.2f}× mean, all-to-all {self.a2a_bytes / 2**20:.1f} MiB")


def zipf_weights(experts: int, skew: float) -> torch.Tensor:
    """Popularity of each expert: 1/(e+1)^skew, normalised (skew 0: uniform)."""
    w = 1.0 / torch.arange(1, experts + 1, dtype=torch.float64) ** skew
    return w / w.sum()


def route(tokens: int, experts: int, choices: int, skew: float, seed: int = 0) -> torch.Tensor:
    """(tokens, choices) expert ids, each row distinct, in preference order, drawn with Zipf weights.

    Sampling without replacement in proportion to w is the same as keeping the top ``choices`` of
    log w + Gumbel noise (the Gumbel-top-k trick): one sort per token instead of ``choices`` draws.
    """
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(tokens, experts, generator=g, dtype=torch.float64).clamp_min(1e-300)
    scores = zipf_weights(experts, skew).log() - (-u.log()).log()
    return scores.topk(choices, dim=1).indices


def queue_positions(assign: torch.Tensor, experts: int) -> torch.Tensor:
    """Position of each (token, slot) in its expert's queue, first come first served in token order.

    A stable sort by expert id keeps token order inside each expert's group; the position is the distance
    from the start of the group.

    >>> queue_positions(torch.tensor([[0, 1], [0, 2], [1, 0]]), 3).tolist()
    [[0, 0], [1, 0], [1, 2]]
    """
    flat = assign.reshape(-1)
    order = torch.sort(flat, stable=True).indices
    counts = torch.bincount(flat, minlength=experts)
    starts = counts.cumsum(0) - counts
    pos = torch.empty_like(flat)
    pos[order] = torch.arange(flat.numel()) - starts[flat[order]]
    return pos.reshape(assign.shape)


@functools.lru_cache(maxsize=16)
def _routing(tokens: int, experts: int, top_k: int, skew: float, seed: int):
    """Preferences (top_k plus the reroute choices) and queue positions of the first top_k: the same for
    every capacity factor, so a sweep over CF routes once. Callers must not modify them."""
    prefs = route(tokens, experts, min(experts, top_k * (1 + REROUTE_ROUNDS)), skew, seed)
    return prefs, queue_positions(prefs[:, :top_k], experts)


def simulate(tokens: int = 4099, experts: int = 64, top_k: int = 2, capacity_factor: float = 1.25,
             skew: float = 1.0, ep_ranks: int = 8, hidden: int = 4096, dtype_bytes: int = 2,
             reroute: bool = False, seed: int = 0, prefs: torch.Tensor | None = None) -> MoEResult:
    """Route one batch of tokens through one MoE layer and count what happens.

    prefs: (tokens, choices) expert ids in preference order, to route by hand instead of drawing them.
    """
    if experts % ep_ranks:
        raise ValueError(f"experts={experts} must split evenly over ep_ranks={ep_ranks}")
    if not 1 <= top_k <= experts:
        raise ValueError(f"top_k must be in 1 … experts={experts}, got {top_k}")
    if prefs is None:
        prefs, first_pos = _routing(tokens, experts, top_k, skew, seed)
    else:
        tokens, first_pos = prefs.shape[0], queue_positions(prefs[:, :top_k], experts)
    cap = calc.expert_capacity(capacity_factor, tokens, top_k, experts)
    assign = prefs[:, :top_k].clone()
    load = torch.bincount(assign.reshape(-1), minlength=experts)
    keep = first_pos < cap
    rerouted = 0
    for r in range(REROUTE_ROUNDS if reroute else 0):    # offer each overflow to the token's next choices
        cols = slice(top_k * (r + 1), top_k * (r + 2))   # slot s of round r gets its own column: no duplicates
        if cols.stop > prefs.shape[1] or bool(keep.all()):
            break
        t, s = (~keep).nonzero(as_tuple=True)              # overflowing (token, slot), in token order
        e = prefs[:, cols][t, s]
        used = torch.bincount(assign[keep], minlength=experts)
        ok = used[e] + queue_positions(e[:, None], experts)[:, 0] < cap
        assign[t[ok], s[ok]] = e[ok]
        keep[t[ok], s[ok]] = True
        rerouted += int(ok.sum())
    kept = torch.bincount(assign[keep], minlength=experts)
    per_rank = experts // ep_ranks
    token_rank = torch.arange(tokens)[:, None] * ep_ranks // tokens            # contiguous blocks of tokens
    remote = (assign // per_rank != token_rank) & keep
    a2a = 2 * int(remote.sum()) * hidden * dtype_bytes
    rank_load = kept.reshape(ep_ranks, per_rank).sum(1)
    return MoEResult(tokens, experts, top_k, capacity_factor, skew, ep_ranks, cap, load, kept,
                     int((~keep).sum()), rerouted, a2a, rank_load, assign, keep)


def sweep_table(cfs=(1.0, 1.25, 1.5, 2.0), skews=(0.0, 0.5, 1.0), **kw):
    """Dropped %, rerouted % (with rerouting on) and the busiest expert, per capacity factor and skew."""
    from perflab.table import Table
    rows = []
    for skew in skews:
        for cf in cfs:
            r = simulate(capacity_factor=cf, skew=skew, **kw)
            rr = simulate(capacity_factor=cf, skew=skew, reroute=True, **kw)
            rows.append([f"{skew:g}", f"{cf:g}", str(r.capacity), f"{r.max_over_mean:.2f}×",
                         f"{r.drop_fraction:.1%}", f"{rr.reroute_fraction:.1%}", f"{rr.drop_fraction:.1%}",
                         f"{r.rank_imbalance:.2f}×", f"{r.a2a_bytes / 2**20:,.1f}"])
    r = simulate(**kw)
    return Table(["Zipf skew", "CF", "capacity", "busiest expert", "dropped", "rerouted", "dropped after reroute",
                  "busiest rank", "all-to-all MiB"], rows,
                 title=f"MoE routing: {r.tokens} tokens, {r.experts} experts on {r.ep_ranks} ranks, top-{r.top_k}",
                 notes=["busiest expert = its offered load ÷ the mean: the capacity factor it needs to drop nothing",
                        "rerouted: overflow assignments given to the token's next choices with room (L6071's policy)",
                        f"all-to-all at hidden {kw.get('hidden', 4096)}, {kw.get('dtype_bytes', 2)} B per value; "
                        f"uniform formula: {calc.all_to_all_bytes(r.tokens, r.top_k, kw.get('hidden', 4096), kw.get('dtype_bytes', 2), r.ep_ranks) / 2**20:,.1f} MiB"])


def drop_curve(skews=(0.0, 0.5, 1.0, 1.2), cfs=None, **kw):
    """{skew: [(cf, drop fraction)]} for a chart."""
    cfs = cfs or [round(1 + 0.1 * i, 2) for i in range(11)]
    return {s: [(cf, simulate(capacity_factor=cf, skew=s, **kw).drop_fraction) for cf in cfs] for s in skews}


def figure(curves: dict):
    import plotly.graph_objects as go
    fig = go.Figure([go.Scatter(x=[c for c, _ in pts], y=[100 * d for _, d in pts], mode="lines+markers",
                                name=f"Zipf skew {s:g}") for s, pts in curves.items()])
    fig.add_vrect(x0=1.2, x1=1.5, fillcolor="green", opacity=0.1, annotation_text="book's 1.2–1.5 (L5908)")
    fig.update_layout(xaxis_title="capacity factor", yaxis_title="assignments dropped (%)", height=360,
                      title="Dropped tokens vs capacity factor")
    return fig


def curve_text(curves: dict) -> str:
    lines = []
    for s, pts in curves.items():
        lines.append(f"skew {s:<4g} " + "  ".join(f"CF {c:.1f}: {100 * d:4.1f}%" for c, d in pts[::2]))
    return "\n".join(lines)
