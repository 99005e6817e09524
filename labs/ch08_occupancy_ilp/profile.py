"""Nsight Compute on several chapter 8 variants in one profiler process: issue rate, IPC, occupancy, divergence.

Every case runs in one child process (perflab.nsight.ncu_cases: each call inside its own NVTX range,
rows split by range) and ncu profiles only the chapter's kernels (``-k regex:``), so the whole view
costs one start-up. Without ncu or counter access the table says why, in one line.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from labs._shown import shows_table

# (lab, variant, size, kernel name): small sizes, one kernel launch each
CASES = [
    ("ch08.fma_ilp", "cuda_ilp1", (2_097_169, 256), "fma_ilp1"),
    ("ch08.fma_ilp", "cuda_ilp8", (2_097_169, 256), "fma_ilp8"),
    ("ch08.divergence", "cuda_divergent", (1_048_583, 256), "branch_by_lane"),
    ("ch08.divergence", "cuda_sorted", (1_048_583, 256), "branch_sorted"),
]
METRICS = {
    "warp-instr / scheduler / cycle": "smsp__inst_executed.avg.per_cycle_active",
    "SM IPC": "sm__inst_executed.avg.per_cycle_active",
    "achieved occupancy %": "sm__warps_active.avg.pct_of_peak_sustained_active",
    "active threads / instr": "smsp__thread_inst_executed_per_inst_executed.ratio",
    "stall 'wait' / issue": "smsp__average_warps_issue_stalled_wait_per_issue_active.ratio",
    "registers": "launch__registers_per_thread",
}


@shows_table
@dataclass(frozen=True)
class CounterView:
    """What Nsight Compute read per case: ``values["lab.variant"]`` = {ncu metric: value},
    or, with ``unavailable`` set, why it read nothing. ``table()`` draws it."""
    cases: tuple
    metrics: dict
    device: str
    values: dict = field(default_factory=dict)
    unavailable: str = ""

    def table(self):
        from perflab.table import Table
        if self.unavailable:
            return Table(["Nsight Compute"], [[f"unavailable: {self.unavailable}"]],
                         notes=["the timing tables above are the counter-free view; the book check uses the timings",
                                "with counters this shows: issue ≤ 1.0 per scheduler per cycle, ILP 8 near it and "
                                "ILP 1 far below, and ~16 active threads per instruction in the divergent kernel"])
        rows = []
        for case in self.cases:
            lab, variant, _, kname = case
            vals = self.values.get(f"{lab}.{variant}", {})
            rows.append([f"{lab.split('.')[1]}.{variant}", kname]
                        + [f"{vals[m]:,.3g}" if m in vals else "—" for m in self.metrics.values()])
        return Table(["variant", "kernel", *self.metrics], rows,
                     title=f"Nsight Compute, one call each, on {self.device}",
                     notes=["warp-instr / scheduler / cycle: at most 1.0 (one issue slot per scheduler per cycle); "
                            "SM IPC: at most 4 (four schedulers)",
                            "active threads / instr: 32 when no lane is masked off; 16 means half the warp idles",
                            "stall 'wait': cycles a warp waits on a fixed-latency dependency (the previous FMA) "
                            "per issue"])


def view(cases=CASES, metrics: dict = METRICS, timeout_s: float = 240) -> CounterView:
    """Profile every case in one ncu process: a CounterView (one row per case, one column per metric), or
    one that says why counters are unavailable."""
    from perflab.machine import env
    from perflab.nsight import ncu_cases
    cases = tuple(tuple(c) for c in cases)
    results = ncu_cases([(lab, variant, size) for lab, variant, size, _ in cases], metrics=list(metrics.values()),
                        timeout_s=timeout_s, kernel_regex="^(" + "|".join(k for *_, k in cases) + ")")
    if not any(res.available for res in results):
        return CounterView(cases, metrics, env().device, unavailable=results[0].reason)
    values = {f"{lab}.{variant}": {m: v for k, m, v, _ in res.rows if k.split("(")[0].strip() == kname}
              for (lab, variant, _, kname), res in zip(cases, results)}
    return CounterView(cases, metrics, env().device, values)
