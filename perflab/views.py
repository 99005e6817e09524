"""Views of a lab run: the table, the bar chart and the roofline, drawn from its data; nothing here runs a lab."""
from __future__ import annotations

from perflab import results
from perflab.measure import format_time
from perflab.roofline import Ceiling
from perflab.table import Table


def table(run) -> Table:
    ref = _reference_records(run)
    ref_key = results.reference_device()            # the committed reference closest to this device
    ref_label = results.device_label(ref_key)
    base = run.baseline
    cols = ["variant", "check", "median", "p20–p80", "GB/s", "TFLOP/s", "% ceiling",
            f"vs {base.name if base else 'baseline'}", f"{ref_label} % ceiling", f"{ref_label} speedup"]
    rows = []
    for r in run.rows:
        rec, m = r.record, r.measurement
        h = ref.get(r.name)
        mark = {"timed": "✅", "checked": "✅ (not timed)", "wrong": "❌", "error": "💥",
                "skipped": "—"}[r.status]
        rows.append([
            r.name, mark,
            format_time(m.median) if m else "—",
            f"{format_time(m.p20)}–{format_time(m.p80)}" if m else "—",
            f"{m.gbps:,.1f}" if m and m.gbps else "—",
            f"{m.tflops:,.3g}" if m and m.tflops else "—",
            f"{rec.ceiling_fraction:.0%}" if rec and rec.ceiling_fraction else "—",
            _speedup_text(run, r),
            f"{h.ceiling_fraction:.0%}" if h and h.ceiling_fraction else "—",
            f"{h.speedup_vs_baseline:.2f}×" if h and h.speedup_vs_baseline else "—"])
    notes = [f"{r.name}: {r.why}" for r in run.rows if r.why and r.status != "timed"]
    notes += run.timing_notes()
    if base and base.name != (run.lab.variant_names()[0]):
        notes.append(f"the lab's baseline did not run here; speedups are against {base.name}")
    if ref:
        h = next(iter(ref.values()))
        notes.append(f"{ref_label} columns: data/reference/{ref_key}.json, size {h.size}")
    else:
        notes.append(f"no {ref_label} reference recorded for this lab yet")
    title = (f"{run.lab.name} · {run.lab.TITLE} · size {run.size}, {run.dtype} · "
             f"measured on {run.device}" + (" · ⚠ BUSY MACHINE" if run.busy else ""))
    return Table(cols, rows, title, notes)


def _reference_records(run) -> dict:
    """Reference records (the committed device closest to this one) of this lab and dtype, one per
    variant, at the lab's default GPU size if recorded."""
    gpu_size = run.lab.SIZES["gpu"][0]
    gpu_size = list(gpu_size) if isinstance(gpu_size, tuple) else gpu_size
    out = {}
    for r in results.reference(run.lab.name, results.reference_device()):
        if r.dtype == run.dtype and (r.variant not in out or r.size == gpu_size):
            out[r.variant] = r
    return out


def _speedup_text(run, r) -> str:
    base = run.baseline
    if r.measurement is None or base is None:
        return "—"
    if r is base:
        return "1.00×"
    s = r.record.speedup_vs_baseline
    verdict = r.measurement.faster_than(base.measurement)
    return f"{s:.2f}×" if verdict is not None else f"{s:.2f}× (noise)"


def bar(run, metric: str = "auto"):
    """A plotly bar chart of each timed variant: GB/s (memory labs) or TFLOP/s, vs its ceiling."""
    import plotly.graph_objects as go
    timed = [r for r in run.rows if r.measurement]
    if metric == "auto":     # bandwidth for memory-bound labs, FLOP/s where a matmul peak binds
        metric = "tflops" if any(r.ceiling and r.ceiling.kind == "compute" for r in timed) else "gbps"
    unit = {"gbps": "GB/s", "tflops": "TFLOP/s", "median": "seconds"}[metric]
    vals = [getattr(r.measurement, metric) for r in timed]
    fig = go.Figure(go.Bar(x=[r.name for r in timed], y=vals,
                           text=[f"{v:,.3g}" for v in vals], textposition="outside"))
    link = next((r.ceiling for r in timed if r.ceiling and r.ceiling.kind == "bandwidth"), None)
    if metric == "gbps" and link:
        fig.add_hline(y=link.value, line_dash="dash", annotation_text=f"measured {link.name} {link.value:,.0f} GB/s")
    fig.update_layout(title=f"{run.lab.name} on {run.device} ({unit}, higher is better)",
                      yaxis_title=unit, height=380, margin=dict(l=60, r=20, t=50, b=80))
    return fig


def points(run):
    """This run's timed variants on this device's Roofline; None for pure data movement."""
    from perflab.roofline import Roofline
    nbytes, nflops = run.nbytes, run.nflops
    if not nflops:
        return None
    roof = Roofline.from_ceilings(run.ceilings)
    for r in run.rows:
        if r.measurement:
            roof.add(r.name, nflops, nbytes, r.measurement.median,
                     precision=r.ceiling.precision(r.precision or run.dtype))
    return roof


def roofline(run, with_reference: bool = True):
    """A plotly roofline of this run, with the reference device's points beside it."""
    roof = points(run)
    if roof is None:
        return None
    ref = reference_roofline(run.lab.name) if with_reference else None
    return roof.figure([ref] if ref else [], title=f"{run.lab.name} on the roofline")


def show(run):
    """Display the table, the bar chart and (where the lab does arithmetic) the roofline."""
    from perflab.display import show as display
    display(table(run))
    show_bar(run)
    roof = points(run)
    if roof is not None and roof.points:
        display(roofline(run), fallback=str(roof))


def show_bar(run):
    """Display the bar chart of the timed variants (plain-text bars where plotly cannot draw)."""
    from perflab.display import show as display
    if any(r.measurement for r in run.rows):
        display(bar(run), fallback=bar_text(run))


def bar_text(run) -> str:
    """Each timed variant's median as a bar of text, slowest the longest."""
    timed = [r for r in run.rows if r.measurement]
    if not timed:
        return ""
    top = max(r.measurement.median for r in timed)
    return "\n".join(f"{r.name:<26} {'█' * max(1, int(30 * r.measurement.median / top))} "
                     f"{format_time(r.measurement.median)}" for r in timed)


def reference_roofline(lab_name: str | None = None, device_key: str | None = None):
    """The reference roofline (ceilings from its manifest) of the committed device closest to this one
    (or ``device_key``), with that lab's points if a lab is named (ceilings only otherwise), or None when
    no reference is recorded."""
    from perflab.roofline import Roofline
    path = results.reference_path(results.reference_device(device_key))
    if not path.exists():
        return None
    manifest, records = results.read(path)
    c = manifest.get("ceilings")
    if not c:
        return None
    roof = Roofline(device=f"{manifest['device']} (reference)", bandwidth_gbps=c["copy_gbps"],
                    peaks=c["matmul_tflops"])
    for r in records:
        if lab_name is not None and r.lab == lab_name and r.tflops and r.median_s and r.gbps:
            roof.add(r.variant, r.tflops * 1e12 * r.median_s, r.gbps * 1e9 * r.median_s, r.median_s,
                     precision=Ceiling.of(r).precision(r.dtype) if r.ceiling else r.dtype, source=manifest["device"])
    return roof
