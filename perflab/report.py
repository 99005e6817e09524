"""A readable Markdown report of a results file: per lab, each variant against its measured ceiling."""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

from perflab import results
from perflab.measure import format_time
from perflab.roofline import Ceiling

MEMORY_GATE = 0.85      # a memory-bound lab's best variant should reach this fraction of its bandwidth


def _compute_bound(r) -> bool:
    c = Ceiling.of(r)
    return bool(c and c.kind == "compute")


def _rate(r) -> str:
    if _compute_bound(r) and r.tflops:
        return f"{r.tflops:,.3g} TFLOP/s"
    return f"{r.gbps:,.1f} GB/s" if r.gbps else "—"


def verdict(best) -> str:
    """One line on the best correct variant of a lab: how close to its ceiling, and whether that is enough."""
    if best is None or best.ceiling_fraction is None:
        return "no timed, correct variant"
    frac = best.ceiling_fraction
    if _compute_bound(best):
        return f"best `{best.variant}` at {frac:.0%} of the measured {best.ceiling} rate"
    ok = "meets" if frac >= MEMORY_GATE else "below"
    return f"best `{best.variant}` at {frac:.0%} of the measured {best.ceiling} bandwidth ({ok} the {MEMORY_GATE:.0%} gate)"


def below_gate(best) -> bool:
    c = Ceiling.of(best)
    return bool(c and c.kind == "bandwidth" and c.name == "copy" and best.ceiling_fraction is not None
                and best.ceiling_fraction < MEMORY_GATE)


def _exception(lab: str, best) -> list[str]:
    """Under the gate, the lab's written reason (its LabOptions gate_note), or a line saying none was given."""
    if not below_gate(best):
        return []
    from perflab.lab import load
    try:
        note = load(lab).options.gate_note
    except (ValueError, TypeError, ImportError):
        note = None
    return [f"> **Below the gate:** {note}" if note else "> **Below the gate, no reason written yet** "
            "(add gate_note to the lab's OPTIONS).", ""]


def _s(n: int) -> str:
    return "s" if n > 1 else ""


def _sources(runs: list, labs: set) -> list[str]:
    """Which run each lab's records come from (the last run that measured a lab replaced its records)."""
    latest = {lab.strip(): i for i, run in enumerate(runs) for lab in run.get("labs", "").split(",") if lab.strip()}
    counts = Counter(latest.values())             # run index -> labs whose records it wrote last
    lines = [f"- {run.get('date', '?')[:10]} · commit {run.get('commit', '?')} · {n} lab{_s(n)} · "
             f"{run.get('how', '')}" for i, run in enumerate(runs) if (n := counts[i])]
    unlogged = len(labs - set(latest))
    if unlogged and lines:
        lines.append(f"- {unlogged} more lab{_s(unlogged)}: runs merged before the manifest logged runs")
    return ["Where the records come from:", ""] + lines + [""] if lines else []


def markdown(path: "str | Path") -> str:
    """The report for one results file (data/reference/<device>.json or a workbook's results.json)."""
    manifest, records = results.read(path)
    out = [f"# perflab report · {manifest.get('device', '?')}", "",
           f"Measured {manifest.get('date', '?')[:10]} · torch {manifest.get('torch')} · triton "
           f"{manifest.get('triton')} · driver {manifest.get('driver')} · commit {manifest.get('commit')}", ""]
    c = manifest.get("ceilings")
    if c:
        peaks = ", ".join(f"{k} {v:,.0f}" for k, v in c.get("matmul_tflops", {}).items())
        out += [f"Ceilings: copy {c['copy_gbps']:,.0f} GB/s · matmul TFLOP/s: {peaks}", ""]
    out += _sources(manifest.get("runs") or [], {r.lab for r in records})
    groups = defaultdict(list)
    for r in records:
        groups[(r.lab, json.dumps(r.size), r.dtype)].append(r)
    for (lab, size, dtype), recs in sorted(groups.items()):
        timed = [r for r in recs if r.correct and r.ceiling_fraction is not None]
        best = max(timed, key=lambda r: r.ceiling_fraction, default=None)
        out += [f"## {lab} · size {size} · {dtype}", "", verdict(best), ""] + _exception(lab, best) + [
                "| variant | median | rate | ceiling | % of ceiling | speedup vs baseline |",
                "|---|---|---|---|---|---|"]
        for r in recs:
            if not r.correct:
                out.append(f"| {r.variant} | wrong: not timed | | | | |")
                continue
            frac = f"{r.ceiling_fraction:.0%}" if r.ceiling_fraction is not None else "—"
            speed = f"{r.speedup_vs_baseline:.2f}×" if r.speedup_vs_baseline else "—"
            out.append(f"| {r.variant} | {format_time(r.median_s)} | {_rate(r)} | {r.ceiling or '—'} | {frac} "
                       f"| {speed} |")
        out.append("")
    return "\n".join(out + book_ratios(records))


def book_ratios(records) -> list[str]:
    """The book's time ratios (each chapter's book_check.RATIOS) beside the ones in this file."""
    from perflab.book import all_ratios, times
    rows = []
    for ratio in all_ratios():
        ours = ratio.ours(records)
        rows.append(f"| {ratio.claim} | {f'{ratio.book:.2g}×' if ratio.book else '—'} | "
                    f"{times(ours)} | {ratio.verdict(ours)} | {ratio.why} |")
    if not rows:
        return []
    return ["## The book's ratios", "",
            "Ours: the median of the 'before' variant over the 'after' one in this file. Reproduced: within ±25%.", "",
            "| claim | book | ours | verdict | why |", "|---|---|---|---|---|", *rows, ""]
