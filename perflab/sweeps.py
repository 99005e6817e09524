"""Size sweeps as data: Plans in, typed Results out, and a perf_report-style view that runs nothing.

    res = pl.sweep("ch07.copy_ladder")                  # the lab's sweep sizes (default: its SIZES)
    res = pl.sweep(lab, [Plan(1_000_003), Plan(4_000_037, variant="one_kernel")])
    res.to_frame()                                       # one row per (size, variant), pandas
    res.show()                                           # GB/s (or TFLOP/s, µs) against size, a line per
                                                         # variant, the measured ceiling, the reference beside

A lab may declare its sweep once: ``OPTIONS = pl.LabOptions(sweep={"cpu": [...], "gpu": [...]})``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

METRICS = ("auto", "gbps", "tflops", "us")
KNOBS = ("seed", "rep_ms")              # what a Plan may change besides size, dtype and variant
UNIT = {"gbps": "GB/s", "tflops": "TFLOP/s", "us": "µs"}


@dataclass(frozen=True)
class Plan:
    """One point of a sweep: a size, a dtype (None: the lab's first), a variant (None: all of them)
    and knobs (seed, rep_ms) as a tuple of (name, value) pairs; a dict is accepted."""
    size: object
    dtype: str | None = None
    variant: str | None = None
    knobs: tuple = ()

    def __post_init__(self):
        knobs = self.knobs
        if isinstance(knobs, dict):
            knobs = tuple(sorted(knobs.items()))
        if not isinstance(knobs, tuple) or any(not (isinstance(k, tuple) and len(k) == 2) for k in knobs):
            raise TypeError(f"Plan knobs are a dict such as {{'rep_ms': 20}}, got {self.knobs!r}")
        unknown = [k for k, _ in knobs if k not in KNOBS]
        if unknown:
            raise ValueError(f"Plan knob {unknown[0]!r} is not one of {KNOBS}")
        object.__setattr__(self, "knobs", knobs)
        if isinstance(self.size, list):
            object.__setattr__(self, "size", tuple(self.size))


@dataclass(frozen=True)
class Point:
    """The outcome of one variant at one Plan: status as in a lab run, its Record and Measurement."""
    plan: Plan
    variant: str
    status: str
    why: str = ""
    record: object = None
    measurement: object = None
    ceiling: "Ceiling | None" = None    # the measured ceiling at this size (perflab.roofline.Ceiling)


@dataclass
class Results:
    """What a sweep measured: typed points of one lab on one device; views read it, never run."""
    lab: object
    device: str
    points: list = field(default_factory=list)
    notes: list = field(default_factory=list)       # what the sweep left out, and why

    @property
    def records(self) -> list:
        return [p.record for p in self.points if p.record is not None]

    @property
    def measurements(self) -> list:
        return [p.measurement for p in self.points if p.measurement is not None]

    @property
    def variants(self) -> list[str]:
        return list(dict.fromkeys(p.variant for p in self.points))

    def to_frame(self):
        """One row per (size, variant): size, elements, dtype, status, median_s, p20_s, p80_s, gbps,
        tflops, ceiling, ceiling_fraction (pandas DataFrame)."""
        import pandas as pd
        from perflab.quick import elements
        rows = []
        for p in self.points:
            m, rec = p.measurement, p.record
            rows.append({"lab": self.lab.name, "variant": p.variant, "size": p.plan.size,
                         "elements": elements(p.plan.size), "dtype": rec.dtype if rec else p.plan.dtype,
                         "status": p.status, "median_s": m.median if m else None, "p20_s": m.p20 if m else None,
                         "p80_s": m.p80 if m else None, "gbps": m.gbps if m else None,
                         "tflops": m.tflops if m else None, "ceiling": rec.ceiling if rec else None,
                         "ceiling_fraction": rec.ceiling_fraction if rec else None, "device": self.device,
                         "why": p.why})
        return pd.DataFrame(rows)

    def reference_records(self) -> list:
        """The closest committed reference device's timed records of this lab and dtype, at every size."""
        from perflab import results
        dtypes = {p.record.dtype for p in self.points if p.record}
        return [r for r in results.reference(self.lab.name, results.reference_device())
                if r.median_s and (not dtypes or r.dtype in dtypes)]

    def metric(self, metric: str = "auto") -> str:
        """'gbps', 'tflops' or 'us'; auto: TFLOP/s where a matmul peak bounds a point, else GB/s."""
        if metric not in METRICS:
            raise ValueError(f"metric {metric!r} is not one of {METRICS}")
        if metric != "auto":
            return metric
        if any(p.ceiling and p.ceiling.kind == "compute" for p in self.points):
            return "tflops"
        return "gbps" if any(p.measurement and p.measurement.gbps for p in self.points) else "us"

    def show(self, metric: str = "auto"):
        from perflab.display import show
        show(figure(self, metric), fallback=text(self, metric))

    def __repr__(self):
        return text(self)


def sweep_sizes(lab) -> list:
    """The lab's declared sweep for this tier (its options' sweep, else its SIZES), ordered by element count."""
    from perflab.lab import load
    from perflab.machine import env
    from perflab.quick import elements
    lab = load(lab)
    tier = env().tier
    declared = lab.options.sweep
    sizes = declared.get(tier) if isinstance(declared, dict) else declared
    return sorted(sizes or lab.SIZES[tier], key=elements)


def sweep(lab, plans_: list | None = None, *, sizes: list | None = None, dtype: str | None = None,
          variants: list | None = None, rep_ms: float = 20, record: bool = True) -> Results:
    """Run a sweep through the lab runner (gate, then timing) and return its Results.

    plans_: Plan values; or sizes (default :func:`sweep_sizes`) × variants (default all). Plans with
    the same size, dtype and knobs share one gated run. rep_ms: the timing window per point (ms).
    """
    from perflab import runner, validate
    from perflab.lab import load
    lab = load(lab)
    notes = []
    if plans_ is None:
        if variants is None:                    # a sweep is about time: only what this machine can time
            variants, notes = _timed_here(lab)
        plans_ = [Plan(s, dtype, v) for s in sizes or sweep_sizes(lab) for v in (variants or [None])]
    elif sizes is not None or variants is not None:
        raise ValueError("give either plans or sizes=/variants=, not both")
    bad = [p for p in plans_ if not isinstance(p, Plan)]
    if bad:
        raise TypeError(f"a sweep takes perflab.Plan values, got {bad[0]!r}; e.g. Plan(size=1_000_003)")
    groups: dict = {}
    for p in plans_:
        validate.size(lab, p.size)
        groups.setdefault((repr(p.size), p.dtype, p.knobs), []).append(p)
    out = Results(lab=lab, device="", notes=notes)
    for group in groups.values():
        first = group[0]
        knobs = dict(first.knobs)
        names = None if any(p.variant is None for p in group) else list(dict.fromkeys(p.variant for p in group))
        run = runner.run(lab, size=first.size, dtype=first.dtype, variants=names, seed=knobs.get("seed", 0),
                         rep_ms=knobs.get("rep_ms", rep_ms), record=record)
        out.device = run.device
        for row in run.rows:
            plan = Plan(first.size, run.dtype, row.name, first.knobs)
            out.points.append(Point(plan, row.name, row.status, row.why, row.record, row.measurement, row.ceiling))
    return out


def _timed_here(lab) -> tuple[list[str], list[str]]:
    """The lab's variants this machine times, and a note for each one it does not."""
    from perflab.machine import env
    from perflab.runner import availability
    keep, notes = [], []
    for name in lab.variant_names():
        runs, timed, why = availability(lab.get_variant(name), env())
        (keep.append(name) if timed else notes.append(f"{name}: not swept here ({why})"))
    return keep, notes


# ---- views: they read Results and never run anything ------------------------------------------
def _value(metric: str, m=None, rec=None):
    if m is not None:
        return {"gbps": m.gbps, "tflops": m.tflops, "us": m.median * 1e6}[metric]
    return {"gbps": rec.gbps, "tflops": rec.tflops, "us": rec.median_s * 1e6}[metric]


def _ceiling_value(metric: str, point: Point, lab) -> float | None:
    """The measured ceiling at this point in the plotted metric, through the time floor it implies."""
    if point.ceiling is None:
        return None
    c = point.ceiling
    nbytes, nflops = lab.bytes(point.plan.size, point.plan.dtype), lab.flops(point.plan.size, point.plan.dtype)
    floor_s = nflops / (c.value * 1e12) if c.kind == "compute" else nbytes / (c.value * 1e9)
    if not floor_s:
        return None
    return {"gbps": nbytes / floor_s / 1e9, "tflops": nflops / floor_s / 1e12, "us": floor_s * 1e6}[metric] or None


def _series(results: Results, metric: str):
    """{variant: [(elements, value, size)]}, the ceiling [(elements, value)], reference {variant: [...]}."""
    from perflab.quick import elements
    lines, ceiling = {}, {}
    for p in results.points:
        if p.measurement is None:
            continue
        x = elements(p.plan.size)
        lines.setdefault(p.variant, []).append((x, _value(metric, p.measurement), p.plan.size))
        c = _ceiling_value(metric, p, results.lab)
        if c:
            ceiling[x] = c
    ref = {}
    for r in results.reference_records():
        v = _value(metric, rec=r)
        if v:
            size = tuple(r.size) if isinstance(r.size, list) else r.size
            ref.setdefault(r.variant, []).append((elements(size), v, size))
    for d in (lines, ref):
        for k in d:
            d[k].sort()
    return lines, sorted(ceiling.items()), ref


def figure(results: Results, metric: str = "auto"):
    """A plotly line chart: the metric against size (log x), a line per variant, the measured ceiling
    dashed, and the reference device's records dotted beside them (markers where it has one size)."""
    import plotly.graph_objects as go
    from perflab import results as results_mod
    from perflab.validate import _size_meaning
    metric = results.metric(metric)
    lines, ceiling, ref = _series(results, metric)
    ref_key = results_mod.reference_device()
    label = results_mod.device_label(ref_key)
    fig = go.Figure()
    for name, pts in lines.items():
        fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines+markers", name=name,
                                 text=[str(p[2]) for p in pts], hovertemplate="size %{text}: %{y:.3g}"))
    if ceiling:
        fig.add_trace(go.Scatter(x=[c[0] for c in ceiling], y=[c[1] for c in ceiling], mode="lines",
                                 name=f"measured ceiling ({results.device})", line=dict(dash="dash", color="black")))
    for name, pts in ref.items():
        fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], name=f"{label} · {name}",
                                 mode="lines+markers" if len(pts) > 1 else "markers", opacity=0.6,
                                 line=dict(dash="dot"), marker=dict(symbol="diamond-open", size=9)))
    drawn = metric == "gbps" and ref            # the reference's copy ceiling goes only beside its GB/s lines
    ref_copy = drawn and (results_mod.reference_manifest(ref_key).get("ceilings") or {}).get("copy_gbps")
    if ref_copy:
        xs = [p[0] for pts in list(lines.values()) + list(ref.values()) for p in pts]
        fig.add_trace(go.Scatter(x=[min(xs), max(xs)], y=[ref_copy, ref_copy], mode="lines",
                                 name=f"{label} measured copy ceiling", line=dict(dash="dot", color="gray")))
    ys = [p[1] for pts in list(lines.values()) + list(ref.values()) for p in pts] + [c[1] for c in ceiling]
    log_y = bool(ys) and max(ys) / max(min(ys), 1e-30) > 30       # CPU and GPU on one chart: log
    meaning = _size_meaning(results.lab) or "elements"
    better = "lower" if metric == "us" else "higher"
    fig.update_layout(title=f"{results.lab.name} size sweep on {results.device} ({UNIT[metric]}, {better} is better)",
                      xaxis_title="size (elements, log)" if meaning == "elements" else f"size ({meaning}; elements, log)",
                      yaxis_title=UNIT[metric], height=420,
                      margin=dict(l=60, r=20, t=50, b=60), legend=dict(font=dict(size=11)))
    fig.update_xaxes(type="log")
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def text(results: Results, metric: str = "auto") -> str:
    """The sweep as a plain table: a row per size, a column per variant, the ceiling, notes."""
    from perflab import results as results_mod
    from perflab.quick import elements
    from perflab.table import Table
    metric = results.metric(metric)
    lines, ceiling, ref = _series(results, metric)
    sizes = sorted({p.plan.size for p in results.points}, key=elements)
    names = list(lines)
    ceil = dict(ceiling)
    rows = []
    for s in sizes:
        x = elements(s)
        got = {n: next((v for e, v, _ in lines[n] if e == x), None) for n in names}
        rows.append([str(s)] + [f"{got[n]:,.3g}" if got[n] else "—" for n in names]
                    + [f"{ceil[x]:,.3g}" if x in ceil else "—"])
    untimed: dict = {}
    for p in results.points:
        if p.measurement is None:
            untimed.setdefault((p.variant, p.status), []).append(p)
    notes = list(results.notes) + [f"{v}: {status} at {', '.join(str(p.plan.size) for p in ps)}"
                                   + (f" ({ps[0].why[:90]})" if ps[0].why else "")
             for (v, status), ps in untimed.items()]
    label = results_mod.device_label(results_mod.reference_device())
    for name, pts in ref.items():
        notes.append(f"{label} {name}: " + ", ".join(f"{v:,.3g} at {s}" for _, v, s in pts))
    table = Table(["size"] + names + ["ceiling"], rows,
                  f"{results.lab.name} size sweep on {results.device} ({UNIT[metric]})", notes)
    return str(table)
