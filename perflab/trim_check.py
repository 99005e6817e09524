"""Check that a trimmed (smaller, shorter) run teaches what the full run does: same ratios within the noise.

    python -m perflab.trim_check FULL.json TRIMMED.json [--floor 0.05]

For every lab, dtype and variant in both results files it compares ``speedup_vs_baseline`` and
``ceiling_fraction``. Each record's spread is its own p20–p80 (half of it either side of the median);
a speedup carries the spread of the variant and of its baseline. A pair is flagged when the two values
differ by more than their spreads together plus ``floor`` (a relative allowance for run-to-run drift:
a single long sample has p20 = p80). Exit status 1 when any pair is flagged.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from perflab.results import Record, read


@dataclass
class Pair:
    lab: str
    variant: str
    dtype: str
    metric: str                  # "speedup" or "ceiling fraction"
    full: float
    trimmed: float
    allowed: float               # the largest |full − trimmed| that counts as noise
    full_size: object = None
    trimmed_size: object = None

    @property
    def ok(self) -> bool:
        return abs(self.full - self.trimmed) <= self.allowed


def spread(r: Record) -> float:
    """Half the p20–p80 spread of a record, relative to its median (0 when it was not timed)."""
    if not r.median_s or r.p20_s is None or r.p80_s is None:
        return 0.0
    if r.p80_s < r.p20_s:
        raise ValueError(f"{r.lab}.{r.variant}: p80_s {r.p80_s} is below p20_s {r.p20_s}; the record is corrupt")
    return (r.p80_s - r.p20_s) / (2 * r.median_s)


def runs(records: list) -> dict:
    """{(lab, dtype): [records of one size]}: the size with the most timed variants (the last one on a tie),
    which is the size the notebook ran the lab at."""
    by_size: dict = {}
    for r in records:
        if r.median_s:
            by_size.setdefault((r.lab, r.dtype), {}).setdefault(repr(r.size), []).append(r)
    # dicts keep insertion order, and max keeps the first of equals: reversed, a later size wins a tie
    return {key: max(reversed(list(sizes.values())), key=len) for key, sizes in by_size.items()}


def _baseline(group: list) -> Record | None:
    return next((r for r in group if r.speedup_vs_baseline == 1.0), None)


def compare(full: list, trimmed: list, floor: float = 0.05) -> tuple[list, list]:
    """(pairs compared, (lab, dtype) runs of the full file that the trimmed file lacks)."""
    if not 0 <= floor < 1:
        raise ValueError(f"floor is a relative allowance between 0 and 1 (e.g. 0.05), got {floor!r}")
    fr, tr = runs(full), runs(trimmed)
    pairs, missing = [], [k for k in fr if k not in tr]
    for key in fr:
        if key not in tr:
            continue
        fb, tb = _baseline(fr[key]), _baseline(tr[key])
        tvars = {r.variant: r for r in tr[key]}
        for f in fr[key]:
            t = tvars.get(f.variant)
            if t is None:
                continue
            sizes = dict(full_size=f.size, trimmed_size=t.size)
            if f.speedup_vs_baseline and t.speedup_vs_baseline and f is not fb:
                fs = spread(f) + (spread(fb) if fb else spread(f))
                ts = spread(t) + (spread(tb) if tb else spread(t))
                a, b = f.speedup_vs_baseline, t.speedup_vs_baseline
                pairs.append(Pair(f.lab, f.variant, f.dtype, "speedup", a, b,
                                  a * fs + b * ts + floor * max(a, b), **sizes))
            if f.ceiling_fraction and t.ceiling_fraction:
                a, b = f.ceiling_fraction, t.ceiling_fraction
                pairs.append(Pair(f.lab, f.variant, f.dtype, "ceiling fraction", a, b,
                                  a * spread(f) + b * spread(t) + floor * max(a, b), **sizes))
    return pairs, missing


def report(pairs: list, missing: list) -> str:
    from perflab.table import Table
    rows = [[f"{p.lab}.{p.variant}", p.dtype, p.metric, f"{p.full:.3g}", f"{p.trimmed:.3g}",
             f"±{p.allowed:.2g}", "ok" if p.ok else "OUTSIDE NOISE", f"{p.full_size} → {p.trimmed_size}"]
            for p in pairs]
    notes = [f"not in the trimmed file: {lab} ({dtype})" for lab, dtype in missing]
    bad = sum(not p.ok for p in pairs)
    notes.append(f"{len(pairs)} pairs compared, {bad} outside the noise")
    return str(Table(["lab.variant", "dtype", "metric", "full", "trimmed", "noise", "verdict", "size"],
                     rows, title="Trimmed run vs full run", notes=notes))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("full", help="results.json of the full-size run")
    p.add_argument("trimmed", help="results.json of the trimmed run")
    p.add_argument("--floor", type=float, default=0.05, help="relative allowance added to the spreads (0.05)")
    p.add_argument("--labs", nargs="*", help="only these labs (e.g. ch13.train_step)")
    args = p.parse_args(argv)
    _, full = read(args.full)
    _, trimmed = read(args.trimmed)
    if args.labs:
        full = [r for r in full if r.lab in args.labs]
        trimmed = [r for r in trimmed if r.lab in args.labs]
    pairs, missing = compare(full, trimmed, args.floor)
    print(report(pairs, missing))
    return 0 if all(p.ok for p in pairs) else 1


if __name__ == "__main__":
    sys.exit(main())
