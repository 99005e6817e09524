"""Answer to the chapter 9 exercise; the kernel lives in its lab, so there is one copy of it.

Exercise (lab ``ch09.rmsnorm``): the starter runs RMSNorm as six eager PyTorch ops, each a kernel that
reads and writes full-size tensors (about 28 bytes per element for float32). The fused answer gives each
row to one Triton program, which loads the row once into registers, reduces the sum of squares, and
writes ``x · rsqrt(mean + ε) · w`` once: 8 bytes per element, the minimum. It is the lab's
``triton_fused`` variant: ``triton_fused(x=..., w=...) -> y``.
"""
from labs.ch09_arithmetic_intensity.rmsnorm import triton_fused


import torch  # noqa: E402

from labs.ch09_arithmetic_intensity.attention_prefill import tiled_online_softmax  # noqa: E402
from perflab.exercise import Ceiling, Exercise, Holds, Kernels, Step, Traffic  # noqa: E402


def tf32_matmul(a, b):
    """The appendix exercise's answer: allow TF32 for fp32 matmuls (one word: "high"), then a plain a @ b."""
    torch.set_float32_matmul_precision("high")
    return a @ b


tf32_matmul.perflab = __import__("perflab").lab.VariantInfo(precision="tf32")


def _tf32_allowed(c):
    p = torch.get_float32_matmul_precision()
    return p != "highest", f"torch.get_float32_matmul_precision() is {p!r} (TF32 needs 'high' or 'medium')"


EXERCISES = [
    Exercise("ch09.rmsnorm", answer=triton_fused,
             evidence="H100 reference (491d8e4) at (32771, 4099): the starter 25% of the copy ceiling, "
                      "triton_fused 94%",
             steps=[Step("one kernel per call",
                         hint="give each row to one Triton program: load the row, sum its squares, write "
                              "x · rsqrt(mean + eps) · w (l2norm's kernel is the model)",
                         cpu=[Kernels(at_most=1)], gpu=[Kernels(at_most=1)]),
                    Step("read x once, write y once",
                         hint="no full-size temporaries: x*x and the scaled x stay in registers",
                         cpu=[Traffic(at_most=1.5)], gpu=[Ceiling(at_least=0.75)])]),
    Exercise("ch09.attention_prefill", answer=tiled_online_softmax,
             evidence="a correctness exercise (the online-softmax rescale): the starter's sums are wrong on "
                      "every tier, so correctness is the grade; its speed is the lab's, not the lesson",
             steps=[]),
    Exercise("ch09.precision_ladder", answer=tf32_matmul,
             evidence="H100 run 2026-12-07 at 8191×8192×8192: strict fp32 (the starter) 14% of the TF32 ceiling; "
                      "the tf32 variant 96%",
             steps=[Step("let fp32 matmuls use TF32",
                         hint='torch.set_float32_matmul_precision("high")',
                         cpu=[Holds("TF32 allowed", _tf32_allowed)],
                         gpu=[Holds("TF32 allowed", _tf32_allowed), Ceiling(at_least=0.8)])]),
]

__all__ = ["triton_fused", "tiled_online_softmax", "tf32_matmul", "EXERCISES"]
