"""Answer to the chapter 8 exercise; the kernel lives in its lab, so there is one copy of it.

Exercise (lab ``ch08.ilp_stream``): the starter streams y = a*x + b with one program of 4 warps for
each half SM (8 warps per SM, as if a big shared-memory buffer allowed no more) and one float per
thread in flight. By Little's law the loads in flight set the bandwidth, so the fix is more bytes per
thread: make each tile 16 floats per thread (TILE = 128 * 16). Triton issues all 16 loads of a
thread before the first store (as 16-byte vector loads when n is a multiple of 16). ``triton_ilp16`` is that
answer, a variant of the lab: ``triton_ilp16(x=..., a=..., b=...) -> y``.
"""
from labs.ch08_occupancy_ilp.ilp_stream import triton_ilp16


from perflab.exercise import Ceiling, Exercise, PerThread, Step  # noqa: E402

EXERCISES = [Exercise(
    "ch08.ilp_stream", answer=triton_ilp16,
    evidence="H100 run 2026-12-07 at 33.5M floats: triton_ilp1 (the starter's shape) 20% of the copy ceiling, "
             "triton_ilp16 82%",
    steps=[Step("more floats in flight per thread",
                hint="TILE = 128 * 16: each of the 128 threads of 4 warps loads 16 floats before it stores one",
                cpu=[PerThread("TILE", at_least=8)], gpu=[PerThread("TILE", at_least=8), Ceiling(at_least=0.6)])])]

__all__ = ["triton_ilp16", "EXERCISES"]
