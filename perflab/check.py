"""Correctness gate: compare a variant's output with the reference, and say exactly how it differs."""
from __future__ import annotations

from dataclasses import dataclass

# normwise relative tolerance ‖out − ref‖ / ‖ref‖ per arithmetic precision; elementwise bound is
# |out − ref| ≤ ELEMENT_FACTOR · tol · (|ref| + rms(ref)), which catches a few wrong elements that
# a norm would average away.
TOLERANCE = {"float64": 1e-12, "float32": 1e-5, "tf32": 2e-3, "bfloat16": 1e-2, "float16": 2e-3,
             "float8": 6e-2, "int8": 0.0, "int32": 0.0, "int64": 0.0, "bool": 0.0}
ELEMENT_FACTOR = 10.0


@dataclass
class Check:
    """Outcome of comparing one output with its reference."""
    ok: bool
    reason: str                 # "" when ok; otherwise one line a learner can act on
    rel_error: float | None = None
    max_abs_error: float | None = None
    mismatches: int = 0
    total: int = 0
    first_bad: tuple | None = None     # (index, yours, reference)

    def __bool__(self):
        return self.ok

    def __str__(self):
        if self.ok:
            err = f" (relative error {self.rel_error:.1e})" if self.rel_error else ""
            return f"✅ matches the reference{err}"
        return f"❌ {self.reason}"


def tolerance(precision: str) -> float:
    if precision not in TOLERANCE:
        raise ValueError(f"no tolerance for precision {precision!r}; known: {sorted(TOLERANCE)}")
    return TOLERANCE[precision]


def compare(out, ref, precision: str = "float32", tol: float | None = None) -> Check:
    """Compare a tensor with the reference: shape, NaN/Inf, normwise and elementwise error.

    >>> import torch
    >>> ref = torch.arange(1., 7.)
    >>> compare(ref.clone(), ref).ok
    True
    >>> bad = ref.clone(); bad[-1] = 0
    >>> print(compare(bad, ref))     # doctest: +ELLIPSIS
    ❌ 1 of 6 elements differ ... first at index (5,): yours 0, reference 6
    """
    import torch
    if not isinstance(out, torch.Tensor):
        return Check(False, f"the variant returned {type(out).__name__}, not a tensor (did it return None?)")
    if tuple(out.shape) != tuple(ref.shape):
        return Check(False, f"shape {tuple(out.shape)} but the reference has shape {tuple(ref.shape)}")
    tol = tolerance(precision) if tol is None else tol
    o = out.detach().to("cpu", torch.float64)
    r = ref.detach().to("cpu", torch.float64)
    total = r.numel()
    finite = torch.isfinite(o)
    if not bool(finite.all()):
        idx = _first(~finite)
        return Check(False, f"{int((~finite).sum())} of {total} elements are NaN/Inf (unwritten output? "
                            f"first at index {idx})", mismatches=int((~finite).sum()), total=total,
                     first_bad=(idx, float(o[idx]), float(r[idx])))
    diff = (o - r).abs()
    norm = float(r.norm()) or 1.0
    rel = float(diff.norm()) / norm
    rms = norm / max(total, 1) ** 0.5
    bound = ELEMENT_FACTOR * tol * (r.abs() + rms)
    bad = diff > bound
    n_bad = int(bad.sum())
    if n_bad or rel > tol:
        idx = _first(bad) if n_bad else _first(diff == diff.max())
        yours, want = o[idx].item(), r[idx].item()
        why = (f"{n_bad} of {total} elements differ beyond tolerance" if n_bad
               else f"relative error {rel:.2e} exceeds {tol:.0e} for {precision}")
        return Check(False, f"{why} (relative error {rel:.2e}); first at index {idx}: "
                            f"yours {yours:.6g}, reference {want:.6g}",
                     rel_error=rel, max_abs_error=float(diff.max()), mismatches=n_bad, total=total,
                     first_bad=(idx, yours, want))
    return Check(True, "", rel_error=rel, max_abs_error=float(diff.max()) if total else 0.0, total=total)


def _first(mask) -> tuple:
    nz = mask.nonzero()
    return tuple(int(i) for i in nz[0]) if len(nz) else ()


def poison_allocator(like) -> None:
    """Fill memory the caching allocator is about to hand out with NaN.

    A variant that forgets to write part of its output would otherwise return stale, correct-looking
    values left by the previous variant in a recycled block. We allocate blocks of the output's size,
    fill them with NaN and free them, so the next allocation of that size most likely gets one.
    """
    import torch
    if not like.dtype.is_floating_point:
        return
    blocks = [torch.full_like(like, float("nan")) for _ in range(2)]
    del blocks
