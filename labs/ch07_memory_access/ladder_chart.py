"""A bar per variant of a ch07 ladder, this machine beside the reference GPU, values printed, log scale."""
from __future__ import annotations

from dataclasses import dataclass

from perflab import results

UNIT = {"gbps": "GB/s", "tflops": "TFLOP/s"}


@dataclass(frozen=True)
class Bar:
    """One variant of a ladder: this machine's value (None if it was not timed here, ``status`` says why)
    and the reference GPU's value (None if it recorded none)."""
    variant: str
    here: float | None
    status: str
    reference: float | None


def _number(v: float) -> str:
    """3 significant figures, without an exponent for the values a GB/s or TFLOP/s bar shows."""
    return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def _metric(run) -> str:
    return "tflops" if run.nflops else "gbps"


def bars(run, metric: str | None = None) -> list[Bar]:
    """Every variant of the lab in ladder order, timed here or not, with the reference GPU's value beside."""
    metric = metric or _metric(run)
    if metric not in UNIT:
        raise ValueError(f"metric is one of {sorted(UNIT)}, got {metric!r}")
    gpu_size = run.lab.SIZES["gpu"][0]
    ref = {}
    for r in results.reference(run.lab.name, results.reference_device()):
        if r.dtype == run.dtype and getattr(r, metric) and (r.variant not in ref or r.size == gpu_size):
            ref[r.variant] = getattr(r, metric)
    rows = {r.name: r for r in run.rows}
    out = []
    for name in dict.fromkeys(run.lab.variant_names() + list(rows)):
        row = rows.get(name)
        m = row.measurement if row else None
        out.append(Bar(name, getattr(m, metric) if m else None, _status(row), ref.get(name)))
    return out


def _status(row) -> str:
    """A few words on what happened to a variant here: timed, checked but not timed, or what it needs."""
    if row is None:
        return "not run"
    if row.measurement:
        return "timed"
    if row.status == "checked":
        return "checked, not timed"
    if row.status == "skipped":
        return row.why.split(" (")[0] or "skipped"
    return row.status


def figure(run, metric: str | None = None):
    """A plotly grouped bar chart on a log axis: this machine and the reference GPU, every value printed
    on its bar, and the variants not timed here marked by why (so a CPU run is not one lonely bar)."""
    import plotly.graph_objects as go
    metric = metric or _metric(run)
    rows = bars(run, metric)
    label = results.device_label(results.reference_device())
    names = [b.variant for b in rows]
    fig = go.Figure()
    fig.add_trace(go.Bar(name=f"this machine ({run.device})", x=names, y=[b.here for b in rows],
                         text=[_number(b.here) if b.here else "not timed here" for b in rows],
                         hovertext=[b.status for b in rows], textposition="outside"))
    if any(b.reference for b in rows):
        fig.add_trace(go.Bar(name=f"{label} reference", x=names, y=[b.reference for b in rows],
                             text=[_number(b.reference) if b.reference else "" for b in rows],
                             textposition="outside", opacity=0.7))
    fig.update_layout(barmode="group", title=f"{run.lab.name}: {UNIT[metric]} per variant (log scale, higher is "
                      f"better)", yaxis_title=f"{UNIT[metric]} (log scale)", height=420,
                      margin=dict(l=60, r=20, t=50, b=90))
    fig.update_yaxes(type="log")
    return fig


def text(run, metric: str | None = None) -> str:
    """The same bars as plain text: a line per variant, this machine's value or why it has none, the reference."""
    metric = metric or _metric(run)
    label = results.device_label(results.reference_device())
    lines = [f"{'variant':<24} {'this machine':>20}  {label + ' reference':>18}"]
    for b in bars(run, metric):
        here = f"{_number(b.here)} {UNIT[metric]}" if b.here else b.status
        ref = f"{_number(b.reference)} {UNIT[metric]}" if b.reference else "—"
        lines.append(f"{b.variant:<24} {here:>20}  {ref:>18}")
    return "\n".join(lines)


def show(run, metric: str | None = None) -> None:
    """Display the chart in a notebook, else print its text form."""
    from perflab.display import show as display
    display(figure(run, metric), fallback=text(run, metric))
