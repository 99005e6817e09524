"""Answers to the chapter 19 exercise; the kernel lives in its lab module, so there is one copy of it.

Exercise (lab ``ch19.w8_gemv``): the starter widens the int8 weights with ``w.q.to(x.dtype)``, which
writes a full bf16 copy of W and reads it back in the matmul: 5 bytes of traffic per weight where 1
would do, so it is slower than simply keeping bf16 weights. The answer is a kernel that loads the int8
weights and widens them in registers, applying the per-channel scale once per output at the end:
``int8_triton(x=..., w=...) -> y``, which calls ``quant.int8_linear_triton`` (kernel in ``_w8_kernel``).
"""
from labs.ch19_adaptive_inference.w8_gemv import int8_triton


from perflab.exercise import Ceiling, Exercise, Step, Traffic  # noqa: E402

EXERCISES = [Exercise(
    "ch19.w8_gemv", answer=int8_triton,
    evidence="H100 run 2026-12-07 at (1, 20483, 20477) bf16: int8_torch (the starter's shape) 8.8% of the copy "
             "ceiling, int8_triton 65%",
    steps=[Step("never write a widened copy of W",
                hint="a Triton kernel loads int8 tiles, widens them in registers and scales at the end",
                cpu=[Traffic(at_most=1.5)], gpu=[Traffic(at_most=1.5), Ceiling(at_least=0.5)])])]

__all__ = ["int8_triton", "EXERCISES"]
