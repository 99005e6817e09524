"""Bytes each version of a lab moves (its traffic model), the intensity that gives, and its own roofline.

perflab's roofline places every variant of a lab at one intensity: the lab's *minimum* bytes. Fusion is
about the bytes a version *actually* moves, so here each variant gets its own x: the lab's useful FLOPs
over the bytes its kernels load and store (``lab.kernels(variant, size, dtype, device)``), while its
height (TFLOP/s) stays the measured one.
"""
from __future__ import annotations

import perflab as pl
from perflab.lab import info
from perflab.measure import format_time
from perflab.table import Table


def _device() -> str:
    return "cpu" if pl.env().tier == "cpu" else "cuda"


def _model(lab, name: str, size, dtype, device: str):
    try:
        return lab.module.kernels(name, size, dtype, device)
    except (ValueError, AttributeError):
        return None                       # an exercise function or a lab without a model


def _elements(size) -> int:
    dims = size if isinstance(size, (tuple, list)) else (size,)
    out = 1
    for d in dims[:2]:
        out *= d
    return out


def summary(lab_name: str, size=None, dtype: str | None = None) -> Table:
    """The traffic model of every variant before anything runs: kernels, bytes, FLOP/byte, and the
    fastest each could be on this device if it moved its bytes at the measured copy bandwidth."""
    lab = pl.load(lab_name)
    e, c = pl.env(), pl.ceilings()
    size = lab.SIZES[e.tier][0] if size is None else size
    dtype = dtype or lab.DTYPES[0]
    flops, elements = lab.flops(size, dtype), _elements(size)
    rows = []
    for fn in lab.variants:
        ks = _model(lab, fn.__name__, size, dtype, _device())
        if not ks:
            continue
        moved = sum(k.bytes for k in ks)
        rows.append([fn.__name__, str(len(ks)), " → ".join(k.name for k in ks),
                     f"{moved / elements:.3g}", f"{flops / moved:.3g}", format_time(moved / (c.copy_gbps * 1e9))])
    return Table(["variant", "kernels", "what each kernel does", "B/element", "FLOP/B", "bytes ÷ copy BW"], rows,
                 title=f"{lab.name} traffic model · size {size}, {dtype} · {e.device}",
                 notes=[f"FLOP/B: the lab's {flops:,} useful FLOPs over the bytes each version moves",
                        f"'bytes ÷ copy BW': moving those bytes at the measured {c.copy_gbps:,.0f} GB/s; "
                        f"a memory-bound version cannot be faster than that"])


def table(run) -> Table:
    """A run's timed variants with the bytes their kernels move: effective GB/s and intensity."""
    lab = run.lab
    flops, elements = lab.flops(run.size, run.dtype), _elements(run.size)
    rows = []
    for r in run.rows:
        m = r.measurement
        ks = _model(lab, r.name, run.size, run.dtype, _device())
        if ks is None:
            rows.append([r.name, "—", "—", "—", format_time(m.median) if m else "—", "—", "—"])
            continue
        moved = sum(k.bytes for k in ks)
        gbps = moved / m.median / 1e9 if m else None
        rows.append([r.name, str(len(ks)), f"{moved / elements:.3g}", f"{flops / moved:.3g}",
                     format_time(m.median) if m else ("not timed" if r.status == "checked" else r.status),
                     f"{gbps:,.1f}" if gbps else "—",
                     f"{gbps / run.ceilings.copy_gbps:.0%}" if gbps else "—"])
    return Table(["variant", "kernels", "B/element (model)", "FLOP/B (model)", "median",
                  "GB/s of modelled bytes", "% of copy BW"], rows,
                 title=f"{lab.name} · bytes moved per version · measured on {run.device}",
                 notes=["a version near 100% of the copy bandwidth is limited by the bytes it moves: "
                        "only moving fewer (fusion, lower precision) makes it faster"])


def roofline(run):
    """This run's variants, each at the intensity of the bytes it moves, with the H200 reference points."""
    from perflab import results
    from perflab.roofline import Roofline
    lab = run.lab
    mine = Roofline.from_ceilings(run.ceilings)
    _add_points(mine, lab, [(r.name, r.measurement.median, r.precision) for r in run.rows if r.measurement],
                run.size, run.dtype, _device())
    others = []
    ref_c = pl.reference_ceilings()
    recs = [rec for rec in results.reference(lab.name) if rec.median_s and rec.dtype == run.dtype]
    if ref_c and recs:
        ref = Roofline(device=f"{ref_c.device} (reference)", bandwidth_gbps=ref_c.copy_gbps,
                       peaks=dict(ref_c.matmul_tflops))
        size = tuple(recs[0].size) if isinstance(recs[0].size, list) else recs[0].size
        _add_points(ref, lab, [(rec.variant, rec.median_s, _precision(lab, rec.variant)) for rec in recs
                               if (tuple(rec.size) if isinstance(rec.size, list) else rec.size) == size],
                    size, run.dtype, "cuda")
        others.append(ref)
    return mine, others


def _precision(lab, name):
    try:
        return info(lab.get_variant(name)).precision
    except ValueError:
        return None


def _add_points(roof, lab, timed, size, dtype, device):
    flops = lab.flops(size, dtype)
    for name, seconds, precision in timed:
        ks = _model(lab, name, size, dtype, device)
        if ks and flops:
            roof.add(name, flops, sum(k.bytes for k in ks), seconds, precision=precision or dtype)


def show(run) -> None:
    """Table, bar chart, the bytes-moved table and the roofline at each version's own intensity."""
    from perflab import views
    from perflab.display import show as display
    display(run.table())
    views.show_bar(run)
    display(table(run))
    show_roofline(run)


def show_roofline(run) -> None:
    """The roofline with each version at the intensity of the bytes it moves (H200 reference beside it)."""
    from perflab.display import show as display
    mine, others = roofline(run)
    if mine.points or any(o.points for o in others):
        fig = mine.figure(others, title=f"{run.lab.name}: each version at the intensity of the bytes it moves")
        display(fig, fallback=str(mine) + "".join("\n" + str(o) for o in others))
    else:
        print("no timed variant here to place on the roofline (on the cpu tier Triton is interpreted: "
              "checked, not timed)")


# ---- Nsight Compute: the model against the counters ------------------------------------------------

_BYTE_UNITS = {"byte": 1, "Kbyte": 1e3, "Mbyte": 1e6, "Gbyte": 1e9, "Tbyte": 1e12,
               "KB": 1e3, "MB": 1e6, "GB": 1e9, "KiB": 1024, "MiB": 1024 ** 2, "GiB": 1024 ** 3}
_METRICS = ["dram__bytes_read.sum", "dram__bytes_write.sum", "gpu__time_duration.sum"]


def counters(lab_name: str, variants: list[str], size) -> Table:
    """Kernels launched and DRAM bytes moved per call, read by Nsight Compute, beside the traffic model.

    Every variant in one profiled child process (``ncu --clock-control none``, one call each inside its
    own NVTX range). Where counters are unavailable the table says why in one line.
    """
    from perflab.nsight import ncu_cases
    lab = pl.load(lab_name)
    dtype = lab.DTYPES[0]
    rows = []
    results = ncu_cases([(lab_name, name, size) for name in variants], metrics=_METRICS, timeout_s=240)
    for name, res in zip(variants, results):
        if not res.available:
            return Table(["Nsight Compute"], [[f"unavailable: {res.reason}"]],
                         notes=["the traffic model and the timing tables above stand in for the counters"])
        launches = sum(1 for _, m, _, _ in res.rows if m == "gpu__time_duration.sum")
        dram = sum(v * _BYTE_UNITS.get(u, float("nan")) for _, m, v, u in res.rows if m.startswith("dram__bytes"))
        ks = _model(lab, name, size, dtype, "cuda") or []
        model = sum(k.bytes for k in ks)
        rows.append([name, str(len(ks)), str(launches), f"{model / 1e6:,.1f}", f"{dram / 1e6:,.1f}",
                     f"{dram / model:.2f}" if model else "—"])
    return Table(["variant", "kernels (model)", "kernels (ncu)", "MB moved (model)", "DRAM MB (ncu)",
                  "DRAM ÷ model"], rows, title=f"{lab_name} at size {size}: the traffic model vs the counters",
                 notes=["DRAM ÷ model < 1: a re-read was served by the L2 cache (the model counts what the code "
                        "asks for); > 1: the kernel moved more than the model says"])
