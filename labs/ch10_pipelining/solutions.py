"""Answer to the chapter 10 exercise (lab ``ch10.stages``): tune the Triton matmul's knobs.

The starter multiplies 64×64 tiles with ``num_stages=1``: each K slice is loaded, waited for and only
then multiplied, and each small tile re-reads A and B many times. The answer is the lab's ``stages_3``:
the largest tile whose 4-stage ring fits the GPU's shared memory (128×256×64 with 8 warps on an
H100/H200: 48 KB per stage), three K slices in flight (two loading while one is multiplied: enough to
cover the load latency, cheaper in shared memory than four), and tiles handed out in bands of 8 rows so
the programs running together share operands in L2. ``tuned(a=..., b=...) -> C``.
"""
from labs.ch10_pipelining._matmul import tile_for
from labs.ch10_pipelining.stages import stages_3 as tuned


from labs.ch10_pipelining.tma_matmul import tma_persistent  # noqa: E402
from perflab.exercise import Ceiling, Exercise, Launched, Step  # noqa: E402


def _steps(gpu_target):
    return [Step("pipeline the loads",
                 hint="num_stages = 3 or 4: the next K tiles load while this one multiplies (mind shared memory)",
                 cpu=[Launched({"num_stages": 3})], gpu=[Launched({"num_stages": 3})]),
            Step("hand tiles out in bands",
                 hint="GROUP_M = 8: programs running together share rows of A and columns of B in L2",
                 cpu=[Launched({"GROUP_M": 4})], gpu=[Launched({"GROUP_M": 4}), Ceiling(at_least=gpu_target)])]


EXERCISES = [
    Exercise("ch10.stages", answer=tuned, steps=_steps(0.7),
             evidence="H100 run 2026-12-07 at 4097×4096×4096 bf16: stages_1 48%, stages_2 66%, stages_3 101% of "
                      "the matmul ceiling; the starter (64×64×32, 1 stage) 28%"),
    Exercise("ch10.tma_matmul", answer=tma_persistent, steps=_steps(0.7),
             evidence="H100 reference (491d8e4) at (4097, 4096, 4096) bf16: tma_persistent 103% of the matmul "
                      "ceiling, stages_3 102%, torch_matmul 104%"),
]

__all__ = ["tuned", "tile_for", "tma_persistent", "EXERCISES"]
