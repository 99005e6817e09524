"""Answer to the chapter 2 exercise (lab ``ch02.cache_ladder``).

The starter launches one reduction per pass from Python: correct, but each pass is a separate launch and a
separate read of a buffer that may not survive in cache between launches. The answer reads all passes in
one launch: the lab's ``triton_rotating_read`` (or, in PyTorch, ``torch_expand_sum``, which sums a stride-0
view so one kernel re-reads the buffer).
"""
from labs.ch02_hardware.cache_ladder import torch_expand_sum, triton_rotating_read


from perflab.exercise import Ceiling, Exercise, Kernels, Step  # noqa: E402

EXERCISES = [Exercise(
    "ch02.cache_ladder", answer=torch_expand_sum,
    evidence="H100 run 2026-12-07: torch_expand_sum 89-103% of the copy ceiling at every size, triton_rotating_read "
             "100-260% (cache-resident re-reads); the starter's per-pass sum failed correctness there (float32 "
             "accumulation across passes, 2.6e-5 > 1e-5)",
    steps=[Step("read every pass in one launch",
                hint="sum a stride-0 view: x.expand(passes, -1).sum() re-reads x inside one kernel",
                cpu=[Kernels(at_most=2)], gpu=[Kernels(at_most=2), Ceiling(at_least=0.8)])])]

__all__ = ["triton_rotating_read", "torch_expand_sum", "EXERCISES"]
