"""torch.compile modes side by side: compile time (the first call) apart from the steady state."""
from __future__ import annotations

import warnings

import perflab as pl
import torch

from perflab import quick
from perflab.measure import format_time

MODES = ("default", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")
# compare()'s default, the core notebook's modes: each compiles in about a second. max-autotune benchmarks
# Triton GEMM templates for each GEMM shape (90–100 s a mode on an H100 at 70061ca, 12 s for the deep dive's
# whole cell at 491d8e4; what made the difference is not measured yet), so
# it runs in the deep dive (AUTOTUNE_MODES); max-autotune-no-cudagraphs repeats that autotuning: MODES.
DEFAULT_MODES = ("default", "reduce-overhead")
AUTOTUNE_MODES = ("max-autotune",)
CPU_NOTE = ("cpu tier: every mode runs; reduce-overhead's CUDA graphs need a GPU (here it is the default "
            "code), max-autotune can only try C++ GEMM choices here, not Triton GEMM templates, and "
            "max-autotune-no-cudagraphs (max-autotune minus CUDA graphs) is left out: without a GPU it is max-autotune")


def mlp(x, w1, w2):
    return torch.nn.functional.gelu(x @ w1) @ w2


def inputs(tier: str, seed: int = 0) -> dict:
    rows, d, h = (37, 61, 123) if tier == "cpu" else (61, 1_021, 4_093)    # a small, launch-bound MLP
    dev = "cpu" if tier == "cpu" else "cuda"
    g = torch.Generator(device=dev).manual_seed(seed)
    return {"x": torch.randn(rows, d, generator=g, device=dev),
            "w1": torch.randn(d, h, generator=g, device=dev) / d ** 0.5,
            "w2": torch.randn(h, d, generator=g, device=dev) / h ** 0.5}


def compare(modes=None, rep_ms: float = 50) -> "Table":
    """Eager, then each mode compiled from scratch (dynamo reset, Inductor's caches off): first call and median."""
    import torch._dynamo as dynamo
    from perflab.table import Table
    e = pl.env()
    if modes is None:       # the autotuning modes search GEMM templates: only on request (AUTOTUNE_MODES)
        modes = DEFAULT_MODES
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise ValueError(f"unknown torch.compile mode(s) {unknown}: choose from {MODES}")
    rep_ms = quick.rep_ms(rep_ms)
    inp = inputs(e.tier)
    ref = mlp(**inp)
    eager = pl.bench(lambda: mlp(**inp), rep_ms=rep_ms, label="eager")
    rows = [["eager", "—", format_time(eager.median), "1.00×", "—"]]
    for mode in modes:
        dynamo.reset()
        fn = torch.compile(mlp, mode=mode)
        with torch._inductor.config.patch(**_cold(mode)), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)          # "dynamo_pgo force disabled" notices
            m = pl.bench(lambda: fn(**inp), rep_ms=rep_ms, label=mode)
        err = (fn(**inp) - ref).abs().max().item()
        rows.append([mode, f"{m.first_call_s:,.2f} s", format_time(m.median), f"{eager.median / m.median:.2f}×",
                     f"{err:.1e}"])
    dynamo.reset()
    notes = [f"{e.device}; x {tuple(inp['x'].shape)}, w1 {tuple(inp['w1'].shape)}, fp32; the first call "
             "includes tracing, code generation and compiling; Inductor's caches off so every mode pays its full "
             "compile (max-autotune: Triton's kernel cache stays on, so a second session compiles faster)"]
    if e.tier == "cpu":
        notes.append(CPU_NOTE)
    global LAST
    LAST = {r[0]: r for r in rows}
    return Table(["mode", "first call (compile)", "steady median", "vs eager", "max |err| vs eager"], rows,
                 title="torch.compile modes: compile time vs steady state", notes=notes)


LAST: dict = {}      # the rows of the last compare(), by mode, for the book check


def _cold(mode: str) -> dict:
    """Inductor settings that make ``mode`` compile from scratch in this process.

    max-autotune turns off Inductor's graph and autotuning caches, so it traces, generates and benchmarks
    every GEMM choice again, while Triton's own kernel cache stays on (force_disable_caches also moves
    every compile to a fresh temporary cache; under it max-autotune took 100 s on an H100 in
    shared/gpu-runs/2026-12-07-h100, not yet measured under this setting). The other modes are cheap:
    all caches off."""
    if mode.startswith("max-autotune"):
        return {"fx_graph_cache": False, "autotune_local_cache": False, "autotune_remote_cache": False}
    return {"force_disable_caches": True}


def warm_up() -> float:
    """Compile a one-op function once, so the modes table does not charge Inductor's start-up to its first row.

    Returns the seconds that took (Inductor's one-time import and C++/Triton tool-chain set-up)."""
    import torch._dynamo as dynamo
    fn = torch.compile(lambda t: t.sin() + 1)
    t = torch.randn(7, device="cuda" if pl.env().tier == "gpu" else "cpu")
    with torch._inductor.config.patch(force_disable_caches=True), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        s = pl.bench(lambda: fn(t), rep_ms=5, label="warm-up").first_call_s
    dynamo.reset()
    return s
