"""Start dist_train.py (DDP vs FSDP on the chapter's tiny transformer) under torchrun, with Chapter 4's
launcher helpers, and turn its JSON into perflab Tables.

    res = dist_launch.measure()      # a DistTrain: 2 processes, NCCL on 2 GPUs, gloo on CPU; None on 1 GPU
    pl.show(dist_launch.table(res))  # memory, time and communication per rank, beside the H200 pair
    pl.show(dist_launch.loss_table(res))

The H200-pair reference sits under the key ``"ch13_ddp_fsdp"`` of data/reference/nvidia-h200x2.json (the
file Chapter 4 writes; its ``"ch04"`` entry is kept), added on a 2-GPU machine by
``python -m labs.ch13_profiling_pytorch.dist_launch --reference``.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from labs.ch04_distributed import launch
from labs.ch13_profiling_pytorch.dist_train import DistTrain, StrategyRun
from perflab.distributed import gpu_count, run_torchrun
from perflab.table import Table

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "dist_train.py"
KEY = "ch13_ddp_fsdp"
# Losses must match the 1-process run within this relative difference, at every step. All three runs are
# fp32 from the same weights and batches; only rounding differs (two half-batch gradients summed vs one
# whole-batch gradient: ~1e-7 relative), and AdamW's g/√v can grow it over the steps. NCCL gets more room:
# each rank's GEMMs have other shapes, hence other kernels, than the 1-process run's.
TOL = {"gloo": 1e-4, "nccl": 1e-3}
LABELS = {"single": "1 process, whole batch", "ddp": "DDP", "fsdp": "FSDP2 (fully_shard)"}


@dataclass(frozen=True)
class LossCheck:
    """One run's losses against the 1-process run's: the largest relative difference, the step where it
    happened, the tolerance, and whether every step is within it (a run cut short never is)."""
    max_rel: float
    step: int
    tol: float
    ok: bool


def measure(timeout_s: int = 150, verbose: bool = True, tier: str | None = None,
            bug: str = "none") -> DistTrain | None:
    """Run dist_train.py in 2 processes; what it measured, or None (and one line) on a machine with exactly
    one GPU (unless ``tier="cpu"``: gloo on CPU processes anywhere) or when the launch fails.
    ``bug="seed"`` plants a bug (rank 1 seeds with seed + 1) to show the loss check catching it."""
    if gpu_count() == 1 and tier != "cpu":
        print("DDP vs FSDP needs 2 GPUs (or none: then gloo on 2 CPU processes); this machine has 1 GPU, so "
              "the run is skipped — the table shows the H200-pair reference where it has been recorded")
        return None
    args = (["--tier", tier] if tier else []) + (["--bug", bug] if bug != "none" else [])
    data = run_torchrun(SCRIPT, args, timeout_s=timeout_s, verbose=verbose)
    res = DistTrain.from_json(data) if data is not None else None
    if res is not None and verbose:
        print(f"{res.world_size} processes, backend {res.backend} on {res.device}, torch {res.torch}, "
              f"{res.params:,} parameters, {res.config.steps} steps, measured in {res.wall_s:.1f} s")
        for r in res.runs:
            if r.error:
                print(f"{LABELS[r.strategy]} did not run: {r.error}")
    return res


def reference() -> DistTrain | None:
    """The H200-pair result for this chapter, or None when it has not been recorded yet."""
    if not launch.REFERENCE.exists():
        return None
    data = json.loads(launch.REFERENCE.read_text()).get(KEY)
    return DistTrain.from_json(data) if data else None


def reference_note() -> str:
    ref = reference()
    if ref is None:
        return (f"H200-pair reference: not recorded yet ({os.path.relpath(launch.REFERENCE, launch.REPO)} has no "
                f"{KEY!r} entry)")
    return f"H200-pair reference: {ref.world_size} × {ref.device}, {ref.backend}, torch {ref.torch}"


def _runs(res: DistTrain | None) -> dict[str, StrategyRun]:
    return res.by_strategy() if res else {}


def loss_check(res: DistTrain | None, tol: float | None = None) -> dict[str, LossCheck]:
    """{strategy: LossCheck}: each run's losses against the 1-process run's, step by step."""
    runs = _runs(res)
    if "single" not in runs or not runs["single"].losses:
        return {}
    tol = TOL.get(res.backend, 1e-3) if tol is None else tol
    ref = runs["single"].losses
    out = {}
    for name, r in runs.items():
        if name == "single" or not r.losses:
            continue
        diffs = [abs(a - b) / max(abs(b), 1e-12) for a, b in zip(r.losses, ref)]
        worst = max(range(len(diffs)), key=diffs.__getitem__)
        out[name] = LossCheck(max_rel=diffs[worst], step=worst, tol=tol,
                              ok=len(r.losses) == len(ref) and diffs[worst] <= tol)
    return out


def held(run: StrategyRun) -> list[int]:
    """Params + grads + optimizer-state bytes per rank."""
    return [s.total for s in run.state_bytes]


def sent_bytes(run: StrategyRun, world: int) -> float:
    """Bytes each rank sends in one step under the ring model: all-reduce 2(N−1)/N·B, all-gather (N−1)/N of
    the gathered B, reduce-scatter (N−1)/N of the input B."""
    share = (world - 1) / world
    return sum(c.bytes * share * (2 if kind == "all-reduce" else 1) for kind, c in run.collectives.items())


def _kb(b) -> str:
    return _per_rank([b])


def _per_rank(values: list) -> str:
    """One value when every rank holds the same, else 'rank 0 / rank 1', in one unit (KiB or MiB)."""
    if not values or None in values:
        return "—"
    scale, unit = (2**20, "MiB") if max(values) >= 2**20 else (1024, "KiB")
    shown = values[:1] if len(set(values)) == 1 else values
    return " / ".join(f"{v / scale:,.1f}" for v in shown) + f" {unit}"


def _ms(r: StrategyRun) -> str:
    return f"{r.median_s * 1e3:.2f} ({r.p20_s * 1e3:.1f}–{r.p80_s * 1e3:.1f})"


def _comm(r: StrategyRun, world: int) -> str:
    if not r.collectives:
        return "none"
    calls = " + ".join(f"{k} ×{c.calls}" for k, c in sorted(r.collectives.items()))
    return f"{calls} · {_kb(sent_bytes(r, world))}"


def table(res: DistTrain | None) -> Table:
    """Per strategy: bytes held per rank, peak, step time, collectives, loss check; the H200 pair beside.
    Without a measurement (a 1-GPU machine) the rows are the H200 pair's, when recorded."""
    ref = reference()
    src = res or ref
    beside = res is not None                   # H200 columns only next to a measurement of your own
    runs, ref_runs, check = _runs(src), _runs(ref), loss_check(src)
    world = src.world_size if src else 2
    rows = []
    for name in ("single", "ddp", "fsdp"):
        r, rr = runs.get(name), ref_runs.get(name)
        ok = check.get(name)
        verdict = ("reference" if name == "single" and r and r.losses else
                   f"{'✅' if ok.ok else '❌'} {ok.max_rel:.1e}" + ("" if ok.ok else f" (step {ok.step})")
                   if ok else "—")
        if r and r.state_bytes:
            peak = _per_rank(list(r.peak_bytes)) if r.peak_bytes else _per_rank(held(r)) + " (walked)"
            row = [f"{r.ranks} × {r.batch_per_rank}",
                   *(_per_rank([getattr(s, k) for s in r.state_bytes]) for k in ("params", "grads", "optimizer")),
                   peak, _ms(r), _comm(r, world), verdict]
        else:
            row = [(r.error if r and r.error else "not run here")[:60]] + ["—"] * 7
        if beside:
            row += [_per_rank(list(rr.peak_bytes)) if rr and rr.peak_bytes else "—",
                    f"{rr.median_s * 1e3:.2f}" if rr and rr.median_s is not None else "—"]
        rows.append([LABELS[name], *row])
    who = (f"yours: {res.backend}, {res.device}" if res else
           f"H200-pair reference ({ref.backend}, {ref.device}); nothing measured here" if ref else
           "not measured here")
    notes = ["per rank, after the last step; two numbers = rank 0 / rank 1 (dim-0 chunks of odd sizes differ by a row)"]
    d, f = runs.get("ddp"), runs.get("fsdp")
    if d and d.state_bytes and f and f.state_bytes:
        notes.append(f"FSDP holds {max(held(f)) / max(held(d)):.1%} of DDP's params + grads + optimizer state per "
                     f"rank (1/N = {1 / world:.0%}); it sends {sent_bytes(f, world) / sent_bytes(d, world):.2f}× "
                     "DDP's bytes per step")
    if src and src.backend == "gloo":
        notes.append("peak: the CPU allocator keeps no peak counter, so this column is params + grads + optimizer "
                     "state (walked), without activations; on a GPU it is torch.cuda.max_memory_allocated")
        notes.append("gloo runs reduce-scatter as an all-reduce underneath; the ring model's bytes are what NCCL moves")
    elif src:
        notes.append("peak: torch.cuda.max_memory_allocated per rank, from building the model to the last step "
                     "(activations included: peak − the state bytes ≈ what the step's activations need)")
    notes.append("step ms: median (p20–p80) of the slowest rank; collectives of one steady-state step counted by "
                 "torch.profiler; bytes sent per rank by the ring model")
    if check:
        notes.append(f"loss vs 1 process: largest relative difference over every step; tolerance "
                     f"{next(iter(check.values())).tol:g} (fp32, {src.backend})")
    notes.append(reference_note())
    columns = ["run", "ranks × batch", "params/rank", "grads/rank", "AdamW state/rank", "peak/rank", "step ms",
               "collectives per step · sent/rank", "loss vs 1 process"]
    columns += ["H200×2 peak", "H200×2 ms"] if beside else []
    return Table(columns, rows, f"DDP vs FSDP on the tiny transformer · {who}", notes)


def loss_table(res: DistTrain | None) -> Table:
    """The loss of every step: 1 process, DDP, FSDP (yours, or the H200 pair's when not measured here)."""
    src = res if _runs(res) else reference()
    runs = _runs(src)
    names = [n for n in ("single", "ddp", "fsdp") if n in runs and runs[n].losses]
    steps = len(runs[names[0]].losses) if names else 0
    rows = [[str(i)] + [f"{runs[n].losses[i]:.6f}" for n in names] for i in range(steps)]
    where = ("yours" if src is res else "H200-pair reference") if src else "nothing measured or recorded"
    return Table(["step"] + [LABELS[n] for n in names], rows, f"Loss of every step (global-batch mean) · {where}",
                 [f"same seed, same weights, same batches; {src.backend if src else '—'}, fp32"])


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description="DDP vs FSDP on 2 ranks; record the 2-GPU reference for Chapter 13")
    ap.add_argument("--reference", action="store_true",
                    help=f"add the result under {KEY!r} to {os.path.relpath(launch.REFERENCE, launch.REPO)}")
    a = ap.parse_args(argv)
    res = measure()
    if res is None:
        return 1
    if a.reference:
        from perflab.results import manifest
        path = launch.REFERENCE
        data = json.loads(path.read_text()) if path.exists() else {"manifest": manifest(), "records": []}
        data[KEY] = {**res.to_json(), "manifest": manifest()}
        path.write_text(json.dumps(data, indent=1) + "\n")
        print(f"wrote {KEY!r} into", path)
    print(table(res), "\n")
    print(loss_table(res))
    return 0 if all(c.ok for c in loss_check(res).values()) else 2


if __name__ == "__main__":
    sys.exit(main())
