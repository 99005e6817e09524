"""Timelines of a pipeline run — from CUDA events, torch.profiler, CPU traces or the simulator — as a Gantt chart.

A Timeline is rows of (chunk, stage, start_ms, end_ms) plus where they came from. ``gantt`` draws one
or more of them one above the other on a shared time axis (plotly); ``text`` draws the same as
characters, so a headless run still shows the picture:

    >>> t = Timeline("demo", [(0, 0, 0.0, 1.0), (0, 1, 1.0, 2.0), (1, 0, 1.0, 2.0)], "simulated")
    >>> lines = t.text(width=8).splitlines()
    >>> print(lines[1]); print(lines[2])
      H2D copy  00001111 ·
      compute       0000 ·
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass

from labs.ch11_streams.simulators import STAGES

_CHARS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass
class Timeline:
    title: str
    rows: list                      # (chunk, stage, start_ms, end_ms)
    source: str                     # "CUDA events", "torch.profiler", "perf_counter trace", "simulated"
    lanes: tuple = STAGES

    @property
    def makespan(self) -> float:
        return max(r[3] for r in self.rows) - min(r[2] for r in self.rows)

    def busy(self) -> list[float]:
        """Per lane: the fraction of the makespan during which something runs there (overlaps merged)."""
        out = []
        for lane in range(len(self.lanes)):
            spans = sorted((a, b) for _, s, a, b in self.rows if s == lane)
            total, end = 0.0, float("-inf")
            for a, b in spans:
                total += max(0.0, b - max(a, end))
                end = max(end, b)
            out.append(total / self.makespan if self.makespan else 0.0)
        return out

    def summary(self) -> str:
        busy = ", ".join(f"{lane} {f:.0%}" for lane, f in zip(self.lanes, self.busy()))
        return f"{self.title}: {self.makespan:.3f} ms ({self.source}); busy: {busy}"

    def text(self, width: int = 64, span: float | None = None) -> str:
        """The Gantt chart as characters: one line per lane, the chunk number where it is busy."""
        t0 = min(r[2] for r in self.rows)
        span = span or self.makespan
        lines = [self.summary()]
        for lane, name in enumerate(self.lanes):
            cells = []
            for col in range(width):                 # the chunk busiest in this column's time slice
                lo, hi = t0 + col * span / width, t0 + (col + 1) * span / width
                cover = [(min(b, hi) - max(a, lo), c) for c, s, a, b in self.rows if s == lane and a < hi and b > lo]
                cells.append(_CHARS[max(cover)[1] % len(_CHARS)] if cover else " ")
            lines.append(f"  {name:<9} {''.join(cells).rstrip()} ·")
        return "\n".join(lines)


def gantt(*timelines: Timeline, title: str = "Pipeline timeline"):
    """One plotly Gantt panel per timeline, on a shared time axis (ms); bars coloured by chunk."""
    import plotly.graph_objects as go
    from plotly.colors import qualitative
    from plotly.subplots import make_subplots
    palette = qualitative.Plotly
    fig = make_subplots(rows=len(timelines), cols=1, shared_xaxes=True, vertical_spacing=0.12,
                        subplot_titles=[f"{t.title} · {t.makespan:.2f} ms ({t.source})" for t in timelines])
    for k, t in enumerate(timelines, start=1):
        t0 = min(r[2] for r in t.rows)
        fig.add_trace(go.Bar(
            orientation="h", y=[t.lanes[s] for _, s, _, _ in t.rows], x=[b - a for _, _, a, b in t.rows],
            base=[a - t0 for _, _, a, _ in t.rows], text=[str(c) for c, _, _, _ in t.rows],
            textposition="inside", insidetextanchor="middle", showlegend=False,
            marker=dict(color=[palette[c % len(palette)] for c, _, _, _ in t.rows],
                        line=dict(width=0.5, color="white")),
            customdata=[[c, a - t0, b - t0] for c, _, a, b in t.rows],
            hovertemplate="chunk %{customdata[0]}: %{customdata[1]:.3f} – %{customdata[2]:.3f} ms<extra></extra>"),
            row=k, col=1)
        fig.update_yaxes(categoryorder="array", categoryarray=list(reversed(t.lanes)), row=k, col=1)
    fig.update_xaxes(title_text="time (ms)", row=len(timelines), col=1)
    fig.update_layout(title=title, barmode="overlay", height=170 + 150 * len(timelines),
                      margin=dict(l=90, r=20, t=70, b=50))
    return fig


def show(*timelines: Timeline, title: str = "Pipeline timeline") -> None:
    """Display the Gantt chart (plotly in a notebook, characters elsewhere), all on one time scale."""
    from perflab.display import show as _show
    span = max(t.makespan for t in timelines)
    text = "\n".join(t.text(span=span) for t in timelines)
    try:
        fig = gantt(*timelines, title=title)
    except ImportError:
        fig = None
    if fig is None:
        print(text)
    else:
        _show(fig, fallback=text)


def from_schedule(ops, title: str) -> Timeline:
    """A simulator schedule as a Timeline."""
    return Timeline(title, [(op.chunk, op.stage, op.start, op.end) for op in ops], "simulated")


def cuda_events(plan: str, size: int | None = None) -> Timeline:
    """Run the overlap lab's pipeline once with a timing event pair around every operation (GPU only).

    The start event is recorded on the operation's stream after its waits, so it marks when the
    operation could begin. That is exact when one stream feeds one engine (plans "serial" and
    "stages"); with round-robin streams an operation may also queue for a busy engine, which events
    cannot see: use :func:`profiler` there.
    """
    import torch
    import perflab as pl
    from labs.ch11_streams import overlap
    if pl.env().tier != "gpu":
        raise RuntimeError("CUDA events need a CUDA GPU; on the cpu tier use the simulator or the CPU trace")
    inp = overlap.make_inputs(size or overlap.SIZES["gpu"][0], pl.device(), seed=0)
    overlap.pipeline(**inp, plan=plan)                  # warm-up: compile, allocate, pin
    origin = torch.cuda.Event(enable_timing=True)
    origin.record()
    trace: list = []
    overlap.pipeline(**inp, plan=plan, trace=trace)     # synchronizes before returning
    rows = [(c, s, origin.elapsed_time(a), origin.elapsed_time(b)) for c, s, a, b in trace]
    return Timeline(plan, rows, "CUDA events")


def profiler(plan: str, size: int | None = None) -> Timeline:
    """The engines' real busy intervals for one run of a plan, read from a torch.profiler (CUPTI) trace."""
    import torch
    from torch.profiler import ProfilerActivity, profile
    import perflab as pl
    from labs.ch11_streams import overlap
    inp = overlap.make_inputs(size or overlap.SIZES["gpu"][0], pl.device(), seed=0)
    overlap.pipeline(**inp, plan=plan)                  # warm-up outside the trace
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        overlap.pipeline(**inp, plan=plan)
        torch.cuda.synchronize()
    fd, path = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    try:
        prof.export_chrome_trace(path)
        with open(path) as f:
            events = json.load(f).get("traceEvents", [])
    finally:
        os.unlink(path)
    return Timeline(plan, _device_rows(events), "torch.profiler")


def _device_rows(events: list) -> list:
    """(chunk, stage, start_ms, end_ms) of the copies and kernels in a Chrome trace; chunk = order per lane.

    >>> ev = [{"cat": "gpu_memcpy", "name": "Memcpy HtoD (Pinned -> Device)", "ts": 10, "dur": 5},
    ...       {"cat": "kernel", "name": "_hash_kernel", "ts": 15, "dur": 5},
    ...       {"cat": "gpu_memcpy", "name": "Memcpy DtoH (Device -> Pinned)", "ts": 20, "dur": 5}]
    >>> _device_rows(ev)
    [(0, 0, 0.01, 0.015), (0, 1, 0.015, 0.02), (0, 2, 0.02, 0.025)]
    """
    lanes: dict[int, list] = {0: [], 1: [], 2: []}
    for e in events:
        cat, name = e.get("cat", ""), e.get("name", "")
        if cat == "gpu_memcpy" and "HtoD" in name:
            lanes[0].append(e)
        elif cat == "gpu_memcpy" and "DtoH" in name:
            lanes[2].append(e)
        elif cat == "kernel":
            lanes[1].append(e)
    rows = []
    for stage, evs in lanes.items():
        for chunk, e in enumerate(sorted(evs, key=lambda e: e["ts"])):
            rows.append((chunk, stage, e["ts"] / 1e3, (e["ts"] + e["dur"]) / 1e3))
    if not rows:
        raise RuntimeError("the profiler trace holds no GPU copies or kernels (CUPTI activity unavailable?)")
    return sorted(rows)


_NAMES = {"serial": "one stream (serialized)", "stages": "a stream per stage + events",
          "streams:2": "chunk i on stream i % 2", "streams:3": "chunk i on stream i % 3",
          "sync": "a stream per stage + device syncs"}


def compare_plans(plans=("serial", "stages"), stage_ms=(2.5, 2.5, 2.5)) -> list:
    """The Gantt chart of several plans: measured with CUDA events on a GPU, simulated elsewhere."""
    import perflab as pl
    from labs.ch11_streams.compute import CHUNKS
    from labs.ch11_streams.simulators import schedule
    if pl.env().tier == "gpu":
        runs = [cuda_events(p) for p in plans]
        for t, p in zip(runs, plans):
            t.title = _NAMES.get(p, p)
        show(*runs, title=f"Measured on {pl.env().device}: a CUDA event pair around every chunk and stage")
        return runs
    print("cpu tier: no copy engines to trace here; the simulator draws the same plans for three equal stages "
          f"({stage_ms[0]:g} ms each for the whole batch, {CHUNKS} chunks)")
    sim_plan = {"serial": ("serial", 1), "stages": ("stages", 3), "streams:2": ("streams", 2),
                "streams:3": ("streams", 3), "sync": ("serial", 1)}
    runs = [from_schedule(schedule(stage_ms, CHUNKS, sim_plan[p][0], streams=sim_plan[p][1]), _NAMES.get(p, p))
            for p in plans]
    show(*runs, title="Simulated (pure Python)")
    return runs


def engines(plans=("streams:2", "streams:3")) -> list | None:
    """What each engine really did (torch.profiler / CUPTI) for round-robin plans, where events cannot tell."""
    import perflab as pl
    if pl.env().tier != "gpu":
        print("needs a CUDA GPU: torch.profiler would record when each copy engine and the SMs were busy; "
              "the simulator's busy fractions above stand in")
        return None
    try:
        runs = [profiler(p) for p in plans]
    except Exception as exc:                     # CUPTI unavailable in this container, an old torch, ...
        print(f"torch.profiler could not trace the GPU here ({type(exc).__name__}: {exc}); "
              "the CUDA-event timeline above stands in")
        return None
    for t, p in zip(runs, plans):
        t.title = _NAMES.get(p, p)
    show(*runs, title=f"Engine activity from torch.profiler on {pl.env().device}")
    return runs
