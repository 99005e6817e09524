"""Answers to the chapter 19 exercise; the kernel lives in its lab module, so there is one copy of it.

Exercise (lab ``ch19.w8_gemv``): the starter widens the int8 weights with ``w.q.to(x.dtype)``, which
writes a full bf16 copy of W and reads it back in the matmul: 5 bytes of traffic per weight where 1
would do, so it is slower than simply keeping bf16 weights. The answer is a kernel that loads the int8
weights and widens them in registers, applying the per-channel scale once per output at the end:
``int8_triton(x=..., w=...) -> y``, which calls ``quant.int8_linear_triton`` (kernel in ``_w8_kernel``).
"""
from labs.ch19_adaptive_inference.w8_gemv import int8_triton

__all__ = ["int8_triton"]
