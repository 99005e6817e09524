"""Grade an exercise: correct at several non-aligned sizes and seeds, then (on a GPU) fast enough."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from perflab import validate
from perflab.check import BadReference, poison_allocator
from perflab.lab import info, load


@dataclass
class Grade:
    lab: str
    correct: bool
    fraction: float | None = None        # of the measured ceiling, on a GPU
    target: float | None = None
    lines: list = field(default_factory=list)

    @property
    def passed(self) -> bool:
        if not self.correct:
            return False
        return self.fraction is None or self.target is None or self.fraction >= self.target

    def __bool__(self):
        return self.passed

    def __repr__(self):
        if not self.passed:
            head = "❌ NOT YET"
        elif self.fraction is None:
            head = "✅ CORRECT (speed not graded here)"
        else:
            head = "✅ PASS"
        return "\n".join([f"{head} · {self.lab}"] + [f"  {line}" for line in self.lines])


def grade(lab, fn: Callable, *, seeds: tuple[int, ...] = (11, 12), target: float | None = None) -> Grade:
    """Check ``fn`` against the lab's reference at every size of this tier (and the cpu sizes), with
    fresh seeds; on a GPU, also time it at the lab's size and compare its fraction of the measured
    ceiling with ``target`` (default: the lab's TARGET).

    The committed starter of an exercise runs, so CI executes it; it is graded honestly (a slow
    but correct starter passes correctness and fails the speed target on a GPU).
    """
    from perflab.machine import device, env
    from perflab.runner import gate, run
    lab = load(lab)
    if not callable(fn):
        raise TypeError(f"grade needs your variant function, got {type(fn).__name__}")
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise TypeError(f"seeds is a tuple of ints such as seeds=(11, 12), got {type(seeds).__name__} {seeds!r}")
    seeds = tuple(validate.seed(s) for s in seeds)
    if not seeds:
        raise ValueError("seeds is empty: grade checks at least one seed, e.g. seeds=(11, 12)")
    if target is not None:
        validate.number("target", target)
    e = env()
    target = lab.target if target is None else target
    g = Grade(lab.name, correct=True, target=target)
    sizes = list(dict.fromkeys([*lab.SIZES["cpu"], *lab.SIZES[e.tier]]))
    for size in sizes:
        for seed in seeds:
            inputs = lab.make_inputs(size, device(), lab.DTYPES[0], seed)
            ref = lab.reference(**inputs)
            poison_allocator(ref)
            try:
                out = fn(**inputs)
            except Exception as exc:
                g.correct = False
                g.lines.append(f"❌ size {size}, seed {seed}: raised {type(exc).__name__}: {exc}")
                return g
            try:
                check = gate(lab, out, ref, info(fn), lab.DTYPES[0])
            except BadReference as exc:
                g.correct = False
                g.lines.append(f"💥 size {size}, seed {seed}: {exc}")
                return g
            if not check.ok:
                g.correct = False
                g.lines.append(f"❌ size {size}, seed {seed}: {check.reason}")
                return g
    g.lines.append(f"✅ correct at sizes {sizes}, seeds {list(seeds)}")
    if e.tier != "gpu":
        g.lines.append("· speed is graded on a GPU only (this is the cpu tier): run this cell on a GPU "
                       "to see your fraction of the measured ceiling")
        return g
    r = run(lab, variants=[fn], record=False)
    rec = r.records[0] if r.records else None
    if rec is None or rec.ceiling_fraction is None:
        g.lines.append("· not timed: " + (r.rows[0].why or "no measurement"))
        return g
    g.fraction = rec.ceiling_fraction
    verdict = "✅" if target is None or g.fraction >= target else "❌"
    goal = f" (target {target:.0%})" if target is not None else ""
    g.lines.append(f"{verdict} {g.fraction:.0%} of the measured {rec.ceiling} ceiling on {r.device}{goal}; "
                   f"median {rec.median_s * 1e3:.3f} ms")
    return g
