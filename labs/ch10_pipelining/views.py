"""Views of the matmul sweeps: TFLOP/s against the knob (num_stages, GROUP_M) beside torch.matmul and the
H200 reference, and the two ratios the chapter is about (best Triton vs cuBLAS, more stages vs one)."""
from __future__ import annotations

from dataclasses import dataclass

from perflab import results

STAGE_X = {"stages_1": 1, "stages_2": 2, "stages_3": 3, "stages_4": 4}
GROUP_X = {"row_major": 1, "grouped_4": 4, "grouped_8": 8, "grouped_16": 16}


def _tflops(records, names) -> dict:
    return {r.variant: r.tflops for r in records if r.variant in names and r.tflops and r.correct}


def _reference(run) -> list:
    gpu_size = list(run.lab.SIZES["gpu"][0])
    return [r for r in results.reference(run.lab.name) if r.dtype == run.dtype and r.size == gpu_size]


def sweep_figure(run, xs: dict, xlabel: str):
    """TFLOP/s of the swept variants (this run and the H200 reference), with torch.matmul as dashed lines."""
    import plotly.graph_objects as go
    fig = go.Figure()
    for label, recs, dash in ((f"yours ({run.device})", run.records, "solid"),
                              ("H200 reference", _reference(run), "dot")):
        vals = _tflops(recs, xs)
        if vals:
            pts = sorted((xs[v], t) for v, t in vals.items())
            fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines+markers",
                                     name=f"Triton · {label}", line=dict(dash=dash)))
        cublas = _tflops(recs, {"torch_matmul"}).get("torch_matmul")
        if cublas:
            fig.add_hline(y=cublas, line_dash="dash", annotation_text=f"torch.matmul · {label}: {cublas:,.0f}")
    fig.update_layout(title=f"{run.lab.name}: TFLOP/s against {xlabel} ({run.dtype}, size {run.size})",
                      xaxis_title=xlabel, yaxis_title="TFLOP/s", xaxis_type="log" if max(xs.values()) > 4 else "linear",
                      height=380, margin=dict(l=60, r=20, t=50, b=50))
    return fig


def show_sweep(run, xs: dict, xlabel: str) -> None:
    """The sweep figure where plotting works; otherwise nothing (the table above carries the numbers)."""
    from perflab.display import show
    if any(_tflops(recs, xs) for recs in (run.records, _reference(run))):
        show(sweep_figure(run, xs, xlabel), fallback="")


def ratios(run, label: str = "yours") -> list[str]:
    """Best Triton variant as a fraction of torch.matmul, and the best multi-stage variant vs one stage."""
    t = {r.variant: r for r in run.records if r.median_s and r.correct} if hasattr(run, "records") else run
    return _ratio_lines(t, label)


def _ratio_lines(t: dict, label: str) -> list[str]:
    out = []
    triton = {v: r for v, r in t.items() if v != "torch_matmul"}
    if triton and "torch_matmul" in t:
        best = min(triton.values(), key=lambda r: r.median_s)
        cub = t["torch_matmul"]
        out.append(f"{label}: best Triton ({best.variant}) {best.tflops:,.0f} TFLOP/s = "
                   f"{cub.median_s / best.median_s:.0%} of torch.matmul ({cub.tflops:,.0f} TFLOP/s)")
    if "stages_1" in t:
        multi = {v: r for v, r in t.items() if v in STAGE_X and v != "stages_1"}
        if multi:
            best = min(multi.values(), key=lambda r: r.median_s)
            each = ", ".join(f"{v} {t['stages_1'].median_s / r.median_s:.2f}×" for v, r in sorted(multi.items()))
            out.append(f"{label}: more than one stage vs stages_1: best {best.variant} "
                       f"{t['stages_1'].median_s / best.median_s:.2f}× ({each})")
    return out


def report(run) -> str:
    """The chapter's two ratios, measured here and in the H200 reference run."""
    lines = ratios(run, f"yours ({run.device}, {run.size})")
    if not lines:
        lines = [f"yours ({run.device}): the Triton variants were checked but not timed here "
                 f"(interpreter); the ratios need a GPU"]
    ref = {r.variant: r for r in _reference(run) if r.median_s and r.correct}
    ref_lines = _ratio_lines(ref, f"H200 reference ({run.lab.SIZES['gpu'][0]})")
    return "\n".join(lines + (ref_lines or ["H200 reference: not recorded for this lab yet"]))


def cluster_note(run) -> str:
    """One line on the DSMEM variant: measured here, or what it needs and what it would show."""
    row = next((r for r in run.rows if r.name == "cuda_cluster_dsmem"), None)
    if row is not None and row.status == "timed":
        two = next((r for r in run.rows if r.name == "cuda_two_kernels" and r.measurement), None)
        vs = f", {two.measurement.median / row.measurement.median:.2f}× the two-kernel version" if two else ""
        return f"cuda_cluster_dsmem ran on {run.device}: {row.measurement.gbps:,.0f} GB/s{vs}"
    why = row.why if row is not None else "not run"
    return (f"cuda_cluster_dsmem did not run here ({why}): it needs an sm_90 GPU (H100/H200) and CuPy; there it "
            f"matches the two-kernel version's traffic in one launch, with the 8 partial sums exchanged on chip")


@dataclass(frozen=True)
class MachineFacts:
    """What the chapter's GPU models need: SMs, L2 (MB), the measured copy rate (GB/s, None where not
    measured) and where these came from."""
    sms: int
    l2_mb: float
    copy_gbps: float | None
    where: str


def machine_facts() -> MachineFacts:
    """This GPU's facts, read and measured; on the cpu tier the H200 reference run's (its manifest), since
    the models below are about a GPU."""
    from perflab.machine import env
    e = env()
    if e.tier == "gpu":
        from perflab.peaks import ceilings
        return MachineFacts(e.sms, e.l2_mb or 50.0, ceilings().copy_gbps, e.device)
    man = results.reference_manifest()
    return MachineFacts(man.get("sms", 132), man.get("l2_mb", 50.0), man.get("ceilings", {}).get("copy_gbps"),
                        f"{man.get('device', 'NVIDIA H200')} reference (its SMs, L2 and measured bandwidth)")


def show_tile_order_model(size, groups_to_draw=(1, 8)) -> None:
    """The L2 model of the tile_order lab on this GPU (its SMs, L2, bandwidth and the lab's tile), or on the
    H200 reference's figures on the cpu tier: a table of operand traffic per GROUP_M, then the launch order."""
    from perflab.display import show
    from labs.ch10_pipelining import models
    from labs.ch10_pipelining._matmul import tile_for
    from perflab.machine import device, env
    facts = machine_facts()
    sms = facts.sms
    t = tile_for(device()) if env().tier == "gpu" else None
    tile = (t.block_m, t.block_n) if t else (128, 256)          # the tile the labs pick on an H100/H200
    show(models.tile_order_table(size, tile=tile, wave=sms, l2_mb=facts.l2_mb, gbps=facts.copy_gbps,
                                 device=facts.where))
    grid_m, grid_n = -(-size[0] // tile[0]), -(-size[1] // tile[1])
    for g in groups_to_draw:
        show(models.order_figure(grid_m, grid_n, g, sms), fallback=models.order_text(grid_m, grid_n, g, sms))
