"""Answer to the chapter 20 exercise: launch the kernel with the config your tuner found.

The starter uses 32×32×32 tiles (correct, slow). On an H100/H200-class GPU, large tiles with 8 warps and a
3-stage pipeline keep the tensor cores fed; the exhaustive table of Lab 1 names the best for your device.
"""
from labs.ch20_tuning.candidates import TUNED, triton_matmul


def my_matmul(a, b):
    return triton_matmul(a, b, **TUNED)


__all__ = ["my_matmul"]
