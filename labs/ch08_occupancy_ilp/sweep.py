"""The occupancy × ILP heat map: a sweep declared as data, run through perflab, drawn as a heat map.

    GRIDS["ch08.ilp_stream"]  ->  settings()  ->  pl.run(lab, variants=[one variant per setting])
                              ->  HeatMap (table + plotly figure), with registers read off the kernels

On a GPU every cell is measured (checked against the reference first, then timed). Without one the
map shows the H200 reference run when it recorded these cells, else a labelled model: Little's law
for the stream, a dependent-issue model for the FMA chains. Model inputs that are assumptions say so.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import perflab as pl

# The sweeps as data: threads per block × ILP, at a fixed number of blocks per SM.
GRIDS = {
    "ch08.ilp_stream": {"kernel": "stream", "threads": [128, 256, 512, 1024], "ilp": [1, 2, 4, 8],
                        "blocks_per_sm": 2, "metric": "gbps"},
    "ch08.fma_ilp": {"kernel": "fma", "threads": [128, 256, 512, 1024], "ilp": [1, 2, 4, 8],
                     "blocks_per_sm": 1, "metric": "tflops"},
}
UNIT = {"gbps": "GB/s", "tflops": "TFLOP/s"}
# Model inputs where nothing is measured (assumptions, not book numbers):
ASSUMED_LATENCY_NS = 600       # loaded HBM latency of a Hopper-class GPU, order of magnitude
FFMA_LATENCY_CYCLES = 4        # dependent-FFMA issue latency, Volta through Hopper (microbenchmark papers)


@dataclass(frozen=True)
class Setting:
    """One cell of a heat map: threads per block, independent loads or chains per thread, blocks per SM."""
    threads: int
    ilp: int
    blocks_per_sm: int


def settings(lab: str) -> list[Setting]:
    """The grid of one lab as a list of settings, ILP-major.

    >>> settings("ch08.fma_ilp")[:2]
    [Setting(threads=128, ilp=1, blocks_per_sm=1), Setting(threads=256, ilp=1, blocks_per_sm=1)]
    """
    if lab not in GRIDS:
        raise ValueError(f"no sweep for {lab!r}; sweeps: {sorted(GRIDS)}")
    g = GRIDS[lab]
    return [Setting(t, i, g["blocks_per_sm"]) for i in g["ilp"] for t in g["threads"]]


@dataclass
class HeatMap:
    """Values of one metric over (threads per block, ILP), with where they came from."""
    lab: str
    metric: str                                   # "gbps" or "tflops"
    source: str                                   # "measured on NVIDIA H200", "H200 reference", "model …"
    values: dict = field(default_factory=dict)    # (threads, ilp) -> float or None
    warps: dict = field(default_factory=dict)     # (threads, ilp) -> resident warps per SM
    regs: dict = field(default_factory=dict)      # ilp -> (registers per thread or None, where from)
    max_warps: int = 64
    notes: list = field(default_factory=list)
    run: object = None                            # the LabRun behind a measured map

    @property
    def threads(self) -> list:
        return GRIDS[self.lab]["threads"]

    @property
    def ilps(self) -> list:
        return GRIDS[self.lab]["ilp"]

    def _col(self, t: int) -> str:
        w = self.warps.get((t, self.ilps[0]), 0)
        return f"{t} thr · {w:g} warps ({w / self.max_warps:.0%})"

    def _row(self, i: int) -> str:
        r, _ = self.regs.get(i, (None, ""))
        return f"ILP {i}" + (f" · {r} regs" if r else "")

    def best(self) -> float | None:
        vals = [v for v in self.values.values() if v]
        return max(vals) if vals else None

    def warps_to_reach(self, fraction: float = 0.8) -> dict:
        """For each ILP: the fewest resident warps per SM whose value reaches ``fraction`` of the best cell."""
        top = self.best()
        out = {}
        for i in self.ilps:
            hits = [self.warps[(t, i)] for t in self.threads
                    if top and (self.values.get((t, i)) or 0) >= fraction * top]
            out[i] = min(hits) if hits else None
        return out

    def table(self):
        from perflab.table import Table
        fmt = "{:,.0f}" if self.metric == "gbps" else "{:,.3g}"
        rows = [[self._row(i)] + [fmt.format(v) if (v := self.values.get((t, i))) else "—" for t in self.threads]
                for i in self.ilps]
        reach = ", ".join(f"ILP {i}: {w:g}" if w else f"ILP {i}: not reached"
                          for i, w in self.warps_to_reach().items())
        notes = list(self.notes) + [f"warps per SM to reach 80% of the best cell → {reach}"]
        return Table(["", *map(self._col, self.threads)], rows, notes=notes,
                     title=f"{self.lab} · {UNIT[self.metric]} by ILP (rows) and threads per block (columns) · "
                           f"{self.source}")

    def figure(self):
        import plotly.graph_objects as go
        z = [[self.values.get((t, i)) for t in self.threads] for i in self.ilps]
        text = [[f"{v:,.3g}" if v else "—" for v in row] for row in z]
        fig = go.Figure(go.Heatmap(z=z, x=[self._col(t) for t in self.threads], y=[self._row(i) for i in self.ilps],
                                   text=text, texttemplate="%{text}", colorscale="Viridis",
                                   colorbar=dict(title=UNIT[self.metric])))
        fig.update_layout(title=f"{self.lab}: {UNIT[self.metric]} · {self.source}", height=360,
                          xaxis_title="threads per block · resident warps per SM (occupancy)",
                          yaxis_title="independent loads / chains per thread", margin=dict(l=60, r=20, t=50, b=60))
        return fig

    def show(self):
        from perflab.display import show
        show(self.table())
        show(self.figure(), fallback="")

    def __repr__(self):
        return str(self.table())


def run(lab: str, size=None, rep_ms: float = 20) -> HeatMap:
    """Measure the grid on this GPU: one pl.run over a variant per setting (each checked, then timed)."""
    from labs.ch08_occupancy_ilp import _cuda
    from perflab.machine import env
    mod = pl.load(lab).module
    grid = GRIDS[lab]
    fns = [mod.cuda_setting(s.threads, s.ilp, s.blocks_per_sm) for s in settings(lab)]
    r = pl.run(lab, size=size, variants=fns, rep_ms=rep_ms)
    hm = HeatMap(lab, grid["metric"], f"measured on {r.device}", run=r, max_warps=_max_warps())
    by_name = {rec.variant: rec for rec in r.records}
    partial = []
    for s in settings(lab):
        t, i, bps = s.threads, s.ilp, s.blocks_per_sm
        rec = by_name.get(f"cuda_t{t}_ilp{i}")
        hm.values[(t, i)] = getattr(rec, grid["metric"]) if rec and rec.correct else None
        resident = min(bps, _cuda.max_active_blocks(f"{grid['kernel']}_ilp{i}", t))
        hm.warps[(t, i)] = resident * t // 32
        if resident < bps:
            partial.append(f"t{t}/ILP{i}")
    for i in grid["ilp"]:
        hm.regs[i] = (_cuda.attributes(f"{grid['kernel']}_ilp{i}").num_regs, f"driver, {env().sm}")
    hm.notes.append(f"grid: {grid['blocks_per_sm']} block(s) per SM; size {r.size}; registers read from the loaded kernels")
    if partial:
        hm.notes.append(f"fewer blocks than asked fit on an SM for {', '.join(partial)} (registers or warp slots)")
    if lab == "ch08.ilp_stream" and hm.values.get((grid["threads"][0], 1)):
        from labs.ch08_occupancy_ilp.occupancy import implied_latency_ns
        t0 = grid["threads"][0]
        lat = implied_latency_ns(hm.values[(t0, 1)], hm.warps[(t0, 1)], 1, env().sms)
        hm.notes.append(f"Little's law backwards: the {hm.warps[(t0, 1)]}-warp, ILP-1 cell implies a loaded "
                        f"memory latency of about {lat:,.0f} ns on this GPU")
    return hm


def _max_warps() -> int:
    from labs.ch08_occupancy_ilp.occupancy import device_limits
    return device_limits().max_warps_per_sm


def reference(lab: str) -> HeatMap | None:
    """The H200 reference run's cells for this sweep, or None when it did not record them."""
    from perflab import results
    grid = GRIDS[lab]
    recs = {r.variant: r for r in results.reference(lab) if re.fullmatch(r"cuda_t\d+_ilp\d+", r.variant)}
    if not recs:
        return None
    man = results.reference_manifest()
    hm = HeatMap(lab, grid["metric"], f"H200 reference ({man.get('date', '')[:10]})")
    for s in settings(lab):
        t, i = s.threads, s.ilp
        rec = recs.get(f"cuda_t{t}_ilp{i}")
        hm.values[(t, i)] = getattr(rec, grid["metric"]) if rec and rec.correct else None
        hm.warps[(t, i)] = min(s.blocks_per_sm * t // 32, 64)
    hm.regs = {i: _ptxas_regs(grid["kernel"], i) for i in grid["ilp"]}
    hm.notes.append("data/reference/nvidia-h200.json; registers from ptxas for sm_90 where nvcc is installed")
    return hm


def _ptxas_regs(kernel: str, ilp: int):
    from labs.ch08_occupancy_ilp.registers import ptxas_info
    info = ptxas_info(f"{kernel}_ilp{ilp}", "sm_90")
    return (info.registers, "ptxas, sm_90") if info else (None, "")


def model(lab: str, latency_ns: float = ASSUMED_LATENCY_NS) -> HeatMap:
    """What the simple models predict for the reference device, from its committed manifest (SMs, copy
    ceiling, SM clock as NVML read it; where no clock was recorded, its measured fp32 matmul ceiling
    stands for the FMA peak). Stream: Little's law, GB/s = min(copy ceiling, 2 × bytes of loads in
    flight / latency). FMA: each scheduler issues min(1, warps per scheduler × ILP / FFMA latency)."""
    from perflab import results
    grid = GRIDS[lab]
    man = results.reference_manifest()
    if not man.get("sms") or not man.get("ceilings"):
        raise ValueError("the model needs the committed reference manifest (data/reference/<device>.json)")
    sms, ceilings, device = man["sms"], man["ceilings"], f"{man['device']} (reference manifest)"
    copy = ceilings["copy_gbps"]
    if grid["kernel"] == "stream":
        src = (f"Little's-law model of the {device}: {sms} SMs, latency {latency_ns:g} ns (assumed), "
               f"ceiling {copy:,.0f} GB/s (measured)")
    elif man.get("sm_clock_mhz"):
        peak = sms * 128 * 2 * man["sm_clock_mhz"] / 1e6
        src = (f"issue model of the {device}: {sms} SMs × 4 schedulers, FFMA latency {FFMA_LATENCY_CYCLES} cycles "
               f"(assumed), peak {peak:.1f} TFLOP/s at {man['sm_clock_mhz']} MHz (read through NVML)")
    else:
        peak = ceilings["matmul_tflops"]["float32"]
        src = (f"issue model of the {device}: {sms} SMs × 4 schedulers, FFMA latency {FFMA_LATENCY_CYCLES} cycles "
               f"(assumed), peak {peak:.1f} TFLOP/s: its measured fp32 matmul ceiling (no SM clock recorded)")
    hm = HeatMap(lab, grid["metric"], src)
    for s in settings(lab):
        t, i = s.threads, s.ilp
        w = min(s.blocks_per_sm * t // 32, 64)
        hm.warps[(t, i)] = w
        if grid["kernel"] == "stream":
            hm.values[(t, i)] = min(copy, 2 * w * 32 * 4 * i * sms / latency_ns)
        else:
            hm.values[(t, i)] = peak * min(1.0, (w / 4) * i / FFMA_LATENCY_CYCLES)
    hm.regs = {i: _ptxas_regs(grid["kernel"], i) for i in grid["ilp"]}
    hm.notes.append("a model, not a measurement: run this notebook on a GPU to measure the same grid")
    return hm


def heatmap(lab: str, size=None, rep_ms: float = 20) -> HeatMap:
    """Measured on a GPU with CuPy; otherwise the H200 reference cells, or the model."""
    from perflab.machine import env
    e = env()
    if e.has("cuda") and e.has("cupy"):
        return run(lab, size=size, rep_ms=rep_ms)
    ref = reference(lab)
    hm = ref or model(lab)
    hm.notes.insert(0, "this tier has no CUDA GPU with CuPy: the CUDA kernels cannot run here, so the map is "
                       + ("the H200 reference run" if ref else "a model"))
    return hm
