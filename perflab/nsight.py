"""Profilers through perflab: Nsight Compute on a lab variant, nsys where it works, torch.profiler.

Hardware counters are often unavailable (no ncu, a cloud host without counter permission, the cpu
tier). Every function here returns a result that says "unavailable: <reason>" instead of raising.
"""
from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import shutil
import subprocess
import sys
import warnings
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
    return ncu_cases([(lab, variant, size)], metrics=metrics, timeout_s=timeout_s)[0]


def ncu_cases(cases: list, metrics: "str | list[str]" = "memory", timeout_s: float = 180,
              kernel_regex: str | None = None) -> list:
    """Nsight Compute on one call of each (lab, variant, size) case, all in ONE profiled child process.

    One ProfileResult per case, in order. The child (perflab.profile_target) warms each case up outside
    the NVTX ranges, then runs it once inside ``perflab`` / ``perflab-case-<i>``; the rows are split by
    that range, so Python, torch and CUDA start up once for the whole table, not once a case.
    ``timeout_s`` bounds the whole child. ``kernel_regex`` profiles only kernels whose name matches.
    If this ncu prints no NVTX column to split by, each case runs in its own child instead.
    """
    from perflab.machine import env
    from perflab.profile_target import FAILED, format_case
    cases = [tuple(c) for c in cases]
    if not cases or any(len(c) != 3 for c in cases):
        raise ValueError(f"cases must be a non-empty list of (lab, variant, size) triples, got {cases!r}")
    if env().tier != "gpu":
        return _all(cases, ProfileResult(False, "the cpu tier has no GPU counters; the timing tables stand in"))
    exe = find("ncu")
    if exe is None:
        return _all(cases, ProfileResult(False, "ncu is not installed (it ships with the CUDA toolkit / "
                                                "Nsight Compute)"))
    names = METRIC_SETS[metrics] if isinstance(metrics, str) else list(metrics)
    cmd = [exe, "--clock-control", "none", "--csv", "--page", "raw", "--nvtx",
           "--nvtx-include", "perflab/", *(["-k", f"regex:{kernel_regex}"] if kernel_regex else []),
           "--metrics", ",".join(names), sys.executable, "-m", "perflab.profile_target",
           *[a for c in cases for a in ("--case", format_case(*c))]]
    try:        # its own process group: on a timeout ncu and the program it profiles are both killed
        out = proctree.run(cmd, timeout=timeout_s, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    except subprocess.TimeoutExpired:
        return _all(cases, ProfileResult(False, f"ncu took longer than {timeout_s:.0f} s; it and the profiled "
                                                f"program were stopped", command=cmd))
    text = out.stdout + out.stderr
    if "ERR_NVGPUCTRPERM" in text:
        return _all(cases, ProfileResult(False, "this host does not let users read GPU counters "
                                                "(ERR_NVGPUCTRPERM); an administrator must allow it", command=cmd))
    per_case = parse_ncu_cases(out.stdout, len(cases))
    if per_case is None and len(cases) > 1:   # rows this ncu did not label by range: a child per case
        return [ncu_cases([c], names, timeout_s, kernel_regex)[0] for c in cases]
    tail = " ".join(text.strip().splitlines()[-3:])[:300]
    results = []
    for i, rows in enumerate(per_case):
        failed = [ln for ln in text.splitlines() if ln.startswith(FAILED.format(i))]
        if rows:
            results.append(ProfileResult(True, rows=rows, command=cmd))
        elif failed:
            results.append(ProfileResult(False, f"the profiled call failed: {failed[0][len(FAILED.format(i)):]}",
                                         command=cmd))
        else:
            results.append(ProfileResult(False, f"ncu returned no metrics (exit {out.returncode}): {tail}",
                                         command=cmd))
    return results


def _all(cases: list, result: ProfileResult) -> list:
    return [result for _ in cases]


def _raw_table(text: str):
    """``ncu --csv --page raw`` output → (header, units or None, records), or None without a table."""
    lines = [ln for ln in text.splitlines() if ln.startswith('"')]
    if len(lines) < 2:
        return None
    reader = list(csv.reader(io.StringIO("\n".join(lines))))
    header, body = reader[0], reader[1:]
    units = body[0] if body and body[0] and body[0][0] == "" else None
    if units:
        body = body[1:]
    if "Kernel Name" not in header:
        return None
    return header, units, body


def _record_rows(header: list, units, rec: list) -> list:
    """One kernel's (kernel, metric, value, unit) rows from one CSV record."""
    kcol = header.index("Kernel Name")
    rows = []
    for i, col in enumerate(header):
        if "__" not in col or i >= len(rec):
            continue
        try:
            val = float(rec[i].replace(",", ""))
        except ValueError:
            continue
        rows.append((rec[kcol], col, val, units[i] if units and i < len(units) else ""))
    return rows


def parse_ncu_cases(text: str, n: int) -> "list[list] | None":
    """Split ``ncu --csv --page raw --nvtx`` rows by the ``perflab-case-<i>`` range each kernel ran in.

    ``n`` lists of (kernel, metric, value, unit) rows (empty for a case with no kernel). None when the
    kernels cannot be told apart: several cases but no NVTX column, or no kernel labelled with a case.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n is the number of cases profiled (1 or more), got {n!r}")
    table = _raw_table(text)
    per_case = [[] for _ in range(n)]
    if table is None:
        return per_case
    header, units, body = table
    cols = [i for i, h in enumerate(header) if "Push/Pop_Range" in h]      # none: no kernel is labelled
    labelled = 0
    for rec in body:
        found = [int(m) for c in cols if c < len(rec) for m in _CASE_ID.findall(rec[c])]
        if not found or found[-1] >= n:
            continue                      # a kernel outside the case ranges (the include filter lets none in)
        labelled += 1
        per_case[found[-1]] += _record_rows(header, units, rec)
    if labelled or not body:
        return per_case
    if n == 1:                            # one case: every kernel ncu let in is that case's
        per_case[0] = [row for rec in body for row in _record_rows(header, units, rec)]
        return per_case
    return None


_CASE_ID = re.compile(r"perflab-case-(\d+)")


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
    with _quiet_stderr(), warnings.catch_warnings(), profile(activities=acts) as prof:
        warnings.simplefilter("ignore", UserWarning)      # "Profiler clears events at the end of each cycle"
        for _ in range(steps):
            fn()
        if gpu:
            torch.cuda.synchronize()
    key = sort_by or ("cuda_time_total" if gpu else "cpu_time_total")
    return _narrow(prof.key_averages().table(sort_by=key, row_limit=row_limit, max_name_column_width=44))


NARROW_DROP = ("Self CPU %", "CPU total %", "CPU time avg", "Self CUDA %", "CUDA time avg", "Self XPU %",
               "XPU time avg", "Self Device %", "Device time avg")


def _narrow(table: str, drop=NARROW_DROP) -> str:
    """torch.profiler's table without its percentage and average columns, so it fits a notebook (~110
    characters on a GPU instead of ~200); the layout (dashes, header, rows, totals) is unchanged."""
    lines = table.splitlines()
    if len(lines) < 3 or not set(lines[0].strip()) <= {"-", " "}:
        return table
    spans, start = [], 0
    for seg in lines[0].split("  "):
        if seg:
            spans.append((start, start + len(seg)))
        start += len(seg) + 2
    names = re.split(r"\s{2,}", lines[1].strip())        # the header may overrun a column ("CUDA time avg")
    if len(names) != len(spans):
        return table
    keep = [(sp, name) for sp, name in zip(spans, names) if name not in drop]
    width = spans[-1][1]

    def cut(i, ln):
        if i == 1:
            return "  ".join(name.rjust(b - a) for (a, b), name in keep) + "  "
        return "  ".join(ln[a:b] for (a, b), _ in keep) + "  " if len(ln) >= width else ln   # short: the totals
    return "\n".join(cut(i, ln) for i, ln in enumerate(lines))


def ncu_compare(cases: list, metrics: dict, timeout_s: float = 180):
    """One table row per (lab, variant, size) case, one column per metric, read by Nsight Compute
    (every case in one profiled child process; ``timeout_s`` bounds that child).

    metrics: {column title: ncu metric name}. Where counters are unavailable the table says why once.

    Ratios of two metrics are written "a/b" in the metric name:
    ``{"sectors/request": "l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum/l1tex__t_requests_pipe_lsu_mem_global_op_ld.sum"}``.
    """
    from perflab.table import Table
    names = sorted({m for spec in metrics.values() for m in spec.split("/")})
    results = ncu_cases(cases, metrics=names, timeout_s=timeout_s)
    if not any(res.available for res in results):
        return Table(["Nsight Compute"], [[f"unavailable: {results[0].reason}"]],
                     notes=["the timing tables above are the counter-free view of the same effect"])
    rows = []
    for (lab, variant, size), res in zip(cases, results):
        row = [f"{lab}.{variant}"]
        if not res.available:
            rows.append(row + [f"unavailable: {res.reason}"[:60]] + ["—"] * (len(metrics) - 1))
            continue
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
