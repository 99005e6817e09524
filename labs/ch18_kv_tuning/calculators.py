"""KV cache arithmetic: bytes per token, how many tokens fit a buffer or a GPU, and transfer time by page size.

The book's formula (L7295, L7896, L7975): K and V for every layer, KV head and channel,
``bytes_per_token = 2 × layers × kv_heads × head_dim × bytes_per_value``.

    >>> kv_bytes_per_token(80, 32, 128, 2)           # the book's 70B example (L7796): 1.31 MB
    1310720
    >>> tokens_per_buffer(2**30, 80, 8, 128, 2)      # a 1 GiB buffer, same model with 8 KV heads
    3276
    >>> round(transfer_seconds(7500, 327680, 16, 29e-6, 400) * 1e3, 1)   # 469 copies + 2.46 GB at 400 GB/s
    19.7
"""
from __future__ import annotations

import math
from perflab.validate import calculator_inputs

from labs.ch15_parallel_decoding.calculators import kv_bytes_per_token

BYTES = {"fp32": 4, "bf16": 2, "fp16": 2, "fp8": 1, "int8": 1, "int4": 0.5}

# name -> (layers, kv_heads, head_dim)
PRESETS = {
    "70B, 32 KV heads (book L7796)": (80, 32, 128),
    "70B, 8 KV heads (GQA)": (80, 8, 128),
    "40 layers × 16 heads × 64 (book L7898)": (40, 16, 64),
    "GPT-2 small (the course engine)": (12, 12, 64),
}


def kv_bytes(tokens: int, layers: int, kv_heads: int, head_dim: int, bytes_per_value: float = 2) -> float:
    """KV bytes of ``tokens`` tokens (one sequence, or the sum over a batch)."""
    return tokens * kv_bytes_per_token(layers, kv_heads, head_dim, bytes_per_value)


def tokens_per_buffer(buffer_bytes: float, layers: int, kv_heads: int, head_dim: int,
                      bytes_per_value: float = 2) -> int:
    """Whole tokens of KV that fit in ``buffer_bytes``."""
    return int(buffer_bytes // kv_bytes_per_token(layers, kv_heads, head_dim, bytes_per_value))


def kv_budget_gb(hbm_gb: float, weights_gb: float, reserve_gb: float = 0.0) -> float:
    """GPU memory left for KV on a decode worker: HBM − weights − activations/workspace (L7321)."""
    left = hbm_gb - weights_gb - reserve_gb
    if left < 0:
        raise ValueError(f"weights ({weights_gb} GB) + reserve ({reserve_gb} GB) exceed HBM ({hbm_gb} GB)")
    return left


def transfer_seconds(tokens: int, bytes_per_token: float, page_tokens: int, alpha_s: float, gbps: float) -> float:
    """Move one request's KV as one copy per page: pages × α + bytes / bandwidth."""
    if gbps <= 0 or alpha_s < 0 or page_tokens < 1:
        raise ValueError(f"need gbps > 0, alpha_s ≥ 0, page_tokens ≥ 1; got {gbps}, {alpha_s}, {page_tokens}")
    return math.ceil(tokens / page_tokens) * alpha_s + tokens * bytes_per_token / (gbps * 1e9)


def book_transfer_fit(tokens: int = 7500, small_ms: float = 20.0, large_ms: float = 8.0,
                      small: int = 16, large: int = 128) -> tuple[float, float]:
    """(α seconds per transfer, bytes-time seconds) implied by the book's 20 ms → 8 ms (L7941), via t = n·α + c."""
    n_small, n_large = math.ceil(tokens / small), math.ceil(tokens / large)
    alpha = (small_ms - large_ms) * 1e-3 / (n_small - n_large)
    return alpha, large_ms * 1e-3 - n_large * alpha


@calculator_inputs(positive="tokens hbm_gb")
def explain_kv(model: str, dtype: str, tokens: int, hbm_gb: float, weights_gb: float) -> str:
    """Calculator text: bytes per token, one request's KV, a 1 GiB buffer, and how many requests fit."""
    layers, heads, dim = PRESETS[model]
    b = BYTES[dtype]
    per_tok = kv_bytes_per_token(layers, heads, dim, b)
    req = tokens * per_tok
    budget = max(hbm_gb - weights_gb, 0.0)
    return (f"{model}, {dtype}: 2 × {layers} × {heads} × {dim} × {b} B = {per_tok / 1e6:,.3f} MB per token\n"
            f"  one {tokens:,}-token request: {req / 1e9:,.2f} GB of KV\n"
            f"  a 1 GiB transfer buffer holds {tokens_per_buffer(2**30, layers, heads, dim, b):,} tokens\n"
            f"  {hbm_gb:.0f} GB HBM − {weights_gb:.0f} GB weights = {budget:.0f} GB for KV → "
            f"{int(budget * 1e9 // req) if req else 0:,} such requests at once (before activations and fragmentation)")


@calculator_inputs(positive="tokens kib_per_token page_tokens link_gbps")
def explain_transfer(tokens: int, kib_per_token: float, page_tokens: int, overhead_us: float, link_gbps: float) -> str:
    """Calculator text: one copy per page, each with a fixed overhead, over a link."""
    per_tok = kib_per_token * 1024
    t = transfer_seconds(tokens, per_tok, page_tokens, overhead_us * 1e-6, link_gbps)
    copies = math.ceil(tokens / page_tokens)
    fixed = copies * overhead_us * 1e-6
    return (f"{tokens:,} tokens × {kib_per_token:,.0f} KiB = {tokens * per_tok / 1e9:,.2f} GB in {copies:,} copies of "
            f"{page_tokens} tokens: {t * 1e3:,.2f} ms ({fixed / t:.0%} of it per-copy overhead, "
            f"{tokens * per_tok / t / 1e9:,.1f} GB/s effective of {link_gbps:,.0f})")
