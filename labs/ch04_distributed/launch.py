"""Launch dist_bench.py under torchrun from the notebook, read its JSON, and show it as perflab Tables.

    res = launch.measure()          # a DistBench: 2 processes, NCCL on 2 GPUs, gloo on CPU; None on a 1-GPU machine
    pl.show(launch.allreduce_table(res))

The H200-pair reference is data/reference/nvidia-h200x2.json, written on a 2×H200 machine by
``python -m labs.ch04_distributed.launch --reference`` (the same JSON plus a manifest).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from perflab.distributed import REPO, child_env, gpu_count, run_torchrun  # noqa: F401 (reused)
from perflab.table import Table

from labs.ch04_distributed.dist_bench import DistBench

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "dist_bench.py"
REFERENCE = REPO / "data" / "reference" / "nvidia-h200x2.json"


def measure(timeout_s: int = 300, verbose: bool = True) -> DistBench | None:
    """Run the measurements in 2 processes; return what they measured, or None (and one line) if this
    machine has exactly one GPU or the launch failed."""
    n = gpu_count()
    if n == 1:
        print("needs 2 GPUs (or none: then gloo on 2 CPU processes); this machine has 1 GPU, so the "
              "measurement is skipped — the H200-pair reference below shows what 2 GPUs give")
        return None
    data = run_torchrun(SCRIPT, timeout_s=timeout_s, verbose=verbose)
    if data is None:
        return None
    res = DistBench.from_json(data)
    if verbose:
        print(f"{res.world_size} processes, backend {res.backend} on {res.device}, measured in {res.wall_s:.1f} s")
    return res


def reference() -> DistBench | None:
    """The H200-pair reference result, or None when it has not been recorded yet."""
    if not REFERENCE.exists():
        return None
    data = json.loads(REFERENCE.read_text()).get("ch04")
    return DistBench.from_json(data) if data else None


def reference_note() -> str:
    ref = reference()
    if ref is None:
        return f"H200-pair reference: not recorded yet ({REFERENCE.relative_to(REPO)} does not exist)"
    return f"H200-pair reference: {ref.world_size} × {ref.device}, backend {ref.backend}"


def _size(b: float) -> str:
    return f"{b / (1 << 20):g} MiB" if b >= 1 << 20 else f"{b / 1024:g} KiB"


def _ms(s):
    return "—" if s is None else f"{s * 1e3:.3f}"


def _rows(res: DistBench | None, experiment: str) -> tuple:
    return getattr(res, experiment) if res else ()


def allreduce_table(res: DistBench | None) -> Table:
    """All-reduce time, algbw and busbw per message size, yours beside the H200 pair."""
    ref = {r.bytes: r for r in _rows(reference(), "allreduce")}
    mine = {r.bytes: r for r in _rows(res, "allreduce")}
    rows = []
    for b in sorted(set(mine) | set(ref)):
        m, r = mine.get(b), ref.get(b)
        rows.append([_size(b), _ms(m and m.median_s), f"{m.algbw_gbps:.3f}" if m else "—",
                     f"{m.busbw_gbps:.3f}" if m else "—",
                     _ms(r and r.median_s), f"{r.busbw_gbps:.1f}" if r else "—"])
    who = f"{res.backend}, {res.device}" if res else "not measured here"
    return Table(["message", "time ms", "algbw GB/s", "busbw GB/s", "H200×2 ms", "H200×2 busbw GB/s"], rows,
                 title=f"All-reduce vs message size · yours: {who}",
                 notes=["algbw = bytes / time; busbw = algbw × 2(N−1)/N (with N = 2 ranks the two are equal)",
                        "median of the slowest rank per iteration; " + reference_note()])


def _step_rows(rows_mine, rows_ref, key, label):
    ref = {getattr(r, key): r for r in rows_ref}
    out = []
    for r in rows_mine or rows_ref:
        rr = ref.get(getattr(r, key))
        mine = r if rows_mine else None
        out.append([label(getattr(r, key)), _ms(mine and mine.median_s),
                    f"{mine.p20_s * 1e3:.2f}–{mine.p80_s * 1e3:.2f}" if mine else "—",
                    *([f"{r.allreduces_per_step:.1f}"] if hasattr(r, "allreduces_per_step") else []),
                    _ms(rr and rr.median_s)])
    return out


def ddp_table(res: DistBench | None) -> Table:
    """Table 4-1, measured: compute only, all-reduce after backward, DDP overlapped."""
    rows = _step_rows(_rows(res, "ddp"), _rows(reference(), "ddp"), "mode", str)
    src = res or reference()
    params, grad_bytes = (src.params, src.grad_bytes) if src else (0, 0)
    return Table(["step", "time ms", "p20–p80 ms", "H200×2 ms"], rows,
                 title=f"One training step, {params / 1e6:.2f} M parameters "
                       f"({grad_bytes / 1e6:.1f} MB of fp32 gradients)",
                 notes=["exposed communication = step − compute only; overlap hides part of it under backward",
                        reference_note()])


def bucket_table(res: DistBench | None) -> Table:
    mine, ref = _rows(res, "buckets"), _rows(reference(), "buckets")
    rows = _step_rows(mine, ref, "bucket_cap_mb", lambda c: f"bucket_cap_mb={c:g}")
    return Table(["DDP", "time ms", "p20–p80 ms", "all-reduces/step", "H200×2 ms"], rows,
                 title="DDP step vs bucket size",
                 notes=["all-reduces/step counted by a DDP communication hook (one call per bucket)",
                        reference_note()])


def accum_table(res: DistBench | None) -> Table:
    mine, ref = _rows(res, "accum"), _rows(reference(), "accum")
    k = (mine or ref)[0].micro_batches if mine or ref else 4
    rows = _step_rows(mine, ref, "no_sync",
                      lambda ns: f"{k} micro-batches, " + ("no_sync on the first {0}".format(k - 1) if ns
                                                           else "sync every backward"))
    return Table(["optimizer step", "time ms", "p20–p80 ms", "all-reduces/step", "H200×2 ms"], rows,
                 title="Gradient accumulation with and without no_sync()",
                 notes=["same work per optimizer step; no_sync skips the all-reduce on the first k−1 backward "
                        "passes", reference_note()])


def chart(res: DistBench | None):
    """Plotly: busbw vs message size, yours and the H200 pair (log–log). None without plotly."""
    try:
        import plotly.graph_objects as go
    except ImportError:
        return None
    fig = go.Figure()
    for name, r in (("yours", res), ("H200×2 reference", reference())):
        if r and r.allreduce:
            xs = [a.bytes for a in r.allreduce]
            fig.add_trace(go.Scatter(x=xs, y=[a.busbw_gbps for a in r.allreduce], mode="lines+markers",
                                     name=f"{name} ({r.backend})"))
    fig.update_layout(xaxis_type="log", yaxis_type="log", xaxis_title="message bytes",
                      yaxis_title="bus bandwidth GB/s", height=360, title="All-reduce bus bandwidth")
    return fig


def chart_text(res: DistBench | None) -> str:
    """The chart's plain-text form: one bar per message size (busbw, log scale)."""
    import math
    rows = _rows(res, "allreduce")
    if not rows:
        return "(no all-reduce measured here: see the H200-pair reference)"
    top = max(math.log10(r.busbw_gbps * 1e3 + 1) for r in rows)
    return "\n".join(f"{_size(r.bytes):>9}  " + "█" * max(1, round(30 * math.log10(r.busbw_gbps * 1e3 + 1) / top))
                     + f" {r.busbw_gbps:.3g} GB/s busbw" for r in rows)


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
        data.update(manifest=manifest(), ch04=res.to_json())    # other chapters' keys stay
        REFERENCE.write_text(json.dumps(data, indent=1) + "\n")
        print("wrote", REFERENCE)
    else:
        for t in (allreduce_table(res), ddp_table(res), bucket_table(res), accum_table(res)):
            print(t, "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
