"""Launch dist_bench.py under torchrun from the notebook, read its JSON, and show it as perflab Tables.

    res = launch.measure()          # 2 processes: NCCL on 2 GPUs, gloo on CPU; None on a 1-GPU machine
    pl.show(launch.allreduce_table(res))

The H200-pair reference is data/reference/nvidia-h200x2.json, written on a 2×H200 machine by
``python -m labs.ch04_distributed.launch --reference`` (the same JSON plus a manifest).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from perflab.distributed import REPO, child_env, gpu_count, run_torchrun, torchrun_command  # noqa: F401 (reused)
from perflab.table import Table

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "dist_bench.py"
REFERENCE = REPO / "data" / "reference" / "nvidia-h200x2.json"


def command(out: str, nproc: int = 2) -> list[str]:
    """The exact torchrun command line (single node)."""
    return torchrun_command(SCRIPT, ["--out", out], nproc)


def measure(timeout_s: int = 300, verbose: bool = True) -> dict | None:
    """Run the measurements in 2 processes; return the result dict, or None (and one line) if this
    machine has exactly one GPU or the launch failed."""
    n = gpu_count()
    if n == 1:
        print("needs 2 GPUs (or none: then gloo on 2 CPU processes); this machine has 1 GPU, so the "
              "measurement is skipped — the H200-pair reference below shows what 2 GPUs give")
        return None
    res = run_torchrun(SCRIPT, timeout_s=timeout_s, verbose=verbose)
    if res is None:
        return None
    if verbose:
        print(f"{res['world_size']} processes, backend {res['backend']} on {res['device']}, "
              f"measured in {res['wall_s']:.1f} s")
    return res


def reference() -> dict | None:
    """The H200-pair reference result, or None when it has not been recorded yet."""
    if not REFERENCE.exists():
        return None
    data = json.loads(REFERENCE.read_text())
    return data.get("ch04")


def reference_note() -> str:
    ref = reference()
    if ref is None:
        return f"H200-pair reference: not recorded yet ({REFERENCE.relative_to(REPO)} does not exist)"
    return f"H200-pair reference: {ref.get('world_size', 2)} × {ref.get('device', 'H200')}, backend {ref.get('backend')}"


def _size(b: float) -> str:
    return f"{b / (1 << 20):g} MiB" if b >= 1 << 20 else f"{b / 1024:g} KiB"


def _ms(s):
    return "—" if s is None else f"{s * 1e3:.3f}"


def allreduce_table(res: dict | None) -> Table:
    """All-reduce time, algbw and busbw per message size, yours beside the H200 pair."""
    ref = {r["bytes"]: r for r in (reference() or {}).get("allreduce", [])}
    mine = {r["bytes"]: r for r in (res or {}).get("allreduce", [])}
    rows = []
    for b in sorted(set(mine) | set(ref)):
        m, r = mine.get(b, {}), ref.get(b, {})
        rows.append([_size(b), _ms(m.get("median_s")), f"{m['algbw_gbps']:.3f}" if m else "—",
                     f"{m['busbw_gbps']:.3f}" if m else "—",
                     _ms(r.get("median_s")), f"{r['busbw_gbps']:.1f}" if r else "—"])
    who = f"{res['backend']}, {res['device']}" if res else "not measured here"
    return Table(["message", "time ms", "algbw GB/s", "busbw GB/s", "H200×2 ms", "H200×2 busbw GB/s"], rows,
                 title=f"All-reduce vs message size · yours: {who}",
                 notes=["algbw = bytes / time; busbw = algbw × 2(N−1)/N (with N = 2 ranks the two are equal)",
                        "median of the slowest rank per iteration; " + reference_note()])


def _step_rows(rows_mine, rows_ref, key, label):
    ref = {r[key]: r for r in rows_ref}
    base = rows_mine[0]["median_s"] if rows_mine else None
    out = []
    for r in rows_mine or rows_ref:
        rr = ref.get(r[key], {})
        mine = r if rows_mine else {}
        out.append([label(r[key]), _ms(mine.get("median_s")), f"{mine['p20_s'] * 1e3:.2f}–{mine['p80_s'] * 1e3:.2f}"
                    if mine else "—", *([f"{r['allreduces_per_step']:.1f}"] if "allreduces_per_step" in r else []),
                    _ms(rr.get("median_s"))])
    return out, base


def ddp_table(res: dict | None) -> Table:
    """Table 4-1, measured: compute only, all-reduce after backward, DDP overlapped."""
    mine, ref = (res or {}).get("ddp", []), (reference() or {}).get("ddp", [])
    rows, _ = _step_rows(mine, ref, "mode", str)
    src = res or reference() or {}
    return Table(["step", "time ms", "p20–p80 ms", "H200×2 ms"], rows,
                 title=f"One training step, {src.get('params', 0) / 1e6:.2f} M parameters "
                       f"({src.get('grad_bytes', 0) / 1e6:.1f} MB of fp32 gradients)",
                 notes=["exposed communication = step − compute only; overlap hides part of it under backward",
                        reference_note()])


def bucket_table(res: dict | None) -> Table:
    mine, ref = (res or {}).get("buckets", []), (reference() or {}).get("buckets", [])
    rows, _ = _step_rows(mine, ref, "bucket_cap_mb", lambda c: f"bucket_cap_mb={c:g}")
    return Table(["DDP", "time ms", "p20–p80 ms", "all-reduces/step", "H200×2 ms"], rows,
                 title="DDP step vs bucket size",
                 notes=["all-reduces/step counted by a DDP communication hook (one call per bucket)",
                        reference_note()])


def accum_table(res: dict | None) -> Table:
    mine, ref = (res or {}).get("accum", []), (reference() or {}).get("accum", [])
    k = (mine or ref or [{"micro_batches": 4}])[0]["micro_batches"]
    rows, _ = _step_rows(mine, ref, "no_sync",
                         lambda ns: f"{k} micro-batches, " + ("no_sync on the first {0}".format(k - 1) if ns
                                                              else "sync every backward"))
    return Table(["optimizer step", "time ms", "p20–p80 ms", "all-reduces/step", "H200×2 ms"], rows,
                 title="Gradient accumulation with and without no_sync()",
                 notes=["same work per optimizer step; no_sync skips the all-reduce on the first k−1 backward "
                        "passes", reference_note()])


def chart(res: dict | None):
    """Plotly: busbw vs message size, yours and the H200 pair (log–log). None without plotly."""
    try:
        import plotly.graph_objects as go
    except ImportError:
        return None
    fig = go.Figure()
    for name, r in (("yours", res), ("H200×2 reference", reference())):
        if r and r.get("allreduce"):
            xs = [a["bytes"] for a in r["allreduce"]]
            fig.add_trace(go.Scatter(x=xs, y=[a["busbw_gbps"] for a in r["allreduce"]], mode="lines+markers",
                                     name=f"{name} ({r['backend']})"))
    fig.update_layout(xaxis_type="log", yaxis_type="log", xaxis_title="message bytes",
                      yaxis_title="bus bandwidth GB/s", height=360, title="All-reduce bus bandwidth")
    return fig


def chart_text(res: dict | None) -> str:
    """The chart's plain-text form: one bar per message size (busbw, log scale)."""
    import math
    rows = (res or {}).get("allreduce", [])
    if not rows:
        return "(no all-reduce measured here: see the H200-pair reference)"
    top = max(math.log10(r["busbw_gbps"] * 1e3 + 1) for r in rows)
    return "\n".join(f"{_size(r['bytes']):>9}  " + "█" * max(1, round(30 * math.log10(r["busbw_gbps"] * 1e3 + 1) / top))
                     + f" {r['busbw_gbps']:.3g} GB/s busbw" for r in rows)


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description="record the 2-GPU reference for Chapter 4")
    ap.add_argument("--reference", action="store_true", help=f"write {REFERENCE.relative_to(REPO)}")
    a = ap.parse_args(argv)
    res = measure()
    if res is None:
        return 1
    if a.reference:
        from perflab.results import manifest
        data = json.loads(REFERENCE.read_text()) if REFERENCE.exists() else {"records": []}
        data.update(manifest=manifest(), ch04=res)              # other chapters' keys stay
        REFERENCE.write_text(json.dumps(data, indent=1) + "\n")
        print("wrote", REFERENCE)
    else:
        for t in (allreduce_table(res), ddp_table(res), bucket_table(res), accum_table(res)):
            print(t, "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
