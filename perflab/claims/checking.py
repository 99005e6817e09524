"""Collecting a chapter's claims and evaluating them on a run and on every committed reference device."""
from __future__ import annotations

from pathlib import Path

from perflab.claims.kinds import Claim, Holds, Verdict
from perflab.results import Record


def chapter_claims(chapter: str) -> list[Claim]:
    """CLAIMS of a chapter ('ch09') or of one lab ('ch09.l2norm'): _claims.py, then each lab module."""
    from perflab.lab import chapter as declared
    return [c for c in declared(chapter.split(".")[0]).claims() if "." not in chapter or c.lab == chapter]


def all_claims() -> list[Claim]:
    from perflab.lab import _chapter_packages
    return [c for key in sorted(_chapter_packages()) for c in chapter_claims(key)]


def reference_files() -> list[Path]:
    """Every committed reference device's results file (data/reference/<device>.json)."""
    from perflab.results import reference_devices, reference_path
    return [reference_path(key) for key in reference_devices()]


def _records_here(run) -> list[Record]:
    if run is None:
        from perflab.runner import _LAST
        return [rec for r in _LAST.values() for rec in r.records]
    runs = run if isinstance(run, (list, tuple)) else [run]
    return [rec for r in runs for rec in (r.records if hasattr(r, "records") else [r])]


def _here_manifest() -> dict:
    from perflab.machine import env
    e = env()
    return {"device": e.device, "tier": e.tier, "capability": e.sm, "memory_gb": e.memory_gb}


def evaluate(claim: Claim, records, values: dict, manifest: dict) -> Verdict:
    """A lab claim reads the records; a Holds claim reads the experiment values (and the manifest)."""
    if isinstance(claim, Holds):
        return claim.evaluate({**values, "manifest": manifest}, manifest)
    return claim.evaluate(records, manifest)


def problems(path: "str | Path", claims: list[Claim] | None = None) -> list[str]:
    """Claims a results file contradicts (❌), one line each with the numbers."""
    from perflab import results
    manifest, records = results.read(path)
    out = []
    for c in all_claims() if claims is None else claims:
        if isinstance(c, Holds) and not c.from_manifest:
            continue              # experiment values are not in results files
        v = evaluate(c, records, {}, manifest)
        if v.mark == "❌":
            out.append(f"{Path(path).name} ({manifest.get('device')}): {c.words} — measured {v.shown}")
    return out


def show(chapter: str, run=None, values: dict | None = None):
    """A table of a chapter's (or lab's) claims: this run, then each reference device. ``run``: a LabRun,
    a list of them, or records (default: every lab run in this process); ``values``: experiment results
    by name for Holds claims. Renders as text headless and as HTML in Jupyter."""
    from perflab import results
    from perflab.table import Table
    claims = chapter_claims(chapter)
    here = _here_manifest()
    cols = [("this run", here, _records_here(run), values or {})]
    for p in reference_files():
        m, recs = results.read(p)
        cols.append((m.get("device", Path(p).stem), m, recs, {}))
    rows, notes = [], []
    for c in claims:
        cells = []
        for label, m, recs, vals in cols:
            v = evaluate(c, recs, vals, m)
            cells.append(str(v))
            if v.mark == "❌":
                notes.append(f"❌ {c.words} on {m.get('device')}: {v.reason}")
        rows.append([c.words.split(": ", 1)[-1] if "." in chapter else c.words, *cells])
    heads = [f"this run ({here['device']})"] + [label for label, *_ in cols[1:]]
    if not claims:
        notes.append(f"{chapter} declares no claims yet")
    notes.append("✅ holds · ❌ contradicted · — not measured there, or not claimed for that device")
    return Table(["claim", *heads], rows, title=f"Claims · {chapter}", notes=notes)
