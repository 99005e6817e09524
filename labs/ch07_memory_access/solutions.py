"""Answers to the chapter 7 exercises; the kernels live in their labs, so there is one copy of each.

Exercise (lab ``ch07.saxpy2d``): the starter kernel lets neighbouring lanes walk down a column of a
row-major matrix, so a warp's 32 loads land ``cols`` floats apart and touch 32 sectors. The fix is
to give neighbouring lanes neighbouring columns: then the row-major address ``r*cols + c`` is the
flat lane index itself and a warp reads 128 consecutive bytes (4 sectors). ``row_walk`` is that
answer, a variant of the lab: ``row_walk(x=..., a=..., b=...) -> y``.
"""
from labs.ch07_memory_access.saxpy2d import row_walk


from perflab.exercise import Ceiling, Exercise, Sectors, Step  # noqa: E402

EXERCISES = [Exercise(
    "ch07.saxpy2d", answer=row_walk,
    evidence="H100 run 2026-12-07: the starter 10% of the copy ceiling; row_walk was not recorded in that run "
             "(the 80% target follows ch07.copy_ladder's coalesced copy; the lead measures row_walk next)",
    steps=[Step("neighbouring lanes take neighbouring columns",
                hint="r, c = t // cols, t % cols: then r*cols + c is t itself and 32 lanes read 128 bytes in a row",
                cpu=[Sectors(at_most=4.5)], gpu=[Sectors(at_most=4.5), Ceiling(at_least=0.8)])])]

__all__ = ["row_walk", "EXERCISES"]
