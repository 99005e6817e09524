"""Sweep the launch plan of the chapter's Triton row kernels (L2 norm, softmax, layernorm) on a GPU:
one pass vs a loop over the row, BLOCK, num_warps, programs per SM, as a fraction of the measured copy.

    python -m labs.ch09_arithmetic_intensity.launch_sweep [--json sweep.json]

The plan the labs use comes from ``_common.row_plan``; this is how to choose a better one on a new GPU.
"""
from __future__ import annotations

import argparse
import itertools
import json

import perflab as pl
from labs.ch09_arithmetic_intensity import l2norm, layernorm, softmax
from labs.ch09_arithmetic_intensity._common import RowPlan, _sms, row_plan
from perflab.table import Table

KERNELS = {"l2norm": l2norm, "softmax": softmax, "layernorm": layernorm}


def plans(cols: int, sms: int = 132) -> list[RowPlan]:
    """Launch plans to try for rows of ``cols`` elements: the whole row in registers with several warp
    counts, and loops over blocks with one program per row or a fixed grid of 1, 2 or 4 programs per SM."""
    whole = 1 << (cols - 1).bit_length()
    out = [RowPlan(whole, True, w) for w in (4, 8, 16, 32) if 8 <= whole // (32 * w) <= 64] if whole <= 32768 else []
    per_sm = (0, 1, 2, 4) if whole > 8192 else (0, 2)
    return out + [RowPlan(b, False, w, p * sms) for b, w, p in itertools.product((1024, 2048, 4096), (8, 16, 32), per_sm)
                  if b < whole and b // (32 * w) >= 2]


def _launch(name: str, inputs: dict, y, plan: RowPlan):
    mod = KERNELS[name]
    if name == "layernorm":
        return lambda: mod.launch(inputs["x"], inputs["w"], inputs["b"], y, plan)
    return lambda: mod.launch(inputs["x"], y, plan)


def sweep(name: str, size, dtype: str = "float32", rep_ms: float = 30) -> list[dict]:
    """GB/s of every plan for one kernel, size and dtype (GPU only)."""
    import torch
    mod = KERNELS[name]
    inputs = mod.make_inputs(size, "cuda", dtype, 0)
    y = torch.empty_like(inputs["x"])
    nbytes = mod.bytes(size, dtype)
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    rows = []
    for plan in plans(size[1], sms):
        m = pl.bench(_launch(name, inputs, y, plan), bytes=nbytes, rep_ms=rep_ms)
        rows.append({"kernel": name, "size": list(size), "dtype": dtype, "one_pass": plan.one_pass,
                     "block": plan.block, "warps": plan.num_warps, "per_sm": plan.programs // sms,
                     "median_s": m.median, "gbps": m.gbps})
    return rows


def table(rows: list[dict], copy_gbps: float) -> Table:
    """Per kernel, size and dtype: the best plan found and the plan the labs use now."""
    out = []
    for key in dict.fromkeys((r["kernel"], tuple(r["size"]), r["dtype"]) for r in rows):
        group = [r for r in rows if (r["kernel"], tuple(r["size"]), r["dtype"]) == key]
        best = max(group, key=lambda r: r["gbps"])
        cur = row_plan(key[1][1], key[0], key[2])
        per_sm = cur.programs // _sms()                                  # the plan's grid, counted per SM
        now = next((r for r in group if (r["one_pass"], r["block"], r["warps"], r.get("per_sm", 0)) ==
                    (cur.one_pass, cur.block, cur.num_warps, per_sm)), None)
        grid = lambda r: f", {r['per_sm']} per SM" if r.get("per_sm") else ""  # noqa: E731
        out.append([key[0], str(key[1]), key[2],
                    f"{'one pass' if best['one_pass'] else 'loop'} {best['block']}, {best['warps']} warps{grid(best)}",
                    f"{best['gbps'] / copy_gbps:.0%}", f"{now['gbps'] / copy_gbps:.0%}" if now else "—"])
    return Table(["kernel", "size", "dtype", "best plan", "best % of copy", "current plan % of copy"], out,
                 title="Triton row kernels: launch plans against the measured copy bandwidth")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", help="write every measured plan here")
    a = ap.parse_args(argv)
    if pl.env().tier != "gpu":
        print("the launch-plan sweep needs a CUDA GPU (this is the cpu tier): nothing measured")
        return 2
    rows = []
    for name, mod in KERNELS.items():
        for size in (mod.SIZES["gpu"][0], mod.SIZES["gpu"][-1]):
            for dtype in ("float32", "bfloat16"):
                rows += sweep(name, size, dtype)
    print(table(rows, pl.ceilings().copy_gbps))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
