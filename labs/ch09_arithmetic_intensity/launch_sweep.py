"""Sweep the launch plan of the chapter's Triton row kernels (L2 norm, softmax, layernorm) on a GPU:
one pass vs a loop over the row, BLOCK, num_warps, and report GB/s as a fraction of the measured copy.

    python -m labs.ch09_arithmetic_intensity.launch_sweep [--json sweep.json]

The plan the labs use comes from ``_common.row_plan``; this is how to choose a better one on a new GPU.
"""
from __future__ import annotations

import argparse
import itertools
import json

import perflab as pl
from labs.ch09_arithmetic_intensity import l2norm, layernorm, softmax
from labs.ch09_arithmetic_intensity._common import row_plan
from perflab.table import Table

KERNELS = {"l2norm": (l2norm, l2norm._l2norm_kernel), "softmax": (softmax, softmax._softmax_kernel),
           "layernorm": (layernorm, layernorm._layernorm_kernel)}


def plans(cols: int):
    """(one_pass, BLOCK, num_warps) to try for rows of ``cols`` elements."""
    whole = 1 << (cols - 1).bit_length()
    out = [(True, whole, w) for w in (2, 4, 8, 16, 32) if whole // (32 * w) <= 64] if whole <= 32768 else []
    return out + [(False, b, w) for b, w in itertools.product((1024, 2048, 4096), (4, 8, 16))]


def _launch(name: str, inputs: dict, y, plan):
    mod, kern = KERNELS[name]
    x = inputs["x"]
    rows, cols = x.shape
    args = [x] + ([inputs["w"], inputs["b"]] if name == "layernorm" else []) + [y, cols, x.stride(0)]
    args += [] if name == "softmax" else [mod.EPS]
    one_pass, block, warps = plan
    return lambda: kern[(rows,)](*args, BLOCK=block, ONE_PASS=one_pass, num_warps=warps)


def sweep(name: str, size, dtype: str = "float32", rep_ms: float = 30) -> list[dict]:
    """GB/s of every plan for one kernel, size and dtype (GPU only)."""
    import torch
    mod, _ = KERNELS[name]
    inputs = mod.make_inputs(size, "cuda", dtype, 0)
    y = torch.empty_like(inputs["x"])
    nbytes = mod.bytes(size, dtype)
    rows = []
    for plan in plans(size[1]):
        m = pl.bench(_launch(name, inputs, y, plan), bytes=nbytes, rep_ms=rep_ms)
        rows.append({"kernel": name, "size": list(size), "dtype": dtype, "one_pass": plan[0], "block": plan[1],
                     "warps": plan[2], "median_s": m.median, "gbps": m.gbps})
    return rows


def table(rows: list[dict], copy_gbps: float) -> Table:
    """Per kernel, size and dtype: the best plan found and the plan the labs use now."""
    out = []
    for key in dict.fromkeys((r["kernel"], tuple(r["size"]), r["dtype"]) for r in rows):
        group = [r for r in rows if (r["kernel"], tuple(r["size"]), r["dtype"]) == key]
        best = max(group, key=lambda r: r["gbps"])
        cur = row_plan(key[1][1])
        now = next((r for r in group if (r["one_pass"], r["block"], r["warps"]) ==
                    (cur.one_pass, cur.block, cur.num_warps)), None)
        out.append([key[0], str(key[1]), key[2],
                    f"{'one pass' if best['one_pass'] else 'loop'} {best['block']}, {best['warps']} warps",
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
    for name, (mod, _) in KERNELS.items():
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
