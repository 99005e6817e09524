"""Nsight Compute counters for the memory-bound variants under the 85% gate, beside a plain copy.

    python -m labs.gate_counters [--only ch07.transpose]

One ncu run per variant at its lab's default GPU size (about 5 s each, under a minute in all): DRAM
throughput, DRAM bytes over the lab's minimum (re-reads, partial sectors), sectors per load request
(4 is a fully used 128-byte request of 4-byte loads; 2 for 2-byte loads), achieved occupancy and
registers per thread. These are the numbers a GATE_NOTE quotes.
"""
from __future__ import annotations

import argparse

import perflab as pl
from perflab.nsight import ncu
from perflab.table import Table

# (lab, variant): the variants the memory gate measures that stay under it, and the copy that sets it
CASES = [("ch07.copy_ladder", "coalesced"),      # a kernel: torch_copy is a cudaMemcpy, which ncu does not profile
         ("ch07.transpose", "triton_tiled"),
         ("ch18.kv_transfer", "triton_gather"),
         ("ch19.w8_gemv", "int8_triton"),
         ("ch19.w8_gemv", "fp8_scaled_mm"),
         ("ch10.cluster", "cuda_cluster_dsmem"),
         ("ch00.scale_shift", "triton_fused"),
         ("ch18.paged_decode", "triton_paged")]

METRICS = {"time": "gpu__time_duration.sum",
           "dram_pct": "dram__throughput.avg.pct_of_peak_sustained_elapsed",
           "dram_read": "dram__bytes_read.sum", "dram_write": "dram__bytes_write.sum",
           "sectors": "l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum",
           "requests": "l1tex__t_requests_pipe_lsu_mem_global_op_ld.sum",
           "occupancy": "sm__warps_active.avg.pct_of_peak_sustained_active",
           "regs": "launch__registers_per_thread"}
# ncu scales its units (Kbyte, usecond, ...) unless told not to: back to bytes and seconds
# (ncu 2025 prints durations as "ns"/"us"; older releases as "nsecond"/"usecond")
UNIT = {"byte": 1, "kbyte": 1e3, "mbyte": 1e6, "gbyte": 1e9, "nsecond": 1e-9, "usecond": 1e-6,
        "msecond": 1e-3, "second": 1, "ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1,
        "nanosecond": 1e-9, "microsecond": 1e-6, "millisecond": 1e-3}
SCALED = ("time", "dram_read", "dram_write")      # a duration or a byte count: its unit must be known
ADDED = ("time", "dram_read", "dram_write", "sectors", "requests")      # summed over a call's kernels


def values(res) -> dict:
    """One value per metric for all kernels of one profiled call: counts add up, rates and percentages are
    averaged weighted by each kernel's time, registers are the largest."""
    per = {}
    for kernel, metric, value, unit in res.rows:
        u = unit.strip().lower()
        if u not in UNIT and metric in (METRICS[k] for k in SCALED):
            raise ValueError(f"ncu reported {metric} in {unit!r}, a unit gate_counters does not know: add it to "
                             f"UNIT in labs/gate_counters.py")
        per.setdefault(metric, []).append((kernel, value * UNIT.get(u, 1)))
    time = dict(per.get(METRICS["time"], []))
    out = {}
    for key, metric in METRICS.items():
        vals = per.get(metric)
        if not vals:
            out[key] = None
        elif key in ADDED:
            out[key] = sum(v for _, v in vals)
        elif key == "regs":
            out[key] = max(v for _, v in vals)
        else:
            w = [time.get(k, 1.0) for k, _ in vals]
            out[key] = sum(wi * v for wi, (_, v) in zip(w, vals)) / (sum(w) or 1.0)
    return out


def row(lab_name: str, variant: str, v: dict) -> list:
    lab = pl.load(lab_name)
    minimum = lab.bytes(lab.SIZES["gpu"][0], lab.DTYPES[0])
    fmt = lambda x, f: "—" if x is None else f.format(x)  # noqa: E731
    moved = None if v["dram_read"] is None or v["dram_write"] is None else v["dram_read"] + v["dram_write"]
    per_request = v["sectors"] / v["requests"] if v["sectors"] is not None and v["requests"] else None
    return [f"{lab_name}.{variant}", fmt(v["time"] and v["time"] * 1e6, "{:,.1f}"), fmt(v["dram_pct"], "{:.0f}"),
            fmt(moved and moved / minimum, "{:.2f}×"), fmt(per_request, "{:.1f}"), fmt(v["occupancy"], "{:.0f}"),
            fmt(v["regs"], "{:.0f}")]


def table(cases=CASES) -> Table:
    """ncu's counters per case, with DRAM bytes over the bytes the lab counts as its minimum."""
    rows = []
    for lab_name, variant in cases:
        res = ncu(lab_name, variant, metrics=list(METRICS.values()), timeout_s=60)
        if not res.available:
            rows.append([f"{lab_name}.{variant}", f"unavailable: {res.reason}"] + [""] * 5)
            continue
        rows.append(row(lab_name, variant, values(res)))
    return Table(["variant", "time (µs)", "DRAM % of peak", "DRAM bytes / minimum", "sectors/request",
                  "occupancy %", "regs/thread"], rows,
                 title="Gated kernels: Nsight Compute counters at each lab's default GPU size (one call each)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="one lab (e.g. ch07.transpose); the copy row is always kept")
    a = ap.parse_args(argv)
    if pl.env().tier != "gpu":
        print("the gate counters need a CUDA GPU and Nsight Compute (this is the cpu tier): nothing measured")
        return 2
    cases = [c for c in CASES if a.only is None or c[0] in (a.only, "ch07.copy_ladder")]
    if len(cases) < 2 and a.only:
        raise ValueError(f"no gated variant in lab {a.only!r}; labs: {sorted({c[0] for c in CASES[1:]})}")
    print(table(cases))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
