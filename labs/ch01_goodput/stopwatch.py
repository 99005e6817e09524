"""Where did the time go: label the phases of a training run.

Why not just pl.bench? pl.bench times a whole call (a whole training run) and that is what the lab's
goodput uses. To split that time into *data / compute / host sync / checkpoint* we need intervals inside
one run. On a GPU the host only queues kernels, so an interval timed on the host measures the queueing,
not the work; the stopwatch therefore synchronizes the device at both ends of every labelled interval
and reads ``time.perf_counter`` there. Those extra synchronizations cost a little and remove overlap,
so the breakdown explains a run; its total is never used as the run's time (pl.bench gives that).
Each interval is also a ``torch.profiler.record_function`` range, so the profiler shows the same labels.
"""
from __future__ import annotations

import contextlib
import time
from collections import defaultdict

import torch

PHASES = ("data", "compute", "host sync", "checkpoint")


class Stopwatch:
    """``with watch("data"): ...`` adds the interval's seconds to ``watch.seconds["data"]``.

    sync=True synchronizes the CUDA device at both ends (an honest interval on a GPU); sync=False only
    adds the profiler label (for torch.profiler, without changing the run).
    """

    def __init__(self, sync: bool = True):
        self.sync = sync and torch.cuda.is_available()
        self.seconds: dict[str, float] = defaultdict(float)
        self.wall = 0.0

    @contextlib.contextmanager
    def __call__(self, label: str):
        with torch.profiler.record_function(label):
            if self.sync:
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            try:
                yield
            finally:
                if self.sync:
                    torch.cuda.synchronize()
                self.seconds[label] += time.perf_counter() - t0

    @contextlib.contextmanager
    def run(self):
        """Wrap a whole run: its wall time, so 'other' = wall − labelled phases."""
        if self.sync:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        yield self
        if self.sync:
            torch.cuda.synchronize()
        self.wall += time.perf_counter() - t0

    def fractions(self) -> dict[str, float]:
        wall = self.wall or sum(self.seconds.values()) or 1.0
        out = {p: self.seconds.get(p, 0.0) / wall for p in PHASES}
        out["other"] = max(0.0, 1.0 - sum(out.values()))
        return out


def phase(watch: "Stopwatch | None", label: str):
    """The stopwatch's interval, or nothing at all when no stopwatch is attached (the timed runs)."""
    return watch(label) if watch is not None else contextlib.nullcontext()


# ---- tables for the notebook ----------------------------------------------------------------------

def breakdown(size=None, repeats: int = 5, variants=None):
    """Run each configuration of ch01.train_loop with a synchronizing Stopwatch; % of its wall time per phase."""
    from perflab.machine import device, env
    from perflab.table import Table
    from labs.ch01_goodput import train_loop as tl
    size = size or tl.SIZES[env().tier][0]
    inputs = tl.make_inputs(size, device(), "float32", seed=0)
    rows = []
    for name in variants or tl.CONFIGS:
        tl.train(**inputs, **tl.CONFIGS[name])                     # warm-up, not counted
        watches = []
        for _ in range(repeats):
            w = Stopwatch(sync=True)
            with w.run():
                tl.train(**inputs, **tl.CONFIGS[name], watch=w)
            watches.append(w)
        watches.sort(key=lambda w: w.wall)
        w = watches[len(watches) // 2]                              # the median run: robust to a noisy machine
        f = w.fractions()
        rows.append([name] + [f"{f[p]:.0%}" for p in (*PHASES, "other")] + [f"{w.wall * 1e3:.2f} ms"])
    return Table(["variant", *PHASES, "other", "instrumented run"], rows,
                 title=f"Where the time went · size {size} · {env().device}",
                 notes=["per phase: time.perf_counter around device-synchronized intervals (Stopwatch), "
                        f"the median of {repeats} runs; the syncs remove overlap, so use it to explain, "
                        "not to time (pl.bench gave the times above)"])


def goodput(run):
    """Goodput per variant of a ch01.train_loop LabRun: useful time (compute_only) / wall time, beside the H200."""
    from perflab import results
    from perflab.table import Table
    ms = {r.name: r.measurement for r in run.rows if r.measurement is not None}
    ref = {r.variant: r for r in results.reference(run.lab.name) if r.median_s}
    useful, ref_useful = ms.get("compute_only"), ref.get("compute_only")
    rows = []
    for name, m in ms.items():
        if useful is None:
            mine, lost = "—", "—"
        elif name != "compute_only" and m.median <= useful.p80:     # the spreads overlap
            mine, lost = "≈100% (within noise)", "—"
        else:
            mine, lost = f"{useful.median / m.median:.0%}", f"{(m.median - useful.median) * 1e3:.2f} ms"
        h200 = "—"
        if ref_useful and name in ref:
            r = ref[name]
            h200 = "≈100%" if r.median_s <= (ref_useful.p80_s or ref_useful.median_s) and name != "compute_only" \
                else f"{ref_useful.median_s / r.median_s:.0%}"
        rows.append([name, f"{m.median * 1e3:.2f} ms", mine, lost, h200])
    return Table(["variant", "wall (median)", f"goodput ({run.device})", "stall time per run", "H200 goodput"], rows,
                 title="Goodput = useful compute time / wall time",
                 notes=["useful time = the compute_only variant (the same steps on batches already on the "
                        "device); both times from pl.bench",
                        "within noise: the variant's median is inside compute_only's p20–p80 spread (a busy "
                        "machine makes small stalls unmeasurable)",
                        "'—' under H200: no reference recorded for this lab yet"])


def phase_rows(profile_text: str) -> str:
    """Keep the header and the labelled phases of a torch.profiler table (pl.torch_profile's text)."""
    lines = profile_text.splitlines()
    keep = [ln for ln in lines[3:] if ln.strip().split("  ")[0] in PHASES]
    return "\n".join(lines[:3] + keep + lines[-2:-1])
