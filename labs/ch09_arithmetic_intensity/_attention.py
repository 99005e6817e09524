"""Plumbing shared by the attention labs: inputs, the float64 reference, SDPA with one backend forced."""
from __future__ import annotations

import math
import os

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch

from labs.ch09_arithmetic_intensity._common import nbytes  # noqa: F401  (A.nbytes in the attention labs)

# the SDPA backends a variant can force, by the name torch.nn.attention.SDPBackend gives them
BACKENDS = {"math": "MATH", "efficient": "EFFICIENT_ATTENTION", "flash": "FLASH_ATTENTION",
            "cudnn": "CUDNN_ATTENTION"}
HALF = (torch.bfloat16, torch.float16)


def interpreted() -> bool:
    """True when Triton runs under its CPU interpreter (checked for correctness, never timed)."""
    return os.environ.get("TRITON_INTERPRET") == "1"


def qkv(shape_q, shape_kv, device, dtype, seed) -> dict:
    """q (B, H, Sq, D) and k, v (B, H, Skv, D) of seeded random data; each head gets its own scale so
    that a kernel reading another head's keys cannot pass."""
    g = torch.Generator(device=device).manual_seed(seed)
    B, H = shape_q[:2]
    out = {}
    for name, shape in (("q", shape_q), ("k", shape_kv), ("v", shape_kv)):
        scale = 0.5 + torch.rand(B, H, 1, 1, generator=g, device=device)
        out[name] = (torch.randn(*shape, generator=g, device=device) * scale).to(getattr(torch, dtype))
    return out


def reference(q, k, v, causal: bool) -> torch.Tensor:
    """softmax(q kᵀ/√d [+ causal mask]) v in float64. Causal aligns the queries to the last keys (query i
    of Sq sees keys 0 .. Skv − Sq + i), which is what a decode step or a chunk of prefill needs. Heads are
    done a few at a time so the float64 score matrices stay under about 1 GB on any device."""
    B, H, sq, D = q.shape
    skv = k.shape[-2]
    qf, kf, vf = (t.reshape(B * H, t.shape[-2], D) for t in (q, k, v))
    out = torch.empty(B * H, sq, D, dtype=torch.float64, device=q.device)
    step = max(1, int(2**27 // max(sq * skv, 1)))
    keep = None
    if causal:
        keep = torch.arange(skv, device=q.device)[None, :] <= torch.arange(sq, device=q.device)[:, None] + skv - sq
    for i in range(0, B * H, step):
        s = qf[i:i + step].double() @ kf[i:i + step].double().transpose(-1, -2) / math.sqrt(D)
        if causal:
            s.masked_fill_(~keep, float("-inf"))
        out[i:i + step] = torch.softmax(s, dim=-1) @ vf[i:i + step].double()
    return out.view(B, H, sq, D)


def eager(q, k, v, causal: bool) -> torch.Tensor:
    """matmul → scale → mask → softmax → matmul: four kernels, the S×S score matrix written and read."""
    s = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(q.shape[-1]))        # (B, H, Sq, Skv) in memory
    if causal:
        sq, skv = q.shape[-2], k.shape[-2]
        keep = torch.ones(sq, skv, dtype=torch.bool, device=q.device).tril(skv - sq)
        s = s.masked_fill(~keep, float("-inf"))
    return torch.softmax(s, dim=-1) @ v


def sdpa(q, k, v, causal: bool, backend: str) -> torch.Tensor:
    """F.scaled_dot_product_attention with only ``backend`` allowed: it runs that kernel or raises."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    if backend in ("flash", "cudnn") and q.dtype not in HALF:
        raise ValueError(f"the {backend} SDPA backend takes bfloat16 or float16, got {q.dtype}; "
                         f"run the lab with dtype='bfloat16'")
    if backend == "cudnn" and not (torch.backends.cudnn.is_available() and hasattr(SDPBackend, "CUDNN_ATTENTION")):
        raise RuntimeError("cuDNN attention is not available in this torch build")
    chosen = getattr(SDPBackend, BACKENDS[backend])
    with sdpa_kernel([chosen]):
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal)


def sdpa_variant(backend: str, note: str, needs=(), causal: bool | None = None):
    """The lab variant ``sdpa_<backend>`` (:func:`sdpa` with that backend forced). ``causal=None``: the lab passes
    causal as an input (prefill); otherwise it is fixed (decode: the new token sees every cached key)."""
    if causal is None:
        def fn(q, k, v, causal):
            return sdpa(q, k, v, causal, backend)
    else:
        def fn(q, k, v):
            return sdpa(q, k, v, causal, backend)
    fn.__name__ = fn.__qualname__ = f"sdpa_{backend}"
    return pl.variant(backend="torch", needs=needs, note=note)(fn)


def versus_best(run, mine: str, guess: float | None = None) -> str:
    """One line: ``mine``'s speed as a fraction of the fastest timed SDPA backend in ``run`` (a LabRun)."""
    timed = {r.name: r.measurement.median for r in run.rows if r.measurement}
    sdpa = {n: t for n, t in timed.items() if n.startswith("sdpa_")}
    said = f"; you guessed {guess:.0%}" if guess is not None else ""
    if mine not in timed or not sdpa:
        return (f"{mine} vs the best SDPA backend: not timed on {run.device} (Triton is interpreted on the "
                f"cpu tier; the fused backends need a GPU){said}")
    best = min(sdpa, key=sdpa.get)
    return f"{mine} runs at {sdpa[best] / timed[mine]:.0%} of the speed of the fastest SDPA backend ({best}) on {run.device}{said}"


def intensity_table(lab) -> "object":
    """FLOP per byte of each of the lab's sizes on this tier: the fused minimum and eager's, with its scores."""
    from perflab.machine import env
    from perflab.table import Table
    rows = []
    for size in lab.SIZES[env().tier]:
        f, b = lab.flops(size), lab.bytes(size)
        extra = lab.score_bytes(size) if hasattr(lab, "score_bytes") else 0
        rows.append([str(size), f"{f / 1e9:,.2f}", f"{b / 1e6:,.1f}", f"{f / b:,.1f}",
                     f"{f / (b + extra):,.1f}" if extra else "—"])
    return Table(["size", "GFLOP", "MB (fused)", "FLOP/B fused", "FLOP/B eager"], rows,
                 f"{lab.TITLE.split(':')[0]}: arithmetic intensity at this tier's sizes (bf16)",
                 ["fused = read Q, K, V and write O once; eager adds the score matrix's round trips"])
