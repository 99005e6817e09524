"""Is a reference results file complete and internally consistent?

Complete: every lab of the workbook has records, or is listed in ``data/reference/pending.json`` with
the reason it has none yet (a listed lab that has records is an error too, so the list stays true).
Consistent: every number in a record can be recomputed from the others and from the lab itself —
rates from the lab's byte and FLOP counts and the median, speedups from the baseline's median,
ceiling fractions from the manifest's measured ceilings — so a hand-edited or stale record shows.

Each reference has its own pending list: ``pending-<device>.json`` beside it, or for the default
H200 reference the historical ``pending.json`` (``pending_path``).

    python -m perflab.reference_check [data/reference/nvidia-h200.json]
"""
from __future__ import annotations

import json
import math
import sys
from collections import defaultdict
from pathlib import Path

from perflab import results
from perflab.lab import list_labs, load
from perflab.machine import counting_tier
from perflab.roofline import Ceiling

PENDING = Path(__file__).resolve().parents[1] / "data" / "reference" / "pending.json"   # the H200's list
RATE_TOL = 1e-3          # rates are recomputed from the same median: only rounding differs
BASELINE_TOL = 0.01      # a sweep run beside the lab run times the baseline again (ch08's heat maps)
CEILING_TOL = 0.03       # a later run's records use the ceilings measured in its own call (manifest "runs")


def pending_path(reference: "str | Path") -> Path:
    """The pending list of a reference file: ``pending-<device>.json`` beside it; the default reference
    (nvidia-h200) keeps ``pending.json`` unless a ``pending-nvidia-h200.json`` exists."""
    reference = Path(reference)
    own = reference.parent / f"pending-{reference.stem}.json"
    if own.exists() or reference.stem != results.REFERENCE_DEVICE:
        return own
    return reference.parent / "pending.json"


def read_pending(path: "str | Path") -> dict:
    """{lab: why it has no records yet}; a ValueError naming the file and the entry when it is malformed."""
    data = results.read_json(path, "pending list")
    if not isinstance(data, dict):
        raise ValueError(f"{path} should be a JSON object of lab name -> reason, got {type(data).__name__}")
    for k, v in data.items():
        if not isinstance(v, str) or not v.strip():
            raise ValueError(f"{path}: entry {k!r} should give the reason as a non-empty string, got {v!r}")
    return data


def _close(a: float, b: float, tol: float) -> bool:
    return math.isclose(a, b, rel_tol=tol)


def _size(size):
    return tuple(size) if isinstance(size, list) else size


def run_ceilings(manifest: dict) -> dict:
    """lab -> the ceilings of the last merged run that measured it, where that run kept them whole (each
    call of a GPU lease measures its own; a lab's fractions were scored against its own run's)."""
    out = {}
    for run in manifest.get("runs") or []:
        c = run.get("ceilings") if isinstance(run, dict) else None
        if isinstance(c, dict) and isinstance(c.get("matmul_tflops"), dict):
            out.update({lab.strip(): c for lab in str(run.get("labs", "")).split(",") if lab.strip()})
    return out


def record_problems(rec: results.Record, lab, ceilings: dict, tier: str = "gpu") -> list[str]:
    """What is wrong with one record, recomputed from its lab module and the manifest's ceilings."""
    where = f"{rec.lab} {rec.variant} {rec.size} {rec.dtype}"
    if not lab.records_variant(rec.variant):
        return [f"{where}: the lab has no variant {rec.variant!r} any more (stale record)"]
    if not rec.correct:
        timed = [k for k in ("median_s", "gbps", "tflops", "speedup_vs_baseline") if getattr(rec, k) is not None]
        return [f"{where}: marked wrong but has timings {timed}"] if timed else []
    if rec.median_s is None:
        return []                                              # checked, not timed (e.g. a correctness-only run)
    out = []
    if not (rec.median_s > 0 and (rec.p20_s or rec.median_s) <= rec.median_s <= (rec.p80_s or rec.median_s)):
        out.append(f"{where}: quantiles out of order (p20 {rec.p20_s}, median {rec.median_s}, p80 {rec.p80_s})")
    size = _size(rec.size)
    with counting_tier(tier):                         # labs sized per tier count as on the measuring machine
        counts = (("gbps", 1e9, lab.bytes(size, rec.dtype)), ("tflops", 1e12, lab.flops(size, rec.dtype)))
    for name, unit, per_call in counts:
        value = getattr(rec, name)
        if value is not None and per_call and not _close(value, per_call / rec.median_s / unit, RATE_TOL):
            out.append(f"{where}: {name} {value:.6g} but the lab's count over the median gives "
                       f"{per_call / rec.median_s / unit:.6g}")
    c = Ceiling.of(rec)
    if c and rec.ceiling_fraction is not None:
        measured = (ceilings.get(f"{c.name}_gbps") if c.kind == "bandwidth"
                    else ceilings.get("matmul_tflops", {}).get(c.name))
        rate = rec.gbps if c.kind == "bandwidth" else rec.tflops
        if measured and rate and not _close(rec.ceiling_fraction, rate / measured, CEILING_TOL):
            out.append(f"{where}: {rec.ceiling_fraction:.3f} of {rec.ceiling} but {rate:.4g} / "
                       f"{measured:.4g} {c.unit} = {rate / measured:.3f}")
    return out


def group_problems(recs: list[results.Record]) -> list[str]:
    """Speedups of one (lab, size, dtype) group must all be against the same baseline median."""
    timed = [r for r in recs if r.correct and r.median_s and r.speedup_vs_baseline]
    if not timed:
        return []
    baseline_medians = {r.variant: r.speedup_vs_baseline * r.median_s for r in timed}
    lo, hi = min(baseline_medians.values()), max(baseline_medians.values())
    r0 = recs[0]
    out = []
    if not _close(lo, hi, BASELINE_TOL):
        out.append(f"{r0.lab} {r0.size} {r0.dtype}: speedups imply different baseline medians "
                   f"({lo:.6g} … {hi:.6g} s): {baseline_medians}")
    if not any(_close(r.speedup_vs_baseline, 1.0, RATE_TOL) and _close(r.median_s, lo, BASELINE_TOL) for r in timed):
        out.append(f"{r0.lab} {r0.size} {r0.dtype}: no record is the baseline (speedup 1.00×)")
    return out


def measurement_groups() -> set[str]:
    """Record groups that are measurements but not labs (a chapter package's ``MEASUREMENTS``, e.g. the
    engine calibration points of ch17): known names, with no lab module to recompute them from."""
    from perflab.lab import _chapter_packages, chapter
    return {f"{key}.{name}" for key in _chapter_packages() for name in chapter(key).measurements}


def problems(path: "str | Path", pending: "dict | None" = None, labs: "list[str] | None" = None) -> list[str]:
    """Every completeness and consistency problem of the results file at ``path`` ([] when it is sound)."""
    manifest, records = results.read(path)
    listed = pending_path(path)
    if pending is None:
        pending = read_pending(listed) if listed.exists() else {}
    labs = list_labs() if labs is None else labs
    out = []
    by_lab = defaultdict(list)
    for r in records:
        by_lab[r.lab].append(r)
    for name in labs:
        if name not in by_lab and name not in pending:
            out.append(f"{name}: no records, and not in {listed.name} with a reason")
        if name in by_lab and name in pending:
            out.append(f"{name}: has records but is still listed in {listed.name}")
    for name in sorted(set(pending) - set(labs)):
        out.append(f"{name}: listed in {listed.name} but no such lab exists")
    ceilings = manifest.get("ceilings") or {}
    if not isinstance(ceilings, dict):
        raise ValueError(f"{path}: manifest field 'ceilings' should be an object, got {type(ceilings).__name__}")
    scored_against = run_ceilings(manifest)
    groups = defaultdict(list)
    measurements = measurement_groups()
    for name, recs in sorted(by_lab.items()):
        if name in measurements:
            continue
        if name not in labs:
            out.append(f"{name}: {len(recs)} records of a lab that no longer exists")
            continue
        lab = load(name)
        for r in recs:
            out += record_problems(r, lab, scored_against.get(r.lab, ceilings), manifest.get("tier") or "gpu")
            groups[(r.lab, json.dumps(r.size), r.dtype)].append(r)
    for recs in groups.values():
        out += group_problems(recs)
    return out


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path = Path(argv[0]) if argv else results.reference_path()
    try:
        found = problems(path)
    except (ValueError, FileNotFoundError) as e:
        print(f"reference_check: {e}", file=sys.stderr)
        return 2
    for p in found:
        print(p)
    print(f"{path}: {'sound' if not found else f'{len(found)} problems'}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
