"""Chapter 15's back-of-envelope models: KV bytes per token, expert capacity, all-to-all volume, pipeline
bubble, and the expected speedup of speculative decoding.

The book states none of these as formulas (digest ch15 §15.3); they are the standard derivations:

    linear intensity     = 2·m·k·n / (bytes · (m·k + k·n + m·n))  ≈ m / bytes when m ≪ k, n
    KV bytes per token   = 2 (K and V) · layers · kv_heads · head_dim · bytes per element
    expert capacity      = ceil(capacity_factor · tokens · top_k / experts)
    all-to-all bytes     = 2 (dispatch + combine) · tokens · top_k · hidden · bytes · (1 − local fraction)
    pipeline bubble      = (stages − 1) / (micro-batches + stages − 1)          (GPipe-style schedule)
    speculative decoding (Leviathan et al., 2023, "Fast Inference from Transformers via Speculative
    Decoding"): with per-token acceptance α and k draft tokens, one target pass yields on average
    E = (1 − α^(k+1)) / (1 − α) tokens, and a draft step costs c target steps, so the wall-clock
    speedup is E / (k·c + 1).

>>> kv_bytes_per_token(12, 12, 64, 2)          # GPT-2 small in fp16: 36 KiB per token
36864
>>> round(linear_intensity(1, 768, 3072, 2), 2), round(linear_intensity(256, 768, 3072, 2))   # decode vs batch 256
(1.0, 181)
>>> round(expected_tokens(0.8, 4), 3), round(speculative_speedup(0.8, 4, 0.1), 2)
(3.362, 2.4)
>>> pipeline_bubble(4, 1), pipeline_bubble(4, 13)
(0.75, 0.1875)
"""
from __future__ import annotations

import math
from perflab.validate import calculator_inputs


def _positive(**values):
    for name, v in values.items():
        if v <= 0:
            raise ValueError(f"{name} must be positive, got {v}")


def kv_bytes_per_token(layers: int, kv_heads: int, head_dim: int, dtype_bytes: float = 2) -> float:
    """K and V of one token across all layers (kv_heads < heads with grouped-query attention); whole bytes
    come back as an int (chapter 18's calculators use this one too)."""
    _positive(layers=layers, kv_heads=kv_heads, head_dim=head_dim, dtype_bytes=dtype_bytes)
    out = 2 * layers * kv_heads * head_dim * dtype_bytes
    return int(out) if float(out).is_integer() else out


@calculator_inputs(positive="layers heads kv_heads head_dim dtype_bytes context batch")
def explain_kv(layers=12, heads=12, kv_heads=12, head_dim=64, dtype_bytes=2, context=1024, batch=32) -> str:
    """Calculator text: KV bytes per token, per sequence and for a batch, and the GQA saving."""
    per = kv_bytes_per_token(layers, kv_heads, head_dim, dtype_bytes)
    full = kv_bytes_per_token(layers, heads, head_dim, dtype_bytes)
    total = per * context * batch
    gqa = f"; GQA keeps {kv_heads} of {heads} heads: {full / per:.1f}× less than full MHA" if kv_heads < heads else ""
    return (f"{layers} layers × {kv_heads} KV heads × {head_dim} dims × {dtype_bytes} B × 2 (K,V) = "
            f"{per / 1024:,.1f} KiB per token → {per * context / 2**20:,.1f} MiB per {context}-token sequence, "
            f"{total / 2**30:,.2f} GiB for a batch of {batch}{gqa}")


def linear_intensity(tokens: int, d_in: int, d_out: int, dtype_bytes: float) -> float:
    """FLOP per byte of one linear layer on ``tokens`` rows: 2·m·k·n over (inputs + weights + outputs) bytes.
    For m ≪ k, n it is about m / dtype_bytes: every token added reuses the same weights."""
    _positive(tokens=tokens, d_in=d_in, d_out=d_out, dtype_bytes=dtype_bytes)
    return 2 * tokens * d_in * d_out / (dtype_bytes * (tokens * d_in + d_in * d_out + tokens * d_out))


def explain_linear(tokens=1, d_model=768, dtype_bytes=2, ridge=200.0) -> str:
    """Calculator text: the MLP up-projection (d → 4d) for a number of tokens, against a ridge point."""
    i = linear_intensity(tokens, d_model, 4 * d_model, dtype_bytes)
    bound = "memory-bound: time ≈ weight bytes / bandwidth, nearly flat in tokens" if i < ridge else \
        "compute-bound: time grows with tokens"
    return (f"{tokens} token(s) × {d_model}→{4 * d_model} at {dtype_bytes} B: {i:,.1f} FLOP/B vs ridge "
            f"{ridge:,.0f} FLOP/B → {bound}")


def expert_capacity(capacity_factor: float, tokens: int, top_k: int, experts: int) -> int:
    """Token slots per expert: ceil(CF · tokens · top_k / experts); assignments beyond it are dropped
    (or rerouted)."""
    _positive(capacity_factor=capacity_factor, tokens=tokens, top_k=top_k, experts=experts)
    return math.ceil(capacity_factor * tokens * top_k / experts - 1e-9)


def all_to_all_bytes(tokens: int, top_k: int, hidden: int, dtype_bytes: float, ep_ranks: int,
                     local_fraction: float | None = None) -> float:
    """Bytes one MoE layer sends across GPUs: each (token, expert) pair whose expert lives on another rank
    goes there (dispatch) and comes back (combine). With uniform routing the local fraction is 1/ep_ranks."""
    _positive(tokens=tokens, top_k=top_k, hidden=hidden, dtype_bytes=dtype_bytes, ep_ranks=ep_ranks)
    local = 1 / ep_ranks if local_fraction is None else local_fraction
    if not 0 <= local <= 1:
        raise ValueError(f"local_fraction must be in [0, 1], got {local}")
    return 2 * tokens * top_k * hidden * dtype_bytes * (1 - local)


@calculator_inputs(positive="tokens top_k hidden dtype_bytes ep_ranks link_gbps")
def explain_all_to_all(tokens=8192, top_k=2, hidden=4096, dtype_bytes=2, ep_ranks=8, link_gbps=400.0) -> str:
    b = all_to_all_bytes(tokens, top_k, hidden, dtype_bytes, ep_ranks)
    per_rank = b / ep_ranks
    return (f"{tokens} tokens × top-{top_k} × {hidden} × {dtype_bytes} B × 2 (dispatch+combine) × "
            f"(1 − 1/{ep_ranks}) = {b / 2**20:,.1f} MiB per MoE layer; {per_rank / 2**20:,.1f} MiB leave each "
            f"rank → {per_rank / (link_gbps * 1e9) * 1e3:,.3f} ms per layer at {link_gbps:g} GB/s per rank")


def pipeline_bubble(stages: int, microbatches: int) -> float:
    """Idle fraction of a GPipe-style pipeline: (p − 1) / (m + p − 1)."""
    _positive(stages=stages, microbatches=microbatches)
    return (stages - 1) / (microbatches + stages - 1)


@calculator_inputs(positive="stages microbatches step_ms")
def explain_bubble(stages=4, microbatches=8, step_ms=10.0) -> str:
    f = pipeline_bubble(stages, microbatches)
    total = step_ms * (microbatches + stages - 1) / microbatches
    return (f"{stages} stages, {microbatches} micro-batches: bubble {f:.1%} of the schedule; a batch that "
            f"takes {step_ms:g} ms of stage work per micro-batch set finishes in {total:.2f} ms. Decode with "
            f"one micro-batch (m = 1) idles {pipeline_bubble(stages, 1):.0%} of the GPUs")


def expected_tokens(alpha: float, k: int) -> float:
    """Mean tokens one target pass yields: accepted drafts plus the target's own token,
    (1 − α^(k+1)) / (1 − α); k + 1 when α = 1."""
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha (acceptance rate) must be in [0, 1], got {alpha}")
    if k < 0:
        raise ValueError(f"k (draft tokens) must be ≥ 0, got {k}")
    return k + 1.0 if alpha == 1 else (1 - alpha ** (k + 1)) / (1 - alpha)


def speculative_speedup(alpha: float, k: int, c: float, verify: float = 1.0) -> float:
    """Leviathan et al.'s wall-clock speedup E / (k·c + 1); ``verify`` generalises the 1 to the measured
    cost of a (k+1)-token target pass in target steps (the formula assumes 1: a memory-bound pass)."""
    if c < 0 or verify <= 0:
        raise ValueError(f"cost ratios must be non-negative (c={c}, verify={verify})")
    return expected_tokens(alpha, k) / (k * c + verify)


def best_k(alpha: float, c: float, k_max: int = 16) -> int:
    """The draft length that maximises the predicted speedup."""
    return max(range(1, k_max + 1), key=lambda k: speculative_speedup(alpha, k, c))


def alpha_for_speedup(speedup: float, k: int, c: float) -> float | None:
    """The acceptance rate at which k drafts of cost c give ``speedup``; None if even α = 1 cannot."""
    if speculative_speedup(1.0, k, c) < speedup:
        return None
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if speculative_speedup(mid, k, c) < speedup else (lo, mid)
    return hi


@calculator_inputs(positive="k", fraction="alpha c")
def explain_speculative(alpha=0.8, k=4, c=0.1) -> str:
    e = expected_tokens(alpha, k)
    s = speculative_speedup(alpha, k, c)
    kb = best_k(alpha, c)
    return (f"α={alpha:.2f}, k={k}, c={c:.2f}: {e:.2f} tokens per target pass, cost {k * c + 1:.2f} target "
            f"steps → speedup {s:.2f}×; best k here is {kb} ({speculative_speedup(alpha, kb, c):.2f}×)")
