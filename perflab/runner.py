"""Run a lab: correctness gate first, then timing, then records and the ceiling of each; perflab.views draws them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from perflab import quick, results, validate
from perflab.timer import bench
from perflab.check import BadReference, Check, compare, poison_allocator
from perflab.lab import Lab, info, load
from perflab.measure import Measurement
from perflab.roofline import Ceiling
from perflab.table import Table


@dataclass
class Row:
    """One variant's outcome in a run."""
    name: str
    status: str                       # "correct" (then "timed"), "checked", "wrong", "error", "skipped"
    why: str = ""
    check: Check | None = None
    measurement: Measurement | None = None
    record: results.Record | None = None
    precision: str | None = None      # the variant's arithmetic, when it differs from the lab dtype
    ceiling: Ceiling | None = None    # the measured rate that bounds it (timed rows)


def arithmetic(precision: str | None, dtype: str) -> str:
    """The arithmetic a variant really does: its declared precision where that changes the lab dtype's
    arithmetic, else the dtype. TF32 changes only float32 matmuls: a tf32 variant run on float16 inputs
    computes in float16, so it is scored against the float16 peak.

    >>> arithmetic("tf32", "float16"), arithmetic("tf32", "float32"), arithmetic(None, "bfloat16")
    ('float16', 'tf32', 'bfloat16')
    """
    if precision is None or (precision == "tf32" and dtype != "float32"):
        return dtype
    return precision


def availability(fn: Callable, env) -> tuple[bool, bool, str]:
    """(runs here, timed here, reason): CuPy needs a GPU; interpreted Triton is checked, not timed."""
    meta = info(fn)
    needs = list(meta.needs)
    if meta.backend == "cupy":
        needs = ["cuda", "cupy"] + needs
    missing = [n for n in dict.fromkeys(needs) if not env.has(n)]
    if missing:
        return False, False, f"needs {', '.join(missing)}" + (f" ({env.tools.get(missing[-1], '')})"
                                                              if missing[-1] in env.tools else "")
    if meta.backend == "triton" and not env.has("triton-compiled"):
        return True, False, "Triton interpreter: checked for correctness, not timed"
    return True, True, ""


def run(lab, *, size=None, dtype: str | None = None, variants: list | None = None, seed: int = 0,
        rep_ms: float = 100, record: bool = True) -> "LabRun":
    """Check every variant against the reference, time the correct ones, and report.

    size/dtype default to the lab's first entry for this tier. variants: names or functions to run
    (default: the lab's list); a function that is not in the lab (an exercise) is run too.
    Each variant is checked on its own fresh inputs (so stale memory from another variant cannot
    pass for its answer); the correct ones are then timed on one shared set of inputs.
    A wrong variant is never timed and gets no speedup; the table says why it failed.
    """
    from perflab.peaks import ceilings
    from perflab.machine import env
    lab = load(lab)
    e = env()
    size = None if size is None else validate.size(lab, size)   # before any work: a clear error
    size = quick.default_size(lab.SIZES[e.tier]) if size is None else size   # smallest under PERFLAB_QUICK
    dtype, fns, seed = validate.dtype(lab, dtype), validate.variants(lab, variants), validate.seed(seed)
    validate.number("rep_ms", rep_ms, positive=True)
    ceil = ceilings()
    rows = [check_variant(lab, fn, size, dtype, seed + 1 + i) for i, fn in enumerate(fns)]
    nbytes, nflops = lab.bytes(size, dtype), lab.flops(size, dtype)
    to_time = [(row, fn) for row, fn in zip(rows, fns) if row.status == "correct"]
    if to_time:
        inputs = _inputs(lab, size, dtype, seed)
        for row, fn in to_time:
            row.measurement = bench(lambda: fn(**inputs), bytes=nbytes or None, flops=nflops or None,
                                    rep_ms=quick.rep_ms(rep_ms), label=f"{lab.name}.{row.name}",
                                    mode=lab.options.timing)
            row.status = "timed"
        del inputs
    out = LabRun(lab=lab, size=size, dtype=dtype, rows=rows, ceilings=ceil, device=e.device,
                 nbytes=nbytes, nflops=nflops)
    out._finish_records()
    kept = [r.record for r in rows if r.record and lab.records_variant(r.name)]   # not a learner's own function
    if record and results.sink() is not None and kept:
        results.merge(results.sink(), kept)
    _LAST[(lab.name, repr(size), dtype)] = out
    return out


_LAST: dict = {}        # the latest run of each (lab, size, dtype) in this process


def last_run(lab: str, size, dtype: str, variants: list[str]) -> "LabRun | None":
    """The latest run in this process of ``lab`` at this size and dtype that covered every one of
    ``variants``, or None."""
    prev = _LAST.get((lab, repr(size), dtype))
    if prev is None or not set(variants) <= {r.name for r in prev.rows}:
        return None
    return prev


def _inputs(lab, size, dtype, seed) -> dict:
    from perflab.machine import device
    inputs = lab.make_inputs(size, device(), dtype, seed)
    if not isinstance(inputs, dict):
        raise TypeError(f"{lab.name}.make_inputs must return a dict of keyword arguments, "
                        f"got {type(inputs).__name__}")
    return inputs


def check_variant(lab, fn, size, dtype, seed) -> Row:
    """Run one variant on fresh inputs and compare with the reference: status correct, checked,
    wrong, error or skipped (the runner then times the 'correct' ones)."""
    from perflab.machine import env
    name = getattr(fn, "__name__", "variant")
    runs, timed, why = availability(fn, env())
    meta = info(fn)
    if not runs:
        return Row(name, "skipped", why)
    inputs = _inputs(lab, size, dtype, seed)
    ref = lab.reference(**inputs)
    poison_allocator(ref)
    try:
        out = fn(**inputs)
    except Exception as exc:                     # a learner's variant may fail: report, do not crash
        return Row(name, "error", f"{type(exc).__name__}: {exc}")
    try:
        check = gate(lab, out, ref, meta, dtype)
    except BadReference as exc:                  # the lab's reference is unusable: say so, blame no variant
        return Row(name, "error", str(exc))
    if not check.ok:
        return Row(name, "wrong", check.reason + " — not timed", check=check)
    precision = arithmetic(meta.precision, dtype)
    precision = None if precision == dtype else precision
    if not timed:
        return Row(name, "checked", why, check=check, precision=precision)
    return Row(name, "correct", meta.note, check=check, precision=precision)


def gate(lab, out, ref, meta, dtype: str) -> Check:
    """The correctness gate for one output: compare, with the lab's dtype and its expects_inf; an output
    that cannot even be compared (an exotic tensor torch cannot convert) is a wrong answer, not a crash."""
    try:
        return compare(out, ref, meta.precision or dtype, meta.tol, dtype=dtype,
                       expect_inf=lab.options.expects_inf)
    except BadReference:
        raise
    except (RuntimeError, TypeError, ValueError, NotImplementedError) as exc:
        return Check(False, f"the output could not be compared with the reference: {type(exc).__name__}: {exc}")


@dataclass
class LabRun:
    """The outcome of :func:`run`: rows per variant, the ceilings used, records and views."""
    lab: Lab
    size: object
    dtype: str
    rows: list
    ceilings: object
    device: str
    nbytes: int = 0                   # the lab's counts at this size and dtype
    nflops: int = 0

    @property
    def records(self) -> list:
        return [r.record for r in self.rows if r.record]

    @property
    def baseline(self) -> Row | None:
        """The first timed row (normally the lab's baseline)."""
        return next((r for r in self.rows if r.status == "timed"), None)

    def __getitem__(self, name: str) -> Row:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(f"no variant {name!r} in this run; ran {[r.name for r in self.rows]}")

    def ceiling_for(self, precision: str, nbytes: float, nflops: float) -> Ceiling:
        """The measured ceiling bounding a variant of this size that computes in ``precision``: the
        matmul peak if its intensity reaches it, else the bandwidth.

        The bandwidth is the device copy unless the lab names another measured link in
        its options' ``bandwidth`` (e.g. "h2d_pinned" for host-to-device labs); where that link was not measured
        (the cpu tier) the copy stands in.
        """
        c = self.ceilings
        link = self.lab.options.bandwidth
        gbps = getattr(c, f"{link}_gbps", None)
        if gbps is None:
            link, gbps = "copy", c.copy_gbps
        if nflops and not c.peak_tflops(precision):
            precision = self.dtype          # a precision this device lacks (tf32 on a CPU) runs as the dtype
        peak = c.peak_tflops(precision) if nflops else None
        if nflops and peak and nflops / nbytes * gbps / 1e3 >= peak:
            return Ceiling("compute", precision, peak)
        return Ceiling("bandwidth", link, gbps)

    def _finish_records(self):
        base = self.baseline
        size = list(self.size) if isinstance(self.size, tuple) else self.size
        for r in self.rows:
            if r.status not in ("timed", "checked", "wrong"):
                continue
            rec = results.Record(chapter=self.lab.chapter, lab=self.lab.name, variant=r.name, size=size,
                                 dtype=self.dtype, correct=r.status != "wrong", note=r.why)
            m = r.measurement
            if m is not None:
                r.ceiling = self.ceiling_for(r.precision or self.dtype, self.nbytes, self.nflops)
                rec.median_s, rec.p20_s, rec.p80_s = m.median, m.p20, m.p80
                rec.gbps, rec.tflops, rec.first_call_s = m.gbps, m.tflops, m.first_call_s
                rec.ceiling, rec.ceiling_fraction = r.ceiling.label, r.ceiling.fraction(m)
                if m.busy:
                    rec.note = "; ".join(x for x in (rec.note, f"busy machine: {m.busy}") if x)
                rec.speedup_vs_baseline = base.measurement.median / m.median
            r.record = rec

    @property
    def busy(self) -> list[str]:
        """Why the machine was busy while variants were timed, one line per variant that saw it."""
        return [f"{r.name}: {r.measurement.busy}" for r in self.rows if r.measurement and r.measurement.busy]

    def timing_notes(self) -> list[str]:
        """Notes on how the cpu timings ran: the torch thread count, and a warning when the machine was busy."""
        ms = [r.measurement for r in self.rows if r.measurement]
        threads = sorted({m.threads for m in ms if m.threads})
        notes = [f"cpu timings with {', '.join(map(str, threads))} torch thread(s)"] if threads else []
        if self.busy:
            notes.append(f"⚠ BUSY MACHINE while timing {len(self.busy)} of {len(ms)} variants (first: "
                         f"{self.busy[0]}): other programs competed for the CPU, so these times are slower and "
                         f"noisier than this device can do; close them and run again")
        return notes

    # ---- views (perflab.views draws them from this data) ----------------------------------------
    def table(self) -> Table:
        from perflab import views
        return views.table(self)

    def bar(self, metric: str = "auto"):
        from perflab import views
        return views.bar(self, metric)

    def roofline(self, with_reference: bool = True):
        from perflab import views
        return views.roofline(self, with_reference)

    def show(self):
        from perflab import views
        views.show(self)

    def _repr_html_(self):
        return self.table()._repr_html_()

    def __repr__(self):
        return str(self.table())
