"""Profilers through perflab: Nsight Compute on a lab variant, nsys where it works, torch.profiler.

Hardware counters are often unavailable (no ncu, a cloud host without counter permission, the cpu
tier). Every function here returns a result that says "unavailable: <reason>" instead of raising.
"""
from __future__ import annotations

import contextlib
import csv
import io
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

from perflab import proctree

METRIC_SETS = {
    "memory": ["gpu__time_duration.sum", "dram__bytes_read.sum", "dram__bytes_write.sum",
               "dram__throughput.avg.pct_of_peak_sustained_elapsed",
               "l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum",
               "l1tex__t_requests_pipe_lsu_mem_global_op_ld.sum",
               "smsp__sass_average_data_bytes_per_sector_mem_global_op_ld.pct",
               "l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_ld.sum",
               "l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_st.sum"],
    "compute": ["gpu__time_duration.sum", "sm__throughput.avg.pct_of_peak_sustained_elapsed",
                "sm__warps_active.avg.pct_of_peak_sustained_active",
                "sm__inst_executed.sum", "launch__registers_per_thread",
                "launch__occupancy_limit_registers"],
}


@dataclass
class ProfileResult:
    """Rows of (kernel, metric, value, unit), or the reason they could not be read."""
    available: bool
    reason: str = ""
    rows: list = field(default_factory=list)
    command: list = field(default_factory=list)

    def value(self, metric: str, kernel: int = -1) -> float | None:
        """A metric of one profiled kernel (default: the last)."""
        kernels = list(dict.fromkeys(r[0] for r in self.rows))
        if not kernels:
            return None
        name = kernels[kernel]
        for k, m, v, _ in self.rows:
            if k == name and m == metric:
                return v
        return None

    def table(self):
        from perflab.table import Table
        if not self.available:
            return Table(["ncu"], [[f"unavailable: {self.reason}"]])
        return Table(["kernel", "metric", "value", "unit"],
                     [[k[:48], m, f"{v:,.4g}" if isinstance(v, float) else str(v), u]
                      for k, m, v, u in self.rows])

    def __repr__(self):
        return str(self.table())

    def _repr_html_(self):
        return self.table()._repr_html_()


def find(tool: str) -> str | None:
    from perflab.machine import _nsight_path
    return shutil.which(tool) or _nsight_path(tool)


def ncu(lab: str, variant: str, size=None, metrics: "str | list[str]" = "memory",
        timeout_s: float = 180) -> ProfileResult:
    """Run Nsight Compute on one call of a lab variant (in a child process) and parse its metrics.

    Only kernels launched inside the NVTX range around that one call are profiled; the clocks are
    left as they are (``--clock-control none``), never locked or changed.
    """
    from perflab.machine import env
    if env().tier != "gpu":
        return ProfileResult(False, "the cpu tier has no GPU counters; the timing tables stand in")
    exe = find("ncu")
    if exe is None:
        return ProfileResult(False, "ncu is not installed (it ships with the CUDA toolkit / Nsight Compute)")
    names = METRIC_SETS[metrics] if isinstance(metrics, str) else list(metrics)
    cmd = [exe, "--clock-control", "none", "--csv", "--page", "raw", "--nvtx",
           "--nvtx-include", "perflab/", "--metrics", ",".join(names),
           sys.executable, "-m", "perflab.profile_target", lab, variant]
    if size is not None:
        cmd += ["--size", repr(size)]
    try:        # its own process group: on a timeout ncu and the program it profiles are both killed
        out = proctree.run(cmd, timeout=timeout_s, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    except subprocess.TimeoutExpired:
        return ProfileResult(False, f"ncu took longer than {timeout_s:.0f} s; it and the profiled program "
                                    f"were stopped", command=cmd)
    text = out.stdout + out.stderr
    if "ERR_NVGPUCTRPERM" in text:
        return ProfileResult(False, "this host does not let users read GPU counters (ERR_NVGPUCTRPERM); "
                                    "an administrator must allow it", command=cmd)
    rows = parse_ncu_csv(out.stdout)
    if not rows:
        tail = " ".join(text.strip().splitlines()[-3:])[:300]
        return ProfileResult(False, f"ncu returned no metrics (exit {out.returncode}): {tail}", command=cmd)
    return ProfileResult(True, rows=rows, command=cmd)


def parse_ncu_csv(text: str) -> list:
    """Parse ``ncu --csv --page raw`` output into (kernel, metric, value, unit) rows."""
    lines = [ln for ln in text.splitlines() if ln.startswith('"')]
    if len(lines) < 2:
        return []
    reader = list(csv.reader(io.StringIO("\n".join(lines))))
    header, body = reader[0], reader[1:]
    units = body[0] if body and body[0] and body[0][0] == "" else None
    if units:
        body = body[1:]
    try:
        kcol = header.index("Kernel Name")
    except ValueError:
        return []
    rows = []
    for rec in body:
        for i, col in enumerate(header):
            if "__" not in col or i >= len(rec):
                continue
            raw = rec[i].replace(",", "")
            try:
                val = float(raw)
            except ValueError:
                continue
            rows.append((rec[kcol], col, val, units[i] if units and i < len(units) else ""))
    return rows


@contextlib.contextmanager
def _quiet_stderr():
    """Silence the process's stderr (file descriptor 2): some torch builds' profiler logs its start and
    stop from C++, which would land in the notebook between the tables."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def torch_profile(fn, *, steps: int = 5, row_limit: int = 12, sort_by: str | None = None) -> str:
    """Profile a few calls of ``fn`` with torch.profiler; return its table of top operators."""
    import torch
    from torch.profiler import ProfilerActivity, profile
    from perflab.machine import env
    gpu = env().tier == "gpu"
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if gpu else [])
    fn()                                   # warm-up outside the trace
    with _quiet_stderr(), profile(activities=acts) as prof:
        for _ in range(steps):
            fn()
        if gpu:
            torch.cuda.synchronize()
    key = sort_by or ("cuda_time_total" if gpu else "cpu_time_total")
    return prof.key_averages().table(sort_by=key, row_limit=row_limit)


def ncu_compare(cases: list, metrics: dict, timeout_s: float = 180):
    """One table row per (lab, variant, size) case, one column per metric, read by Nsight Compute.

    metrics: {column title: ncu metric name}. Where counters are unavailable the table says why once.

    Ratios of two metrics are written "a/b" in the metric name:
    ``{"sectors/request": "l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum/l1tex__t_requests_pipe_lsu_mem_global_op_ld.sum"}``.
    """
    from perflab.table import Table
    names = sorted({m for spec in metrics.values() for m in spec.split("/")})
    rows = []
    for lab, variant, size in cases:
        res = ncu(lab, variant, size=size, metrics=names, timeout_s=timeout_s)
        if not res.available:
            return Table(["Nsight Compute"], [[f"unavailable: {res.reason}"]],
                         notes=["the timing tables above are the counter-free view of the same effect"])
        row = [f"{lab}.{variant}"]
        for spec in metrics.values():
            parts = [_over_kernels(res, m) for m in spec.split("/")]
            val = parts[0] / parts[1] if len(parts) == 2 and parts[1] else parts[0]
            row.append("—" if val is None else f"{val:,.4g}")
        rows.append(row)
    return Table(["variant"] + list(metrics), rows, title="Nsight Compute counters (one call each)")


def _over_kernels(res: ProfileResult, metric: str) -> float | None:
    """One value for all the kernels of a call: counts (bytes, sectors, instructions) add up; percentages
    and rates are averaged, weighted by each kernel's duration where ncu measured it."""
    rows = [(k, v, u) for k, m, v, u in res.rows if m == metric]
    if not rows:
        return None
    if not _is_rate(metric, rows[0][2]):
        return sum(v for _, v, _ in rows)
    duration = {k: v for k, m, v, _ in res.rows if m == "gpu__time_duration.sum"}
    weights = [duration.get(k, 1.0) for k, _, _ in rows]
    return sum(w * v for w, (_, v, _) in zip(weights, rows)) / (sum(weights) or 1.0)


def _is_rate(metric: str, unit: str | None) -> bool:
    return (unit or "").strip() in ("%", "inst/cycle", "warp") or any(
        s in metric for s in (".pct", "per_second", ".ratio", "per_cycle"))
