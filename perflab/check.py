"""Correctness gate: compare a variant's output with the reference, and say exactly how it differs."""
from __future__ import annotations

from dataclasses import dataclass

# normwise relative tolerance ‖out − ref‖ / ‖ref‖ per arithmetic precision; elementwise bound is
# |out − ref| ≤ ELEMENT_FACTOR · tol · (|ref| + rms(ref)), which catches a few wrong elements that
# a norm would average away.
TOLERANCE = {"float64": 1e-12, "float32": 1e-5, "tf32": 2e-3, "bfloat16": 1e-2, "float16": 2e-3,
             "float8": 6e-2, "int8": 0.0, "int32": 0.0, "int64": 0.0, "bool": 0.0}
ELEMENT_FACTOR = 10.0
CHUNK = 1 << 24          # elements compared at a time: the float64 temporaries stay small on any GPU


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
    o_all, r_all = out.detach().reshape(-1), ref.detach().reshape(-1)
    total = r_all.numel()

    def chunks():               # float64 on the reference's device, a slice at a time (bounded memory)
        for s in range(0, total, CHUNK):
            yield s, o_all[s:s + CHUNK].to(r_all.device, torch.float64), r_all[s:s + CHUNK].to(torch.float64)

    nonfinite, first_nonfinite, ref_sq = 0, None, 0.0
    for s, o, r in chunks():
        bad = ~torch.isfinite(o)
        n = int(bad.sum())
        if n and first_nonfinite is None:
            first_nonfinite = s + int(bad.nonzero()[0, 0])
        nonfinite += n
        ref_sq += float((r * r).sum())
    if nonfinite:
        idx = _unravel(first_nonfinite, out.shape)
        return Check(False, f"{nonfinite} of {total} elements are NaN/Inf (unwritten output? first at index {idx})",
                     mismatches=nonfinite, total=total,
                     first_bad=(idx, float(o_all[first_nonfinite]), float(r_all[first_nonfinite])))
    norm = ref_sq ** 0.5 or 1.0
    rms = norm / max(total, 1) ** 0.5
    diff_sq, n_bad, first_bad, max_diff, argmax = 0.0, 0, None, 0.0, 0
    for s, o, r in chunks():
        diff = (o - r).abs()
        diff_sq += float((diff * diff).sum())
        bad = diff > ELEMENT_FACTOR * tol * (r.abs() + rms)
        n = int(bad.sum())
        if n and first_bad is None:
            first_bad = s + int(bad.nonzero()[0, 0])
        n_bad += n
        if diff.numel() and float(diff.max()) > max_diff:
            max_diff, argmax = float(diff.max()), s + int(diff.argmax())
    rel = diff_sq ** 0.5 / norm
    if n_bad or rel > tol:
        flat = first_bad if n_bad else argmax
        idx, yours, want = _unravel(flat, out.shape), float(o_all[flat]), float(r_all[flat])
        why = (f"{n_bad} of {total} elements differ beyond tolerance" if n_bad
               else f"relative error {rel:.2e} exceeds {tol:.0e} for {precision}")
        return Check(False, f"{why} (relative error {rel:.2e}); first at index {idx}: "
                            f"yours {yours:.6g}, reference {want:.6g}",
                     rel_error=rel, max_abs_error=max_diff, mismatches=n_bad, total=total,
                     first_bad=(idx, yours, want))
    return Check(True, "", rel_error=rel, max_abs_error=max_diff, total=total)


def _unravel(flat: int, shape) -> tuple:
    """The multi-dimensional index of a flat (row-major) position."""
    idx = []
    for dim in reversed(tuple(shape)):
        flat, i = divmod(flat, dim)
        idx.append(i)
    return tuple(reversed(idx))


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
