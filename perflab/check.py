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


class BadReference(ValueError):
    """The reference itself is unusable (NaN/Inf where the lab expects none): a lab bug, not the variant's."""


def compare(out, ref, precision: str = "float32", tol: float | None = None, *, dtype: str | None = None,
            expect_inf: bool = False) -> Check:
    """Compare a tensor with the reference: kind, dtype, shape, NaN/Inf, normwise and elementwise error.

    dtype: the lab's dtype. The output must be a plain strided tensor of that dtype; another floating
    dtype passes only when the variant declares its arithmetic (``precision`` differs from ``dtype``),
    and a float64 answer never passes in a narrower lab. Complex output never matches a real reference.
    expect_inf: the lab's reference may hold ±inf/NaN; they must then appear at the same positions
    (same sign of inf), and the finite elements are compared as usual. Without it a reference holding
    NaN/Inf (an overflowing float16 reference, say) raises :class:`BadReference`: nothing could be
    checked against it.

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
    kind = _odd_kind(out) or _dtype_problem(out, ref, dtype, precision)
    if kind:
        return Check(False, kind)
    if tuple(out.shape) != tuple(ref.shape):
        return Check(False, f"shape {tuple(out.shape)} but the reference has shape {tuple(ref.shape)}")
    tol = tolerance(precision) if tol is None else tol
    o_all, r_all = out.detach().reshape(-1), ref.detach().reshape(-1)
    if ref.dtype.is_floating_point:
        finite = _nonfinite_reference(o_all, r_all, expect_inf)
        if isinstance(finite, Check):
            return finite
        if finite is not None:            # the matching NaN/Inf positions count as equal: zero them in both
            o_all = o_all.masked_fill(~finite.to(o_all.device), 0)
            r_all = r_all.masked_fill(~finite, 0)
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


def _odd_kind(out) -> str:
    """Why ``out`` is not a plain dense tensor with values (sparse, meta, nested, quantized), or ''."""
    import torch
    if getattr(out, "is_nested", False):
        return "the variant returned a nested tensor; return one dense tensor shaped like the reference"
    if out.layout != torch.strided:
        return (f"the variant returned a {str(out.layout).replace('torch.', '')} tensor; "
                f"return a dense one (e.g. out.to_dense())")
    if out.device.type == "meta":
        return "the variant returned a meta tensor (a shape with no values); compute the values"
    if out.is_quantized:
        return "the variant returned a quantized tensor; dequantize it (out.dequantize())"
    return ""


def _dtype_problem(out, ref, dtype: str | None, precision: str) -> str:
    """Why ``out``'s dtype cannot be the lab's answer, or ''."""
    import torch
    if out.is_complex() and not ref.is_complex():
        return f"the variant returned a complex tensor ({out.dtype}); the reference is real"
    if dtype is None:
        return ""
    want = getattr(torch, dtype, None)
    if not isinstance(want, torch.dtype) or out.dtype == want:
        return ""
    name = str(out.dtype).replace("torch.", "")
    if not ref.dtype.is_floating_point:        # an integer answer (token ids, counts): exactly its dtype
        exact = want if not want.is_floating_point else ref.dtype
        return "" if out.dtype == exact else f"dtype {name}, but this lab's answer is {str(exact)[6:]}"
    if not out.dtype.is_floating_point:
        return f"dtype {name}, but this lab's answer is floating point ({dtype})"
    if not want.is_floating_point:
        return ""
    if out.dtype == torch.float64 and precision != "float64":
        return f"dtype float64 in a {dtype} lab: compute in {dtype} (a float64 answer is not the lab's arithmetic)"
    if precision == dtype and out.dtype != ref.dtype:      # a float32 reference in a bf16 lab: logits, say
        return (f"dtype {name} in a {dtype} lab; return {dtype}, or declare the arithmetic with "
                f"@pl.variant(precision={name!r})")
    return ""


def _nonfinite_reference(o_all, r_all, expect_inf: bool):
    """None when the reference is all finite; else a mask of its finite elements (expect_inf and the
    output matches its NaN/Inf positions), a failed Check, or BadReference raised."""
    import torch
    bad = ~torch.isfinite(r_all)
    n = int(bad.sum())
    if not n:
        return None
    first = int(bad.nonzero()[0, 0])
    if not expect_inf:
        raise BadReference(f"the reference holds {n} NaN/Inf values (first at flat index {first}: "
                           f"{float(r_all[first])}); nothing can be checked against it. Overflow in a narrow "
                           f"dtype? Compute the reference in float64, or mark the lab EXPECTS_INF = True")
    o_bad = o_all[bad.to(o_all.device)].to(torch.float64).cpu()
    r_bad = r_all[bad].to(torch.float64).cpu()
    same = (o_bad == r_bad) | (torch.isnan(o_bad) & torch.isnan(r_bad))
    if not bool(same.all()):
        k = int((~same).nonzero()[0, 0])
        where = int(bad.nonzero()[k, 0])
        return Check(False, f"{int((~same).sum())} of {n} NaN/Inf positions of the reference differ; "
                            f"first at flat index {where}: yours {float(o_bad[k])}, reference {float(r_bad[k])}",
                     mismatches=int((~same).sum()), total=r_all.numel(),
                     first_bad=(where, float(o_bad[k]), float(r_bad[k])))
    return ~bad


def _unravel(flat: int, shape) -> tuple:
    """The multi-dimensional index of a flat (row-major) position."""
    import numpy as np
    return tuple(int(i) for i in np.unravel_index(flat, tuple(shape)))


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
