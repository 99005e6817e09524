"""Answer to the chapter 6 exercise; the kernel lives in its lab, so there is one copy of it.

Exercise (lab ``ch06.first_kernel``): the starter launches the Triton saxpy with BLOCK=32 and one
warp per program: one element per thread and one warp per block, so the SM's limit of 32 resident
blocks caps it at 32 of 64 warps (50% occupancy on an H200) with only one 4-byte load per array in
flight per thread — too few bytes in flight to cover the memory latency. Giving each program more
elements and more warps fixes it: ``triton_saxpy`` (BLOCK=1024, 4 warps: 8 elements per thread) is
that answer, a variant of the lab: ``triton_saxpy(x=..., y=..., a=...) -> out``.
"""
from labs.ch06_gpu_architecture.first_kernel import triton_saxpy


from perflab.exercise import Ceiling, Exercise, PerThread, Step  # noqa: E402

EXERCISES = [Exercise(
    "ch06.first_kernel", answer=triton_saxpy,
    evidence="H100 run 2026-12-07: starter (BLOCK 32, 1 warp) 21% of the copy ceiling; triton_saxpy 99%",
    steps=[Step("give every thread several elements",
                hint="BLOCK = 1024 with num_warps = 4 is 8 elements per thread: more bytes in flight per thread",
                cpu=[PerThread("BLOCK", at_least=4)], gpu=[PerThread("BLOCK", at_least=4), Ceiling(at_least=0.8)])])]

__all__ = ["triton_saxpy", "EXERCISES"]
