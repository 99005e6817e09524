"""Lab: the same bf16 decode step launched op by op (eager) or replayed from one captured CUDA graph.

Eager PyTorch launches every kernel of the step from Python: for GPT-2 small that is 200+ launches of a
few microseconds each, while the kernels themselves are tiny at batch 1. A CUDA graph records the whole
step once (the *warm-up*: a few eager runs, then a capture) and afterwards replays it with one launch.
The first call of each variant is timed apart (``first_call_s``): the graph's includes its capture.
"""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU

from perflab.cuda import capture   # chapter 12's recipe: side-stream warm-up, then capture
from labs.ch19_adaptive_inference import engine
from labs.ch19_adaptive_inference.decode_precision import (  # noqa: F401  (same step: inputs, fp32 answer, counts)
    bytes, flops, make_inputs, reference)

TITLE = "One bf16 decode step at batch 1: eager launches vs one CUDA-graph replay"
SIZES = {"gpu": [(768, 12, 127), (4096, 2, 127)], "cpu": [(128, 2, 31), (192, 3, 45)]}
DTYPES = ["bfloat16"]


OPTIONS = pl.LabOptions(gate_note=(
    "GPT-2 small decoding at batch 1: even replayed from a CUDA graph a step is a chain of small dependent "
    "kernels (a 768-wide GEMV is 1.2 MB of weights), each too short to reach the copy rate; the graph's gain "
    "over eager (several ×) is the launch cost removed."))


class GraphedStep:
    """A bf16 decode step captured once into a CUDA graph; ``__call__`` copies the token in and replays it."""

    def __init__(self, model, prompt, token):
        self.inner = engine.state(model, prompt, "bf16", static=True)   # fixed shapes: the full cache slab
        self.token = token.clone()                                      # the graph reads this buffer
        self.graph, self.logits = capture(lambda: self.inner.step(self.token), warmup=2)   # 2 warm-up steps
        self.graph.replay()                                             # the first real step

    def __call__(self, token):
        self.token.copy_(token)
        self.graph.replay()
        return self.logits


@pl.variant(precision="bfloat16", tol=3e-2, note="eager: every kernel launched from Python, every step")
def eager(model, prompt, token):
    return engine.decode_step("bf16", model, prompt, token)


@pl.variant(needs="cuda", precision="bfloat16", tol=3e-2,
            note="captured once (first call: 2 warm-up steps + capture), then one graph launch per step")
def cuda_graph(model, prompt, token):
    step = engine.cached(prompt, "graph", lambda: GraphedStep(model, prompt, token))
    return step(token).float()


variants = [eager, cuda_graph]
