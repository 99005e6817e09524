"""Answer to the chapter 20 exercise: launch the kernel with the config your tuner found.

The starter uses 32×32×32 tiles (correct, slow). On an H100/H200-class GPU, large tiles with 8 warps and a
3-stage pipeline keep the tensor cores fed; the exhaustive table of Lab 1 names the best for your device.
"""
from labs.ch20_tuning.candidates import TUNED, triton_matmul


def my_matmul(a, b):
    return triton_matmul(a, b, **TUNED)


from perflab.exercise import Ceiling, Exercise, Launched, Step  # noqa: E402

EXERCISES = [Exercise(
    "ch20.candidates", answer=my_matmul,
    evidence="H100 run 2026-12-07 at 4099×4097×4095 fp16: triton_small_tiles (the starter) 15% of the matmul "
             "ceiling, triton_tuned 31%, torch 21% (odd shapes); the old 60% target was above every variant, "
             "now 25%",
    steps=[Step("bigger tiles",
                hint="block_m × block_n of at least 64 × 64: each loaded A and B tile feeds more multiply-adds",
                cpu=[Launched({"BLOCK_M": 64, "BLOCK_N": 64})], gpu=[Launched({"BLOCK_M": 64, "BLOCK_N": 64})]),
           Step("deeper pipeline", hint="num_stages = 3 (and num_warps = 8 for a 128 × 256 tile)",
                cpu=[Launched({"num_stages": 3})], gpu=[Launched({"num_stages": 3}), Ceiling(at_least=0.25)])])]

__all__ = ["my_matmul", "EXERCISES"]
