"""Warm-up cost vs steady state for decode: the first call apart from the per-token time, and the break-even.

A CUDA graph or a torch.compile'd step is faster per token but costs time before the first token
(capture; tracing and code generation). It pays off after

    break-even tokens = (first call of the fast way - first call of eager) / (eager per token - fast per token)

    >>> break_even(first_fast=0.050, first_eager=0.002, per_token_fast=1e-4, per_token_eager=1.1e-3)
    48
    >>> break_even(first_fast=9.0, first_eager=0.002, per_token_fast=1e-3, per_token_eager=1e-3) is None
    True
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import perflab as pl
import torch

from labs.ch19_adaptive_inference import decode_graph, engine
from perflab.measure import format_time


def break_even(first_fast: float, first_eager: float, per_token_fast: float, per_token_eager: float) -> int | None:
    """Tokens after which the fast path's extra first-call cost is repaid; None if it never is."""
    saving = per_token_eager - per_token_fast
    if saving <= 0:
        return None
    return max(0, math.ceil((first_fast - first_eager) / saving))


COMPILE_SIZE = {"gpu": (768, 2, 127), "cpu": (128, 2, 31)}   # GPT-2 width, 2 layers: a compile that fits a minute


@dataclass
class CompileResult:
    size: tuple
    eager: pl.Measurement
    compiled: pl.Measurement


def compiled(size=None, force: bool = False, seed: int = 5, rep_ms: float = 100) -> CompileResult | None:
    """torch.compile (default mode) of the bf16 decode step, cold: Dynamo reset and Inductor's caches off,
    so the first call pays tracing, code generation and the C++/Triton compile in full; with the eager
    step of the same model for the break-even.

    On the cpu tier it is skipped unless ``force``: a cold Inductor compile takes tens of seconds of a
    2-core CPU, more than this notebook's whole budget. It prints why and returns None.
    """
    import torch._dynamo as dynamo
    tier = pl.env().tier
    if tier != "gpu" and not force:
        print("torch.compile: skipped on the cpu tier (a cold Inductor compile of even a 2-layer step takes tens "
              "of seconds of a 2-core CPU); warmup.compiled(force=True) measures it. On a GPU it is timed here.")
        return None
    size = COMPILE_SIZE[tier] if size is None else size
    lab = pl.load("ch19.decode_graph")
    inp = lab.make_inputs(size, pl.device(), "bfloat16", seed)
    eager = pl.bench(lambda: lab.eager(**inp), rep_ms=rep_ms, label="ch19.decode_graph.eager")
    st = engine.DecodeState(inp["model"], inp["prompt"], "bf16")
    dynamo.reset()
    st.forward = torch.compile(st.model)
    try:
        with torch._inductor.config.patch(force_disable_caches=True), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            m = pl.bench(lambda: st.step(inp["token"]), rep_ms=rep_ms, label="ch19.decode_graph.torch_compile")
    except Exception as exc:              # no compiler, an unsupported op: report it, do not stop the notebook
        print(f"torch.compile failed here: {type(exc).__name__}: {str(exc)[:300]}")
        return None
    finally:
        dynamo.reset()
    return CompileResult(tuple(size), eager, m)


def _row(name, m, eager, note=""):
    if m is None:
        return [name, "—", "—", "—", note]
    be = break_even(m.first_call_s, eager.first_call_s, m.median, eager.median) if eager is not m else None
    return [name, format_time(m.first_call_s), format_time(m.median), f"{1 / m.median:,.0f}",
            "—" if eager is m else (f"{be:,} tokens" if be is not None else "never: no faster per token")]


def table(run, comp: CompileResult | None = None):
    """Eager vs CUDA graph (the ``ch19.decode_graph`` run) and eager vs torch.compile (:func:`compiled`):
    first call, per token, break-even; the H200 reference's graph numbers beside them."""
    from perflab import book
    from perflab.table import Table
    by = {r.name: r for r in run.rows}
    eager = by["eager"].measurement
    ref = {r.variant: r for r in book.reference_at_gpu_size("ch19.decode_graph") if r.median_s and r.first_call_s}
    rows = [_row(f"eager {run.size}", eager, eager),
            _row(f"cuda_graph {run.size}", by["cuda_graph"].measurement, eager, by["cuda_graph"].why or "—")]
    if comp is not None:
        rows += [_row(f"eager {comp.size}", comp.eager, comp.eager),
                 _row(f"torch_compile {comp.size}", comp.compiled, comp.eager)]
    else:
        rows.append(["torch_compile", "—", "—", "—", "skipped on this tier (see above)"])
    if "eager" in ref and "cuda_graph" in ref:
        h, he = ref["cuda_graph"], ref["eager"]
        hb = break_even(h.first_call_s, he.first_call_s, h.median_s, he.median_s)
        rows.append([f"H200 reference {decode_graph.SIZES['gpu'][0]}: eager → cuda_graph",
                     f"{format_time(he.first_call_s)} → {format_time(h.first_call_s)}",
                     f"{format_time(he.median_s)} → {format_time(h.median_s)}",
                     f"{1 / he.median_s:,.0f} → {1 / h.median_s:,.0f}",
                     f"{hb:,} tokens" if hb is not None else "never"])
    notes = [f"sizes are (d_model, layers, context), bf16, batch 1, measured on {run.device}; first call = the "
             "first decode step after the prompt is in the cache, with any capture or compile it triggers",
             "torch.compile is cold here (Dynamo reset, Inductor caches off) on a 2-layer model so it fits the "
             "notebook's minute; a warm on-disk cache cuts it to seconds: that is what pre-warming before "
             "traffic buys (book L8508)"]
    if not ref:
        notes.append("no H200 reference recorded for ch19.decode_graph yet")
    return Table(["path (size)", "first call", "per token", "tokens/s", "break-even vs eager"], rows,
                 title="Warm-up vs steady state for one decode step", notes=notes)
