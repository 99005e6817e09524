"""Propose → verify → keep: a candidate is kept only if it is right at every check size and faster than
the one kept before it. A candidate that is faster but wrong is rejected, with what it would have won."""
from __future__ import annotations

from dataclasses import dataclass

import perflab as pl
from perflab.check import compare
from perflab.measure import format_time
from perflab.table import Table

from labs.ch20_tuning.objectives import EXACT, Objective


@dataclass
class Candidate:
    label: str
    config: tuple
    shortcut: int = EXACT          # a planted shortcut (objectives.SHORTCUTS); EXACT for honest candidates


def verify(obj: Objective, cand: Candidate, seed: int = 1) -> str | None:
    """None if ``cand`` matches the reference at every check size, else why not."""
    for size in obj.check_sizes:
        inputs = obj.make_inputs(size, seed)
        check = compare(obj.run(cand.config, cand.shortcut, **inputs), obj.reference(**inputs), obj.precision)
        if not check.ok:
            return f"wrong at size {size}: {check.reason}"
    return None


def loop(obj: Objective, candidates: list[Candidate], rep_ms: float = 20, verify_sizes=None) -> tuple[Table, Candidate]:
    """Run the loop over ``candidates`` in order; return its log and the candidate kept at the end.

    ``verify_sizes`` narrows the check sizes (e.g. to the aligned one only) to show what a weaker
    verifier lets through."""
    checker = obj if verify_sizes is None else obj.checked_at(verify_sizes)
    inputs = obj.make_inputs(obj.size, 0)
    kept, kept_s, rows = None, float("inf"), []
    for cand in candidates:
        seconds = pl.bench(lambda: obj.run(cand.config, cand.shortcut, **inputs), rep_ms=rep_ms, warmup_ms=5).median
        vs = f"{kept_s / seconds:.2f}×" if kept else "—"
        why = verify(checker, cand)
        if why:
            verdict = f"rejected: {why}"
        elif seconds < kept_s:
            verdict, kept, kept_s = "kept", cand, seconds
        else:
            verdict = "correct, not faster: dropped"
        rows.append([cand.label, obj.space.label(cand.config), format_time(seconds), vs, verdict])
    table = Table(["candidate", "config", "time", "speedup vs kept so far", "verdict"], rows,
                  title=f"Propose → verify → keep · {obj.what}",
                  notes=[f"verified at sizes {checker.check_sizes} against a float64 reference, then timed at "
                         f"{obj.size}"])
    return table, kept


def candidates_from(trace, n_honest: int = 3) -> list[Candidate]:
    """What a proposer would hand the verifier: a slower honest config, the two shortcuts applied to the
    best config found (faster, wrong), then the best honest configs."""
    from labs.ch20_tuning.objectives import DROP_K_TAIL, SKIP_HALF_K
    ranked = [c for c, _ in sorted(zip(trace.configs, trace.times), key=lambda ct: ct[1]) if c is not None]
    best, slow = ranked[0], ranked[len(ranked) // 2]
    return ([Candidate("proposal 1", slow), Candidate("proposal 2: skips half the work", best, SKIP_HALF_K),
             Candidate("proposal 3: drops the tail", best, DROP_K_TAIL)]
            + [Candidate(f"proposal {4 + i}", c) for i, c in enumerate(ranked[:n_honest])])
