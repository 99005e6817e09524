"""Answer to the chapter 8 exercise; the kernel lives in its lab, so there is one copy of it.

Exercise (lab ``ch08.ilp_stream``): the starter streams y = a*x + b with one program of 4 warps for
each half SM (8 warps per SM, as if a big shared-memory buffer allowed no more) and one float per
thread in flight. By Little's law the loads in flight set the bandwidth, so the fix is more bytes per
thread: make each tile 16 floats per thread (TILE = 128 * 16). Triton issues all 16 loads of a
thread before the first store (as 16-byte vector loads when n is a multiple of 16). ``triton_ilp16`` is that
answer, a variant of the lab: ``triton_ilp16(x=..., a=..., b=...) -> y``.
"""
from labs.ch08_occupancy_ilp.ilp_stream import triton_ilp16

__all__ = ["triton_ilp16"]
