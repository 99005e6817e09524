"""Number formats of the precision ladder: their ranges, the error each costs a matmul (emulated in float64,
so it runs anywhere), and the ladder's measured table (speed, % of ceiling, error vs float64).

>>> float(quantize(torch.tensor([1.0 + 2 ** -11]), "tf32")[0])     # 10 mantissa bits: rounds to 1
1.0
>>> quantize(torch.tensor([0.3, -2.6, 6.0]), "fp4 (e2m1)").tolist()  # one block, scale 6/6 = 1
[0.5, -3.0, 6.0]
"""
from __future__ import annotations

import torch

from perflab.check import TOLERANCE
from perflab.table import Table

# name -> (bits, exponent bits, mantissa bits, torch dtype or None, lab precision name)
FORMATS = {
    "float32": (32, 8, 23, torch.float32, "float32"),
    "tf32": (19, 8, 10, None, "tf32"),
    "bfloat16": (16, 8, 7, torch.bfloat16, "bfloat16"),
    "float16": (16, 5, 10, torch.float16, "float16"),
    "float8 e4m3": (8, 4, 3, torch.float8_e4m3fn, "float8"),
    "float8 e5m2": (8, 5, 2, torch.float8_e5m2, None),
    "fp4 (e2m1)": (4, 2, 1, None, None),
}
FP4_VALUES = torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0], dtype=torch.float64)
FP4_BLOCK = 16          # NVFP4 gives every 16 values one scale (here kept in fp32 for simplicity)


def _stored_bytes(name: str) -> float:
    """Bytes per value in memory: tf32 values live in fp32 words."""
    return 4 if name == "tf32" else FORMATS[name][0] / 8


def formats_table() -> Table:
    """Bits, range and spacing of each format (torch.finfo where torch has the dtype)."""
    rows = []
    for name, (bits, e, m, dt, _) in FORMATS.items():
        if dt is not None:
            fi = torch.finfo(dt)
            big, tiny, eps = fi.max, fi.tiny, fi.eps
        elif name == "tf32":
            big, tiny, eps = torch.finfo(torch.float32).max, torch.finfo(torch.float32).tiny, 2.0 ** -10
        else:                                                   # e2m1: bias 1, no inf/nan
            big, tiny, eps = 6.0, 1.0, 0.5
        rows.append([name, str(bits), str(e), str(m), f"{big:.4g}", f"{tiny:.3g}", f"{eps:.3g}",
                     f"{_stored_bytes(name):g}"])
    return Table(["format", "bits", "exponent", "mantissa", "largest", "smallest normal", "spacing at 1",
                  "bytes in memory"], rows, title="The formats on the ladder",
                 notes=["tf32 is a tensor-core input format: values are stored as fp32 (4 bytes) and rounded to "
                        "10 mantissa bits inside the matmul",
                        "fp8 e4m3fn has no infinity (largest 448); fp4 e2m1 can only hold ±{0, 0.5, 1, 1.5, 2, 3, "
                        "4, 6}, so it needs a scale per small block (NVFP4: one per 16 values)"])


def quantize(x: torch.Tensor, fmt: str) -> torch.Tensor:
    """x rounded to ``fmt`` and back to float64 (fp8 with one scale per tensor, fp4 one per 16 values)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; formats: {list(FORMATS)}")
    dt = FORMATS[fmt][3]
    x = x.double()
    if fmt == "tf32":                           # round-to-nearest-even at mantissa bit 10 of fp32
        i = x.float().view(torch.int32)
        i = (i + 0x0FFF + ((i >> 13) & 1)) & ~0x1FFF
        return i.view(torch.float32).double()
    if fmt.startswith("float8"):
        scale = (x.abs().amax() / torch.finfo(dt).max).clamp_min(1e-30)
        return (x / scale).to(dt).double() * scale
    if fmt == "fp4 (e2m1)":
        flat = x.reshape(-1)
        pad = -flat.numel() % FP4_BLOCK
        blocks = torch.nn.functional.pad(flat, (0, pad)).reshape(-1, FP4_BLOCK)
        scale = (blocks.abs().amax(dim=1, keepdim=True) / 6.0).clamp_min(1e-30)
        mag = (blocks.abs() / scale).unsqueeze(-1)
        q = FP4_VALUES[(mag - FP4_VALUES).abs().argmin(dim=-1)] * blocks.sign() * scale
        return q.reshape(-1)[: flat.numel()].reshape(x.shape)
    return x.to(dt).double()


def emulated_errors(n: int = 256, seed: int = 0) -> Table:
    """Each format's cost in accuracy, isolated: operands rounded to it, the product taken in float64.

    Real kernels add rounding of the output and of the accumulation order; the ladder lab measures those.
    """
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, n, generator=g, dtype=torch.float64)
    b = torch.randn(n, n, generator=g, dtype=torch.float64)
    exact = a @ b
    rows = []
    for name, (bits, _, m, _, prec) in FORMATS.items():
        qa = quantize(a, name)
        err_in = float((qa - a).norm() / a.norm())
        err_mm = float((qa @ quantize(b, name) - exact).norm() / exact.norm())
        tol = TOLERANCE.get(prec) if prec else None
        rows.append([name, f"{_stored_bytes(name):g}", f"{2.0 ** -(m + 1):.1e}", f"{err_in:.1e}", f"{err_mm:.1e}",
                     f"{tol:.0e}" if tol else "—"])
    return Table(["format", "bytes", "unit roundoff 2^-(m+1)", "error of A", "error of A @ B",
                  "perflab tolerance"], rows,
                 title=f"Rounding cost of each format on a {n}×{n} random matmul (emulated in float64)",
                 notes=["errors are normwise: ‖x̂ − x‖ / ‖x‖; per-tensor scaling for fp8, per-16-value scaling for fp4",
                        "tolerances are what perflab's correctness gate allows for a variant declaring that "
                        "precision (perflab/check.py)"])


def underflow_table(value: float = 1e-8, loss_scale: float = 1024.0) -> Table:
    """A small gradient in fp16 and bf16, with and without loss scaling (the reason for it, book L4111)."""
    rows = []
    for name, dt in (("float16", torch.float16), ("bfloat16", torch.bfloat16)):
        plain = float(torch.tensor(value, dtype=torch.float64).to(dt))
        scaled = float(torch.tensor(value * loss_scale, dtype=torch.float64).to(dt)) / loss_scale
        rows.append([name, f"{value:.3g}", f"{plain:.3g}", f"{scaled:.3g}"])
    return Table(["format", "true value", "stored as", f"stored ×{loss_scale:g}, then ÷{loss_scale:g}"], rows,
                 title="Underflow: fp16's 5-bit exponent vs bf16's 8 bits",
                 notes=[f"fp16's smallest subnormal is {2.0 ** -24:.2g}: smaller values flush to 0 unless the loss "
                        f"is scaled up first; bf16 has fp32's range, so it keeps them (at 2–3 significant digits)"])


def ladder_table(run) -> Table:
    """The precision ladder run as a table: rate, % of the measured ceiling, error vs float64, tolerance."""
    from perflab import results
    from perflab.lab import info
    from labs.ch09_arithmetic_intensity.precision_ladder import ELEMENT_BYTES
    ref = {r.variant: r for r in results.reference(run.lab.name)}
    base = next((r for r in run.rows if r.name == "fp32" and r.measurement), None)
    rows = []
    for r in run.rows:
        fn = next((v for v in run.lab.variants if v.__name__ == r.name), None)
        prec = (info(fn).precision if fn else r.precision) or run.dtype
        rec, m, chk = r.record, r.measurement, r.check
        err = f"{chk.rel_error:.1e}" if chk is not None and chk.rel_error is not None else "—"
        state = "✅" if r.status in ("timed", "checked") else ("❌" if r.status == "wrong" else r.why or r.status)
        h = ref.get(r.name)
        rows.append([r.name, prec, f"{ELEMENT_BYTES.get(r.name, ('?',))[0]}", state,
                     f"{m.tflops:,.3g}" if m else "—",
                     f"{rec.ceiling_fraction:.0%} of {rec.ceiling}" if rec and rec.ceiling_fraction else "—",
                     f"{base.measurement.median / m.median:.2f}×" if m and base else "—",
                     err, f"{TOLERANCE[prec]:.0e}",
                     f"{h.tflops:,.4g}" if h and h.tflops else "—"])
    return Table(["variant", "precision", "B/elem in", "check", "TFLOP/s", "% of measured ceiling", "vs fp32",
                  "error vs float64", "tolerance", "H200 TFLOP/s"], rows,
                 title=f"Precision ladder · size {run.size} · measured on {run.device}",
                 notes=["error: ‖C − C₆₄‖ / ‖C₆₄‖ against float64 on the same inputs; each variant passes the gate "
                        "for its declared precision",
                        "% of measured ceiling: against perflab's dense-matmul ceiling for that precision on this "
                        "device (pl.ceilings()), measured at n = 8192 (1024 on a CPU)"])
