"""A pipeline timeline simulator: K slices loaded into a ring of shared-memory stages and multiplied, by
warps that do everything, or by a producer warp feeding consumer warps (warp specialization, ping-pong).

Assumptions (a model, not a measurement): a load takes ``load`` time units from issue to landing and
many loads can be in flight at once (HBM serves thousands of requests); the tensor cores do one slice's
MMA in ``compute`` units, one slice at a time; issuing a load costs the issuing warps ``issue`` units;
a stage is free again once the MMA that read it has finished. Every event is kept, so the figure and
the totals come from the same list.

    >>> simulate(stages=1, k_tiles=4, load=3, compute=1, issue=0).total        # 4 × (3 + 1)
    16.0
    >>> simulate(stages=4, k_tiles=8, load=3, compute=1, issue=0).total        # load hidden: 3 + 8 × 1
    11.0
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from perflab.validate import calculator_inputs

MODES = ("single", "specialized", "pingpong")
COLORS = {"issue": "#9467bd", "load": "#1f77b4", "ready": "#c7c7c7", "mma": "#2ca02c", "epilogue": "#ff7f0e"}


@dataclass(frozen=True)
class Event:
    lane: str          # "warps", "producer", "consumer 0", "stage 2", ...
    kind: str          # "issue", "load", "ready" (landed, waiting for its MMA), "mma", "epilogue"
    start: float
    end: float
    label: str         # "t0 k3": output tile 0, K slice 3


@dataclass
class Timeline:
    """Every event of one simulated run, with its totals."""
    mode: str
    stages: int
    k_tiles: int
    tiles: int
    load: float
    compute: float
    issue: float
    epilogue: float
    events: list = field(default_factory=list)

    @property
    def total(self) -> float:
        return max(e.end for e in self.events)

    @property
    def mma_busy(self) -> float:
        """Fraction of the run the tensor cores spend multiplying (the model's 'SM active' share)."""
        return sum(e.end - e.start for e in self.events if e.kind == "mma") / self.total

    @property
    def lanes(self) -> list:
        """Warp lanes first (in order of appearance), then the stages in order."""
        seen = list(dict.fromkeys(e.lane for e in self.events))
        return [x for x in seen if not x.startswith("stage")] + sorted(x for x in seen if x.startswith("stage"))

    def summary(self) -> str:
        return (f"{self.mode}, {self.stages} stage{'s' * (self.stages > 1)}: {self.tiles} tile(s) × {self.k_tiles} "
                f"K slices in {self.total:g} units; tensor cores busy {self.mma_busy:.0%}")

    def figure(self, title: str | None = None):
        """A plotly timeline: one row per lane (warps and stages), one bar per event."""
        import plotly.graph_objects as go
        fig = go.Figure()
        for kind, color in COLORS.items():
            evs = [e for e in self.events if e.kind == kind]
            if evs:
                fig.add_trace(go.Bar(y=[e.lane for e in evs], x=[e.end - e.start for e in evs],
                                     base=[e.start for e in evs], orientation="h", name=kind, marker_color=color,
                                     text=[e.label if kind in ("mma", "load") else "" for e in evs],
                                     textposition="inside", insidetextanchor="middle",
                                     hovertemplate="%{y}: " + kind + " %{base:.2f} → %{x:.2f} units<extra></extra>"))
        fig.update_layout(barmode="overlay", title=title or self.summary(), height=120 + 32 * len(self.lanes),
                          xaxis_title="time (units)", margin=dict(l=90, r=20, t=50, b=40),
                          yaxis=dict(categoryorder="array", categoryarray=self.lanes[::-1]))
        return fig

    def text(self, width: int = 72) -> str:
        """The timeline as text, one row per lane: I issue, L load, . landed and waiting, M MMA, E epilogue."""
        scale = width / self.total
        mark = {"issue": "I", "load": "L", "ready": ".", "mma": "M", "epilogue": "E"}
        rows = []
        for lane in self.lanes:
            row = [" "] * width
            for e in (e for e in self.events if e.lane == lane):
                a, b = int(e.start * scale), max(int(e.start * scale) + 1, int(e.end * scale))
                for i in range(a, min(b, width)):
                    row[i] = mark[e.kind]
            rows.append(f"{lane:>11} |{''.join(row)}|")
        return "\n".join([self.summary()] + rows)

    def __repr__(self):
        return self.text()


def simulate(mode: str = "single", *, stages: int = 2, k_tiles: int = 8, load: float = 3.0, compute: float = 1.0,
             issue: float = 0.25, tiles: int = 1, epilogue: float = 0.0) -> Timeline:
    """Simulate a GEMM main loop of ``tiles`` output tiles × ``k_tiles`` K slices through ``stages`` buffers.

    mode "single":      the same warps issue loads, wait, multiply and write the tile (the epilogue);
                        each tile starts its pipeline afresh (prologue), as a non-persistent kernel does.
                        Slice k + stages - 1 is issued right before slice k is multiplied.
    mode "specialized": a producer warp issues every load as soon as its stage is free, across tiles;
                        one group of consumer warps multiplies and then runs each tile's epilogue.
    mode "pingpong":    as "specialized" with two consumer groups taking alternate tiles: one group's
                        epilogue runs while the other group has the tensor cores.
    """
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not one of {MODES}")
    if stages < 1 or k_tiles < 1 or tiles < 1:
        raise ValueError(f"stages, k_tiles and tiles must be >= 1, got {stages}, {k_tiles}, {tiles}")
    if min(load, compute, issue, epilogue) < 0:
        raise ValueError("times must be >= 0")
    tl = Timeline(mode, stages, k_tiles, tiles, float(load), float(compute), float(issue), float(epilogue))
    (_single if mode == "single" else _specialized)(tl)
    return tl


def _load(tl: Timeline, lane: str, j: int, t: float) -> float:
    """Issue slice j (global index) on ``lane`` at time t; record issue and flight; return landing time."""
    tile, k = divmod(j, tl.k_tiles)
    label = f"t{tile} k{k}"
    if tl.issue:
        tl.events.append(Event(lane, "issue", t, t + tl.issue, label))
    landed = t + tl.issue + tl.load
    tl.events.append(Event(f"stage {j % tl.stages}", "load", t + tl.issue, landed, label))
    return landed


def _mma(tl: Timeline, lane: str, j: int, landed: float, start: float) -> float:
    tile, k = divmod(j, tl.k_tiles)
    label = f"t{tile} k{k}"
    if start > landed:
        tl.events.append(Event(f"stage {j % tl.stages}", "ready", landed, start, label))
    tl.events.append(Event(lane, "mma", start, start + tl.compute, label))
    return start + tl.compute


def _single(tl: Timeline) -> None:
    t, S, K = 0.0, tl.stages, tl.k_tiles
    for tile in range(tl.tiles):
        base = tile * K
        landed = {}
        for k in range(min(S - 1, K)):                      # prologue: fill all but one stage
            landed[k] = _load(tl, "warps", base + k, t)
            t += tl.issue
        for k in range(K):
            nxt = k + S - 1                                 # its stage held slice k - 1, already multiplied
            if nxt < K:
                landed[nxt] = _load(tl, "warps", base + nxt, t)
                t += tl.issue
            t = _mma(tl, "warps", base + k, landed[k], max(t, landed[k]))
        if tl.epilogue:
            tl.events.append(Event("warps", "epilogue", t, t + tl.epilogue, f"t{tile}"))
            t += tl.epilogue


def _specialized(tl: Timeline) -> None:
    S, K, n = tl.stages, tl.k_tiles, tl.tiles * tl.k_tiles
    groups = 2 if tl.mode == "pingpong" else 1
    producer, tensor_free = 0.0, 0.0
    group_free = [0.0] * groups
    mma_end: list[float] = []
    landed: list[float] = []
    for j in range(n):
        free_at = mma_end[j - S] if j >= S else 0.0        # the stage's previous slice must be multiplied
        start = max(producer, free_at)
        landed.append(_load(tl, "producer", j, start))
        producer = start + tl.issue
        # consumers run as soon as the data is there (computed in order: slice j needs slices < j only)
        tile, k = divmod(j, K)
        g = tile % groups
        lane = f"consumer {g}" if groups > 1 else "consumer"
        begin = max(landed[j], tensor_free, group_free[g])
        end = _mma(tl, lane, j, landed[j], begin)
        mma_end.append(end)
        tensor_free = end
        group_free[g] = end
        if k == K - 1 and tl.epilogue:
            tl.events.append(Event(lane, "epilogue", end, end + tl.epilogue, f"t{tile}"))
            group_free[g] = end + tl.epilogue
            if groups == 1:                                 # one group: the tensor cores wait for its epilogue
                tensor_free = group_free[g]


def stages_to_hide(load: float, compute: float) -> int:
    """Stages needed for the loads to keep up with the MMAs: 1 + load / compute, rounded up (Little's law:
    load / compute slices must be in flight while one is multiplied).

    >>> stages_to_hide(3, 1), stages_to_hide(600, 800)
    (4, 2)
    """
    return 1 + math.ceil(load / compute - 1e-9)


@calculator_inputs(positive="load_ns compute_ns stages k_tiles")
def explain(load_ns: float = 1000, compute_ns: float = 800, stages: int = 1, k_tiles: int = 64) -> str:
    """Plain-text pipeline model for the calculator: time and tensor-core share for this many stages."""
    one = simulate("single", stages=1, k_tiles=k_tiles, load=load_ns, compute=compute_ns, issue=0)
    this = simulate("single", stages=stages, k_tiles=k_tiles, load=load_ns, compute=compute_ns, issue=0)
    need = stages_to_hide(load_ns, compute_ns)
    return (f"{k_tiles} K slices, load {load_ns:g} ns, MMA {compute_ns:g} ns each\n"
            f"  1 stage : {one.total / 1e3:,.1f} µs, tensor cores busy {one.mma_busy:.0%}\n"
            f"  {stages} stages: {this.total / 1e3:,.1f} µs, tensor cores busy {this.mma_busy:.0%}"
            f"  → {one.total / this.total:.2f}× the speed of 1 stage\n"
            f"  stages needed to hide the load: 1 + {load_ns:g}/{compute_ns:g} → {need}; "
            f"shared memory grows with every stage")


def compare_modes(*, stages: int = 4, k_tiles: int = 6, tiles: int = 3, load: float = 3.0, compute: float = 1.0,
                  issue: float = 0.3, epilogue: float = 2.0):
    """The three modes on the same work, as a Table (total, tensor-core share) plus their timelines."""
    from perflab.table import Table
    runs = [simulate(m, stages=stages, k_tiles=k_tiles, tiles=tiles, load=load, compute=compute, issue=issue,
                     epilogue=epilogue) for m in MODES]
    what = {"single": "every warp issues loads, multiplies and stores; the pipeline refills for each tile",
            "specialized": "a producer warp keeps loading across tiles; consumers only multiply and store",
            "pingpong": "two consumer groups alternate tiles: one stores while the other multiplies"}
    rows = [[r.mode, f"{r.total:g}", f"{runs[0].total / r.total:.2f}×", f"{r.mma_busy:.0%}", what[r.mode]]
            for r in runs]
    table = Table(["mode", "time (units)", "vs single", "tensor cores busy", "who does what"], rows,
                  title=f"{tiles} output tiles × {k_tiles} K slices, {stages} stages: load {load:g}, MMA {compute:g}, "
                        f"issue {issue:g}, epilogue {epilogue:g} units",
                  notes=["a model: loads overlap each other; the tensor cores multiply one slice at a time"])
    return table, runs


def triton_warp_specialization() -> str:
    """What the installed Triton says about ``tl.range(..., warp_specialize=True)`` (read from its docstring)."""
    import inspect
    try:
        import triton
        import triton.language as tl
    except ImportError:
        return "Triton is not installed"
    if "warp_specialize" not in inspect.signature(tl.range.__init__).parameters:
        return f"Triton {triton.__version__}: tl.range has no warp_specialize option"
    doc = " ".join((tl.range.__doc__ or "").split())
    where = ("Blackwell GPUs only" if "only supported on Blackwell" in doc
             else "see its docstring for the GPUs it supports")
    return (f"Triton {triton.__version__}: tl.range(..., warp_specialize=True) splits a matmul loop into producer "
            f"and consumer warp groups; its docstring says: {where}. On Hopper, CUTLASS's warp-specialized "
            f"kernels (gemm_tma_warpspecialized_pingpong, book L4259) do it in CUDA C++.")
