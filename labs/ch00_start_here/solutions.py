"""The answer to Chapter 0's exercise: 2·x + 1 in one kernel (the lab's ``one_kernel``), and the exercise's graded steps."""
from labs.ch00_start_here.scale_shift import one_kernel
from perflab.exercise import Ceiling, Exercise, Kernels, Step

EXERCISES = [Exercise(
    "ch00.scale_shift", answer=one_kernel,
    evidence="H100 run 2026-12-07: starter (two kernels) 50% of the copy ceiling; one_kernel 100%, triton_fused 76%",
    steps=[Step("one kernel instead of two",
                hint="x * 2 + 1 is two kernels with a full-size temporary between them; torch.add(1, x, alpha=2) "
                     "(or one Triton kernel) reads x once and writes y once",
                cpu=[Kernels(at_most=1)], gpu=[Kernels(at_most=1), Ceiling(at_least=0.8)])])]

__all__ = ["one_kernel", "EXERCISES"]
