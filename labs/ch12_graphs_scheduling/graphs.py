"""The launch-bound lab around its run: what the first call costs, how many launches a step makes, the ratio."""
from __future__ import annotations

import warnings

import perflab as pl
from perflab.measure import format_time
from perflab.table import Table

LAB = "ch12.launch_bound"


def first_calls(size=None, rep_ms: float = 50) -> Table:
    """Every variant from a cold start: the first call (warm-up + capture, or compile) apart from the steady step.

    Captured graphs and compiled code are dropped first (``launch_bound.reset()``), so the first call
    pays for them again; then ``pl.bench`` times the steady state. Inductor may still find this step's
    kernel in its on-disk cache from an earlier session: the table says when it did. Run this before
    ``pl.run`` of the lab and the run reuses what was compiled here.
    """
    import torch
    from perflab import quick
    from perflab.machine import device
    from perflab.runner import availability
    from labs.ch12_graphs_scheduling import launch_bound as lb
    lab, e = pl.load(LAB), pl.env()
    size = quick.default_size(lab.SIZES[e.tier]) if size is None else size
    rep_ms = quick.rep_ms(rep_ms)
    inp = lab.make_inputs(size, device(), "float32", 0)
    lb.reset()
    counters = torch._dynamo.utils.counters["inductor"]
    rows, eager = [], None
    for fn in lab.variants:
        runs, _, why = availability(fn, e)
        if not runs:
            rows.append([fn.__name__, "—", "—", "—", "—", why])
            continue
        hits = counters["fxgraph_cache_hit"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            m = pl.bench(lambda: fn(**inp), rep_ms=rep_ms, label=f"{LAB}.{fn.__name__}", mode=lb.OPTIONS.timing)
        eager = eager or m
        saved = eager.median - m.median
        extra = m.first_call_s - m.median
        pays = f"{extra / saved:,.0f} steps" if saved > 0 and fn.__name__ != "eager" else "—"
        note = {"eager": "loads each kernel", "cuda_graph": "warm-up step, capture, replay",
                "compiled": "trace, generate code, compile"}.get(fn.__name__, "")
        if fn.__name__ == "compiled" and counters["fxgraph_cache_hit"] > hits:
            note += " (Inductor cache hit)"
        rows.append([fn.__name__, format_time(m.first_call_s), format_time(m.median),
                     f"{eager.median / m.median:.2f}×", pays, note])
    return Table(["variant", "first call", "steady step", "vs eager", "pays back after", "the first call"],
                 rows, title=f"First call vs steady state · size {size} · measured on {e.device}",
                 notes=["pays back after = (first call − one step) ÷ (eager step − this step)",
                        "the first compile in a process also pays Inductor's one-time start-up; a cache hit "
                        "means Inductor found this kernel on disk from an earlier session",
                        "on a GPU, reduce-overhead runs its first call eagerly and records its CUDA graph on the "
                        "second (a few ms, not in this column)"])


def ratio_line(run) -> str:
    """One line: the CUDA graph's and torch.compile's speedups over eager per step, here and on the H200."""
    from perflab import book
    mine = {r.name: r.measurement.median for r in run.rows if r.measurement}
    ref = book.reference_at_gpu_size(LAB)
    parts = []
    for name in ("cuda_graph", "compiled"):
        here = f"{mine['eager'] / mine[name]:.2f}× on {run.device}" if "eager" in mine and name in mine else \
            f"did not run on {run.device}" + (" (needs a CUDA GPU)" if name == "cuda_graph" else "")
        h200 = book.ratio(ref, LAB, "eager", name)
        h200 = f"{h200:.2f}× on the H200" if h200 else "H200: not recorded"
        parts.append(f"{name} vs eager per step: {here}; {h200}")
    return "\n".join(parts) + "\n(the chapter's bar on the H200: CUDA graph ≥ 3× eager at the launch-bound size)"


def launch_counts(size=None) -> Table:
    """Host ops, kernel launches, graph launches and GPU kernels in one step of each variant (torch.profiler)."""
    import torch
    from torch.profiler import ProfilerActivity, profile
    from perflab.machine import device
    from perflab.runner import availability
    lab, e = pl.load(LAB), pl.env()
    size = lab.SIZES[e.tier][0] if size is None else size
    inp = lab.make_inputs(size, device(), "float32", 0)
    gpu = e.tier == "gpu"
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if gpu else [])
    rows = []
    for fn in lab.variants:
        runs, _, why = availability(fn, e)
        if not runs:
            rows.append([fn.__name__, "—", "—", "—", "—", why])
            continue
        for _ in range(3):                              # warm up: capture, compile, record
            fn(**inp)
        try:
            with profile(activities=acts) as prof:
                fn(**inp)
                if gpu:
                    torch.cuda.synchronize()
        except Exception as exc:                        # a profiler that cannot start: say so, keep going
            rows.append([fn.__name__, "—", "—", "—", "—", f"profiler unavailable: {type(exc).__name__}"])
            continue
        names = [ev.name for ev in prof.events()]
        aten = sum(1 for ev in prof.events() if ev.name.startswith("aten::") and ev.cpu_parent is None)
        launches = sum(1 for n in names if n in ("cudaLaunchKernel", "cuLaunchKernel", "cudaLaunchKernelExC",
                                                 "cuLaunchKernelEx"))
        graphs = sum(1 for n in names if n.startswith("cudaGraphLaunch"))
        kernels = sum(1 for ev in prof.events() if getattr(ev.device_type, "name", "") == "CUDA")
        rows.append([fn.__name__, aten, launches if gpu else "—", graphs if gpu else "—",
                     kernels if gpu else "—", ""])
    notes = ["host ops: top-level aten:: calls; launches: cudaLaunchKernel calls on the host; GPU kernels: "
             "kernels the GPU ran (inside graphs too, where the profiler can see them)"]
    if not gpu:
        notes.append("cpu tier: no kernel launches to count; on a GPU the eager step makes 160 launches and "
                     "the graph step one cudaGraphLaunch")
    return Table(["variant", "host ops", "kernel launches", "graph launches", "GPU kernels", "note"], rows,
                 title=f"One step under torch.profiler · size {size} · {e.device}", notes=notes)
