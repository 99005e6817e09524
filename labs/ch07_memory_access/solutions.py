"""Answers to the chapter 7 exercises; the kernels live in their labs, so there is one copy of each.

Exercise (lab ``ch07.saxpy2d``): the starter kernel lets neighbouring lanes walk down a column of a
row-major matrix, so a warp's 32 loads land ``cols`` floats apart and touch 32 sectors. The fix is
to give neighbouring lanes neighbouring columns: then the row-major address ``r*cols + c`` is the
flat lane index itself and a warp reads 128 consecutive bytes (4 sectors). ``row_walk`` is that
answer, a variant of the lab: ``row_walk(x=..., a=..., b=...) -> y``.

Exercise (lab ``ch07.aos_soa``, deep notebook): the starter kernel reads each particle's fields from its
64-byte record, so neighbouring lanes load floats 16 apart: a sector per lane. The fix reads field ``f``
from its own array, ``soa_ptr + f * field_stride + i``: 32 lanes, 128 consecutive bytes, 4 sectors.
``triton_soa`` is that answer, a variant of the lab: ``triton_soa(aos=..., soa=..., dt=...) -> (3, N)``.
"""
from labs.ch07_memory_access.aos_soa import triton_soa
from labs.ch07_memory_access.saxpy2d import row_walk
from perflab.exercise import Ceiling, Exercise, Sectors, Step

# Sectors stays a CPU criterion: it probes the answer on CPU tensors, which a compiled (GPU) Triton launch refuses.
EXERCISES = [
    Exercise("ch07.saxpy2d", answer=row_walk,
             evidence="H100 reference (491d8e4) at (12007, 13001): the starter column_walk 10% of the copy ceiling, "
                      "row_walk 94%",
             steps=[Step("neighbouring lanes take neighbouring columns",
                         hint="r, c = t // cols, t % cols: then r*cols + c is t itself and 32 lanes read 128 bytes "
                              "in a row",
                         cpu=[Sectors(at_most=4.5)], gpu=[Ceiling(at_least=0.8)])]),
    Exercise("ch07.aos_soa", answer=triton_soa,
             evidence="H100 run 2026-12-07 at 40,000,003 particles: triton_aos 39% of the copy ceiling, triton_soa "
                      "99% (the 85% target sits between them, as ch07's SoA claim does)",
             steps=[Step("read each field from its own array",
                         hint="load soa_ptr + f * field_stride + i (and 3 + f for the velocity): neighbouring lanes "
                              "then read neighbouring floats, 4 sectors per 32 lanes instead of 32",
                         cpu=[Sectors(at_most=4.5, size=1_000)],
                         gpu=[Ceiling(at_least=0.85)])]),
]

__all__ = ["row_walk", "triton_soa", "EXERCISES"]
