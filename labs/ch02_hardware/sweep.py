"""The working-set sweep: ch02.cache_ladder over buffer sizes declared as data, as a table and a plot.

Each point is ``pl.run("ch02.cache_ladder", size=(elements, passes))``: checked against the reference, then
timed with pl.bench (on a GPU in CUDA-graph mode, which keeps L2 warm between calls; see the lab's docstring).
Passes are chosen so one call reads about TARGET bytes, so small buffers are re-read from their cache level
and big ones stream from DRAM/HBM once.
"""
from __future__ import annotations

import glob
import os

KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30
GPU_SWEEP = [64 * KIB, 256 * KIB, 1 * MIB, 4 * MIB, 16 * MIB, 32 * MIB, 48 * MIB, 64 * MIB, 96 * MIB,
             128 * MIB, 256 * MIB, 1 * GIB, 4 * GIB]                    # buffer bytes
CPU_SWEEP = [8 * KIB, 24 * KIB, 64 * KIB, 256 * KIB, 1 * MIB, 4 * MIB, 16 * MIB, 64 * MIB]
TARGET = {"gpu": 1 * GIB, "cpu": 64 * MIB}                              # bytes read per call
VARIANTS = {"gpu": ["triton_rotating_read", "torch_expand_sum"], "cpu": ["torch_expand_sum"]}


def size_of(nbytes: int, tier: str) -> tuple[int, int]:
    """(elements, passes) for a buffer of about ``nbytes``: 3 floats short, so no size is a multiple of 16."""
    from labs.ch02_hardware.cache_ladder import passes_for
    return nbytes // 4 - 3, passes_for(nbytes, TARGET[tier])


def cpu_caches() -> dict:
    """Cache sizes of CPU 0 from Linux sysfs, e.g. {'L1d': 32768, 'L2': 524288, 'L3': 33554432}; {} elsewhere."""
    out = {}
    for d in sorted(glob.glob("/sys/devices/system/cpu/cpu0/cache/index*")):
        try:
            level = open(os.path.join(d, "level")).read().strip()
            kind = open(os.path.join(d, "type")).read().strip()
            size = open(os.path.join(d, "size")).read().strip()
        except OSError:
            continue
        if kind == "Instruction":
            continue
        mult = {"K": KIB, "M": MIB, "G": GIB}.get(size[-1], 1)
        out[f"L{level}" + ("d" if kind == "Data" else "")] = int(size.rstrip("KMG")) * mult
    return out


def run(sizes=None, rep_ms: float = 40) -> list:
    """One LabRun per buffer size of this tier."""
    import perflab as pl
    tier = pl.env().tier
    sizes = sizes or (GPU_SWEEP if tier == "gpu" else CPU_SWEEP)
    import torch
    threads = torch.get_num_threads()
    if tier == "cpu":
        torch.set_num_threads(1)          # one core: its own L1/L2, and less noise from a busy machine
    try:
        return [pl.run("ch02.cache_ladder", size=size_of(b, tier), variants=VARIANTS[tier], rep_ms=rep_ms)
                for b in sizes]
    finally:
        torch.set_num_threads(threads)


def _points(records) -> dict:
    """variant -> [(buffer bytes, GB/s)]"""
    pts: dict = {}
    for r in records:
        if r.gbps:
            pts.setdefault(r.variant, []).append(((list(r.size)[0] + 3) * 4, r.gbps))
    return {k: sorted(v) for k, v in pts.items()}


def _label(nbytes: float) -> str:
    for unit, scale in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if nbytes >= scale:
            return f"{nbytes / scale:.3g} {unit}"
    return f"{nbytes:.0f} B"


def table(runs):
    from perflab import results
    from perflab.table import Table
    mine = _points([rec for r in runs for rec in r.records])
    ref = _points(results.reference("ch02.cache_ladder"))
    ref_main = dict(ref.get("triton_rotating_read", []))
    device = runs[0].device if runs else "this device"
    rows = []
    for variant, pts in mine.items():
        for nbytes, gbps in pts:
            h = min(ref_main, key=lambda b: abs(b - nbytes)) if ref_main else None
            near = f"{ref_main[h]:,.0f}" if h is not None and 0.9 < h / nbytes < 1.1 else "—"
            rows.append([variant, _label(nbytes), f"{gbps:,.0f}", near])
    return Table(["variant", "buffer", f"GB/s ({device})", "H200 GB/s (triton_rotating_read)"], rows,
                 title="Read bandwidth vs working-set size",
                 notes=["GB/s = bytes read (passes × buffer) / median time from pl.bench",
                        "'—' under H200: no reference point recorded at this size yet"])


def figure(runs):
    """Plotly: GB/s vs buffer bytes (log-log), yours and the H200 reference, with the cache sizes marked."""
    import plotly.graph_objects as go
    import perflab as pl
    from perflab import results
    fig = go.Figure()
    for variant, pts in _points([rec for r in runs for rec in r.records]).items():
        fig.add_scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines+markers", name=f"{variant} (yours)")
    for variant, pts in _points(results.reference("ch02.cache_ladder")).items():
        fig.add_scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines+markers", name=f"{variant} (H200)",
                        line=dict(dash="dot"))
    e = pl.env()
    marks = {"L2 (driver)": e.l2_mb * 1e6} if e.tier == "gpu" and e.l2_mb else cpu_caches()
    for name, b in marks.items():
        fig.add_vline(x=b, line=dict(color="grey", dash="dash"), annotation_text=name)
    fig.update_layout(title="Read bandwidth vs working-set size", xaxis_title="buffer bytes",
                      yaxis_title="GB/s", xaxis_type="log", yaxis_type="log", height=420)
    return fig


def text_plot(runs) -> str:
    """The same curve as text bars, for readers without plotly."""
    lines = []
    for variant, pts in _points([rec for r in runs for rec in r.records]).items():
        top = max(g for _, g in pts)
        lines.append(variant)
        lines += [f"  {_label(b):>9}  {'█' * max(1, round(40 * g / top))} {g:,.0f} GB/s" for b, g in pts]
    return "\n".join(lines)
