"""Chapter 14's book check: the PTX claim (L5592), the graph-break fixes (L5612–L5614), dynamic shapes (L5572)
and the compile modes (L5556, L5560, L5619–L5626), against explain(), counters and timings measured here."""
from __future__ import annotations

import torch

import perflab as pl
from perflab import book, results
from perflab.table import Table

from labs.ch14_compiler import breaks, modes, ptx, shapes, triton_matmul


def _list_append(x, w):
    out = []
    for i in range(3):
        out.append((x[i] @ w) * i)              # the book's "append to a Python list" pattern
    return torch.stack(out)


def _ptx_rows():
    gpu = triton_matmul.COMPILED.get("float16") or triton_matmul.COMPILED.get("float32")
    here = "—"
    if gpu is not None:
        c = ptx.count(gpu.asm["ptx"])
        here = f"ran here: {c['wgmma']} wgmma, {c['mma_sync']} mma.sync ({pl.env().device})"
    s90, s80 = ptx.offline(90, "fp16"), ptx.offline(80, "fp16")
    off = (f"compiled offline (not run): sm_90 {s90.wgmma} wgmma / {s90.mma_sync} mma.sync; "
           f"sm_80 {s80.wgmma} wgmma / {s80.mma_sync} mma.sync" if s90 and s80 else "offline compile unavailable")
    return here if gpu is not None else off, off


def _speedup_ref() -> str:
    ratio = book.ratio(results.reference("ch14.graph_breaks"), "ch14.graph_breaks", "compiled_broken", "compiled_fixed")
    return "— (no H200 record yet)" if ratio is None else f"fixed {ratio:.2f}× faster than broken"


def table(breaks_run=None) -> Table:
    """The claims, what this machine shows, the H200 reference, and why."""
    inp = breaks.example_inputs()
    relu_ = breaks.explain(breaks.inplace_relu_, **inp)
    app = breaks.explain(_list_append, **inp)
    branch = breaks.explain(breaks.branch_broken, **inp)
    ours_ptx, off_ptx = _ptx_rows()
    static, _ = shapes.compiles("dynamic=False")
    dyn, calls = shapes.compiles("mark_dynamic")
    fixed = book.ratio(book.records_of(breaks_run), "ch14.graph_breaks", "compiled_broken", "compiled_fixed")
    here = f"; fixed {fixed:.2f}× faster than broken ({breaks_run.device})" if fixed else "—"
    m = modes.LAST
    mode_txt = ("; ".join(f"{k}: compile {m[k][1]}, steady {m[k][2]}" for k in ("default", "max-autotune") if k in m)
                or "run the modes cell first")
    if "max-autotune" not in m:
        mode_txt += " (max-autotune: in the deep dive, ch14_compiler_deep.ipynb)"
    rows = [
        ["L5592 · tl.dot shows up as mma.sync in the PTX", "mma.sync", ours_ptx, "the reference run's Lab 4 PTX cell",
         "true up to Ampere/Ada; on Hopper (sm_90) Triton lowers tl.dot to the warpgroup wgmma.mma_async instead"
         + ("" if ours_ptx == off_ptx else f" ({off_ptx})")],
        ["L5612 · x.relu_() → x = x.relu() to avoid a break", "a break", f"relu_(): {relu_.graphs} graph, {relu_.breaks} breaks",
         "same on any device (tracing)", "torch 2.x functionalizes in-place ops; they still matter for CUDA graphs and "
         "mutated inputs (L5586), not for breaks"],
        ["L5613 · appending to a Python list → preallocate / torch.stack", "a break",
         f"list.append loop: {app.graphs} graph, {app.breaks} breaks", "same on any device",
         "dynamo unrolls a fixed-trip loop over a local list; a list that grows with data would still break"],
        ["L5614 · if tensor.sum() > 0 → torch.where / torch.cond", "a break",
         f"{branch.graphs} graphs, {branch.breaks} break → 1 graph, 0 breaks with torch.where{here}", _speedup_ref(),
         "agrees: Python needs a bool, so the graph ends at the test"],
        ["L5572 · mark_dynamic avoids a recompile per shape", "fewer recompiles",
         f"{calls} batch sizes: {static} graphs static, {dyn} with mark_dynamic", "same on any device", "agrees"],
        ["L5556, L5624 · max-autotune: longest compile, fastest kernels", "slower compile, faster run", mode_txt,
         "the reference run's modes tables", "on a CPU there are no Triton GEMM templates to try, so the modes make much the "
         "same code and their compile times differ by noise; on a GPU max-autotune benchmarks Triton GEMM configs, "
         "which is where its longer compile comes from"],
        ["L5560, L5623 · reduce-overhead replays CUDA graphs", "less launch overhead",
         "cpu: no CUDA graphs, same as default" if pl.env().tier == "cpu" else "see the modes table",
         "the reference run's modes table", "CUDA graphs need a GPU; they pay off when a step is many small launches"],
    ]
    return book.table(rows, "Book check · Chapter 14 compiler and Triton", f"ours ({pl.env().device})")
