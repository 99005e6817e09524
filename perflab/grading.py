"""Grade an exercise: correct at several non-aligned sizes and seeds, then each graded step of this tier (perflab.exercise)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from perflab import exercise, validate
from perflab.check import BadReference, poison_allocator
from perflab.lab import info, load


@dataclass
class Grade:
    lab: str
    correct: bool
    fraction: float | None = None        # of the measured ceiling, on a GPU
    target: float | None = None
    lines: list = field(default_factory=list)
    failed: list = field(default_factory=list)     # "step N · criterion: measured" of each criterion that failed
    steps_graded: int = 0                           # how many of the exercise's steps were checked on this tier

    @property
    def passed(self) -> bool:
        if not self.correct or self.failed:
            return False
        return self.fraction is None or self.target is None or self.fraction >= self.target

    def __bool__(self):
        return self.passed

    def __repr__(self):
        if not self.passed:
            head = "❌ NOT YET"
        elif self.fraction is None and not self.steps_graded:
            head = "✅ CORRECT (speed not graded here)"
        else:
            head = "✅ PASS"
        return "\n".join([f"{head} · {self.lab}"] + [f"  {line}" for line in self.lines])


def grade(lab, fn: Callable, *, seeds: tuple[int, ...] = (11, 12), target: float | None = None,
          sizes: list | None = None) -> Grade:
    """Check ``fn`` against the lab's reference at every size of this tier (and the cpu sizes), with
    fresh seeds; then, when the lab has an exercise (``EXERCISES`` in its chapter's solutions.py), check
    each of its steps for this tier in order: structure on the CPU (kernels, host syncs, bytes moved,
    streams, launch shape, sectors per request) and speed on a GPU (fraction of the measured ceiling,
    or a speedup), each criterion printed with its numbers. Without an exercise, or with an explicit
    ``target``, a GPU compares the fraction of the measured ceiling with ``target`` (default: TARGET).

    ``sizes``: check correctness at these sizes only (default: every size of this tier and the CPU's).
    The committed starter of an exercise runs, so CI executes it; it fails a step on every tier.
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
    given_target = target
    if target is not None:
        validate.number("target", target)
    e = env()
    target = lab.target if target is None else target
    g = Grade(lab.name, correct=True, target=target)
    if sizes is not None and (isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__") or not list(sizes)):
        raise ValueError(f"sizes is a non-empty list of the lab's sizes such as {lab.SIZES['cpu'][:1]}, got {sizes!r}")
    sizes = list(dict.fromkeys([*lab.SIZES["cpu"], *lab.SIZES[e.tier]])) if sizes is None else list(sizes)
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
    ex = exercise.find(lab)
    if ex is not None and given_target is None:
        _grade_steps(g, lab, fn, ex, e.tier)
        return g
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


def _grade_steps(g: Grade, lab, fn, ex, tier: str) -> None:
    """Check each step's criteria for this tier in order; show every result and the first failing step's hint."""
    from perflab.machine import device
    steps = [s for s in ex.steps if s.criteria(tier)]
    if not steps:
        g.lines.append(f"· nothing beyond correctness is graded on the {tier} tier for this exercise")
        return
    size = ex.size.get(tier, lab.SIZES[tier][0])
    inputs = lab.make_inputs(size, device(), lab.DTYPES[0], 11)
    p, out = exercise.probe(fn, inputs)
    ctx = exercise.Context(lab, fn, size, lab.DTYPES[0], inputs, p, out)
    hinted = False
    g.steps_graded = len(steps)
    for i, step in enumerate(steps, 1):
        results = [(type(c).__name__, *c.check(ctx)) for c in step.criteria(tier)]
        ok = all(r[1] for r in results)
        g.lines.append(f"{'✅' if ok else '❌'} step {i}/{len(steps)} · {step.title}")
        for name, passed, measured in results:
            g.lines.append(f"    {'✓' if passed else '✗'} {measured}")
            if not passed:
                g.failed.append(f"step {i} · {name}: {measured}")
        if not ok and not hinted and step.hint:
            g.lines.append(f"    hint: {step.hint}")
            hinted = True
