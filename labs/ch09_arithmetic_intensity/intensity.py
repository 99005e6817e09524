"""Arithmetic-intensity calculators: what fusion, tiling and precision do to FLOP per byte, and where that
lands against this device's ridge point and the H200 reference's.

Each function returns one paragraph of text, so it works in ``pl.calculator`` and in plain print.

>>> round(fused_intensity(4, 4), 3), round(unfused_intensity(4), 3)
(0.5, 0.125)
>>> tiled_intensity(32, 4)          # 32×32 tiles of fp32: 8 FLOP per byte of global traffic
8.0
"""
from __future__ import annotations

import perflab as pl
from perflab.validate import calculator_inputs

BYTES = {"float32": 4, "tf32": 4, "bfloat16": 2, "float16": 2, "float8": 1, "fp4 (e2m1)": 0.5}


def unfused_intensity(bytes_per_element: float) -> float:
    """One elementwise op per kernel: 1 FLOP per element read and written."""
    return 1 / (2 * bytes_per_element)


def fused_intensity(ops: int, bytes_per_element: float) -> float:
    """``ops`` elementwise ops in one kernel: the same bytes, ``ops`` times the FLOPs."""
    return ops / (2 * bytes_per_element)


def tiled_intensity(tile: int, bytes_per_element: float) -> float:
    """FLOP per byte of global loads for a matmul with T×T tiles staged on chip.

    Per step along K, a T×T output tile loads a T×T tile of A and one of B (2·T² elements) and does
    T³ multiply-adds (2·T³ FLOP): T / b FLOP per byte. T = 1 is the untiled kernel.
    """
    return tile / bytes_per_element


def _ridges(precision: str) -> tuple[float | None, float | None, str]:
    """(ridge here, ridge on the H200 reference, this device's name) in FLOP/B, from measured ceilings."""
    here, ref = pl.ceilings(), pl.reference_ceilings()
    r_here = here.ridge_point(precision)
    r_ref = ref.ridge_point(precision) if ref else None
    return r_here, r_ref, here.device


def _where(intensity: float, precision: str) -> str:
    here, ref, device = _ridges(precision)
    parts = []
    for name, ridge in ((device, here), ("H200 reference", ref)):
        if ridge is None:
            parts.append(f"{name}: no measured {precision} peak")
        else:
            side = "memory-bound" if intensity < ridge else "compute-bound"
            parts.append(f"{name}: ridge {ridge:,.1f} FLOP/B → {side}")
    return "; ".join(parts)


@calculator_inputs(positive="ops")
def fusion(ops: int = 3, dtype: str = "float32") -> str:
    """A chain of ``ops`` elementwise ops, one kernel each vs all in one kernel."""
    b = BYTES[dtype]
    lo, hi = unfused_intensity(b), fused_intensity(ops, b)
    peak = "float32" if dtype in ("float32", "tf32") else dtype
    here, ref, _ = _ridges(peak)
    need = f"; it turns compute-bound on the H200 at about {ref * 2 * b:,.0f} ops per element" if ref else ""
    return (f"{ops} elementwise ops on {dtype}: unfused = {ops} kernels × {2 * b:g} B = {ops * 2 * b:g} B per "
            f"element at {lo:.3g} FLOP/B; fused = 1 kernel, {2 * b:g} B per element at {hi:.3g} FLOP/B: "
            f"{ops}× fewer bytes, so about {ops}× faster while memory-bound. {_where(hi, peak)}{need}.")


@calculator_inputs(positive="tile")
def tiling(tile: int = 32, dtype: str = "float32") -> str:
    """Shared-memory tiles of T×T for a matmul: reuse per staged element and global-load intensity."""
    b = BYTES[dtype]
    ai = tiled_intensity(tile, b)
    peak = "float32" if dtype == "float32" else dtype
    return (f"{tile}×{tile} tiles of {dtype}: each element staged on chip feeds {tile} multiply-adds, so "
            f"global loads carry {ai:,.3g} FLOP/B ({tile}× the untiled {tiled_intensity(1, b):.3g}). "
            f"{tile}×{tile} = {tile * tile:,} is the number of outputs one tile computes. {_where(ai, peak)}. "
            f"Real GEMMs also reuse tiles through L2 and registers, so DRAM sees less than these loads.")


@calculator_inputs(positive="n")
def precision(n: int = 4096, dtype: str = "bfloat16") -> str:
    """An n×n×n matmul's intensity (each matrix crossing memory once) in one precision, vs fp32."""
    b = BYTES[dtype]
    ai = pl.calc.matmul_intensity(n, n, n, b)
    ai32 = pl.calc.matmul_intensity(n, n, n, 4)
    if dtype == "fp4 (e2m1)":
        where = "no fp4 tensor cores before Blackwell: nothing to measure here or on the H200"
    else:
        where = _where(ai, dtype)
    return (f"{n}×{n}×{n} matmul in {dtype}: {b:g} B per element, {ai:,.0f} FLOP/B — {ai / ai32:g}× fp32's "
            f"{ai32:,.0f}. {where}.")
