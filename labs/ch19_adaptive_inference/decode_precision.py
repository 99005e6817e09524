"""Lab: one decode step of the course engine at batch 1, per rung of the precision ladder (bf16 → int8 → fp8).

At batch 1 a decode step multiplies one token's activations by every weight matrix once: 2 FLOPs per
weight and 2 bytes per weight in bf16. That is far left of any GPU's ridge point, so the step is bound by
how many weight bytes it reads, and halving them (int8 or fp8) can almost halve the step — if the kernel
reads the 1-byte weights directly. On a GPU each variant is timed as CUDA-graph replays (no L2 flush),
the way serving engines run decode, so Python launch overhead does not hide the bytes.

The model has random weights, so the logits measure *numerics*, not quality. The check gate compares
each rung's logits with fp32's, with tolerances set from measured errors on these models (normwise, at
GPT-2 small's depth: bf16 about 1.2%, int8 about 3%, fp8 about 11%, errors growing with depth) — loose
enough for honest rounding, far below the ~100% of a broken step (the planted bugs in the tests); the
ladder table reports the actual errors and greedy-token agreement.
"""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch

from labs.ch19_adaptive_inference import engine

TITLE = "One decode step at batch 1 (logits of the next token) per weight precision"
# (d_model, n_layers, context). gpu: a wide, shallow model (0.8 B parameters, 1.2 GB of bf16 weights read
# per step), then GPT-2 small's shape, where 200+ small kernels per step cost more than its weight bytes
SIZES = {"gpu": [(4096, 2, 127), (768, 12, 127)], "cpu": [(128, 2, 31), (192, 3, 45)]}
DTYPES = ["bfloat16"]
OPTIONS = pl.LabOptions(gate_note=(
    "a batch-1 decode step of a 4,096-wide, 2-layer model, replayed from a CUDA graph (no launch cost): a "
    "chain of dependent kernels, GEMVs over 32 MB of bf16 weights with small elementwise kernels between "
    "them, each too short for its ramp-up and tail to vanish, so no rung reaches the copy rate (not yet "
    "read with counters); the ladder's lesson is the bytes per weight and what each format costs to read."),
    timing="cudagraph" if torch.cuda.is_available() else "auto")


def make_inputs(size, device="cpu", dtype="bfloat16", seed: int = 0) -> dict:
    return engine.make_inputs(size, device, dtype, seed)


def reference(model, prompt, token) -> torch.Tensor:
    return engine.decode_step("fp32", model, prompt, token)


def bytes(size, dtype="bfloat16") -> int:
    """Weights one step must read at 1 byte each (the int8/fp8 rungs) plus the KV cache in bf16: the bf16
    rung reads twice the weight bytes, so it can reach at most about half of this lab's ceiling."""
    cfg = engine.config_for(size)
    d, L, V = cfg.d_model, cfg.n_layers, cfg.vocab_size
    linear_weights = L * 12 * d * d + V * d
    kv = 2 * L * d * (size[2] + 1) * 2
    return linear_weights + kv


def flops(size, dtype="bfloat16") -> int:
    cfg = engine.config_for(size)
    d, L, V = cfg.d_model, cfg.n_layers, cfg.vocab_size
    return 2 * (L * 12 * d * d + V * d) + 4 * L * d * (size[2] + 1)      # matmuls + attention over the cache


@pl.variant(precision="bfloat16", tol=3e-2, note="bf16 weights and activations: 2 bytes per weight")
def bf16(model, prompt, token):
    return engine.decode_step("bf16", model, prompt, token)


@pl.variant(precision="float32", tol=1e-4, note="fp32 master weights: 4 bytes per weight")
def fp32(model, prompt, token):
    return engine.decode_step("fp32", model, prompt, token)


@pl.variant(precision="bfloat16", tol=6e-2,
            note="int8 weights widened to bf16 by torch before each matmul: a 2-byte copy per weight per step")
def int8_torch(model, prompt, token):
    return engine.decode_step("int8_torch", model, prompt, token)


@pl.variant(backend="triton", precision="bfloat16", tol=6e-2,
            note="int8 weights read by the fused Triton GEMV: 1 byte per weight")
def int8_triton(model, prompt, token):
    return engine.decode_step("int8_triton", model, prompt, token)


@pl.variant(needs="sm_89", precision="float8", tol=0.25,
            note="e4m3 weights and activations on fp8 tensor cores (torch._scaled_mm): 1 byte per weight")
def fp8(model, prompt, token):
    return engine.decode_step("fp8", model, prompt, token)


variants = [bf16, fp32, int8_torch, int8_triton, fp8]
