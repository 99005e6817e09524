"""Quantized KV cache: int8, fp8 (e4m3) and int4 storage with a full-precision recent window; memory vs error.

One layer's K or V is a ``(batch, heads, tokens, head_dim)`` tensor. :func:`quantize` keeps the most
recent ``window`` tokens as they are (bf16) and stores the older ones in fewer bits with a scale:

- int8, per token:   one scale per (token, head) = max|x| / 127 over head_dim; q = round(x / scale).
- int8, per channel: one scale per (head, channel) over the old tokens: robust to channels that are
                     large in every token, which per-token scales must stretch to cover.
- fp8 e4m3, per token: x / (max|x| / 448) cast to float8_e4m3fn (3 mantissa bits: ≤ 1/16 relative rounding).
- int4, per token in groups of 32 channels: q in [-7, 7], two values packed per byte.

Every element's round-trip error is at most half its scale (int8 / int4), and the window is exact.
Memory is counted from the tensors actually stored (codes + scales + window), not from a formula.

    >>> import torch
    >>> x = torch.randn(1, 2, 300, 64, dtype=torch.bfloat16)
    >>> qk = quantize(x, "int8", window=128)
    >>> round(qk.nbytes() / (x.numel() * 2), 3)            # codes + fp32 scales + 128 bf16 tokens
    0.731
    >>> torch.equal(qk.dequantize(torch.bfloat16)[..., -128:, :], x[..., -128:, :])
    True
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

KINDS = ("none", "int8", "fp8", "int4")
QMAX = {"int8": 127, "int4": 7, "fp8": 448.0}      # largest code magnitude (448: float8_e4m3fn's largest finite value)
INT4_GROUP = 32                                     # channels sharing one int4 scale


@dataclass
class QuantizedTensor:
    """K or V of one layer as stored: codes and scales for the old tokens, the recent window as is."""
    kind: str
    axis: str                 # "token" (scale per token and head) or "channel" (per channel and head)
    codes: torch.Tensor       # int8, float8_e4m3fn, or uint8 (two int4 per byte); old tokens only
    scale: torch.Tensor       # float32
    recent: torch.Tensor      # the last `window` tokens, original dtype
    shape: tuple              # of the whole tensor

    def nbytes(self) -> int:
        """Bytes held: codes + scales + recent window."""
        return sum(t.numel() * t.element_size() for t in (self.codes, self.scale, self.recent))

    def dequantize(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """The whole tensor back in ``dtype``: decoded old tokens followed by the exact recent window."""
        if self.kind == "none":
            old = self.codes.float()
        elif self.kind == "int4":
            old = _unpack_int4(self.codes, self.shape[-1]).float()
            old = (old.unflatten(-1, (-1, INT4_GROUP)) * self.scale).flatten(-2)
        else:
            old = self.codes.float() * self.scale
        return torch.cat([old.to(dtype), self.recent.to(dtype)], dim=-2)


def quantize(x: torch.Tensor, kind: str = "int8", axis: str = "token", window: int = 0) -> QuantizedTensor:
    """Store ``x`` (batch, heads, tokens, head_dim) with ``kind`` codes, keeping the last ``window`` tokens exact."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if axis not in ("token", "channel"):
        raise ValueError(f"axis must be 'token' or 'channel', got {axis!r}")
    if axis == "channel" and kind != "int8":
        raise ValueError(f"per-channel scales are implemented for int8 only, got kind={kind!r}; use axis='token'")
    if x.dim() != 4:
        raise ValueError(f"x must be (batch, heads, tokens, head_dim), got shape {tuple(x.shape)}")
    if window < 0:
        raise ValueError(f"window must be ≥ 0 tokens, got {window}")
    n_old = max(x.shape[2] - window, 0)
    old, recent = x[..., :n_old, :].float(), x[..., n_old:, :].clone()
    if kind == "none":
        return QuantizedTensor(kind, axis, x[..., :n_old, :].clone(), torch.empty(0), recent, tuple(x.shape))
    if kind == "int4":
        if x.shape[-1] % INT4_GROUP:
            raise ValueError(f"int4 groups {INT4_GROUP} channels; head_dim {x.shape[-1]} is not a multiple")
        groups = old.unflatten(-1, (-1, INT4_GROUP))                       # (B, H, T_old, D/32, 32)
        scale = _scale(groups.abs().amax(-1, keepdim=True), QMAX["int4"])
        codes = torch.round(groups / scale).clamp(-7, 7).to(torch.int8).flatten(-2)
        return QuantizedTensor(kind, axis, _pack_int4(codes), scale, recent, tuple(x.shape))
    reduce = -1 if axis == "token" else -2
    scale = _scale(old.abs().amax(reduce, keepdim=True), QMAX[kind]) if n_old else old.new_ones(1)
    if kind == "int8":
        codes = torch.round(old / scale).clamp(-127, 127).to(torch.int8)
    else:
        codes = (old / scale).to(torch.float8_e4m3fn)
    return QuantizedTensor(kind, axis, codes, scale, recent, tuple(x.shape))


def _scale(amax: torch.Tensor, qmax: float) -> torch.Tensor:
    return (amax / qmax).clamp_min(torch.finfo(torch.float32).tiny)     # an all-zero row keeps scale > 0


def _pack_int4(codes: torch.Tensor) -> torch.Tensor:
    """int8 codes in [-7, 7], last dim even -> uint8, two per byte (low nibble first)."""
    u = (codes & 0xF).to(torch.uint8)
    return u[..., 0::2] | (u[..., 1::2] << 4)


def _unpack_int4(packed: torch.Tensor, d: int) -> torch.Tensor:
    lo = (packed & 0xF).to(torch.int8)
    hi = (packed >> 4).to(torch.int8)
    both = torch.stack([lo, hi], dim=-1).flatten(-2)[..., :d]
    return torch.where(both > 7, both - 16, both)


def fp8_supported(device) -> bool:
    """float8_e4m3fn storage: on a GPU, sm_89+ (Ada, Hopper) converts natively; the CPU emulates it exactly."""
    device = torch.device(device)
    if device.type == "cpu":
        return hasattr(torch, "float8_e4m3fn")
    return torch.cuda.get_device_capability(device) >= (8, 9)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q kᵀ / √d) v in float32: decode queries (B, H, Q, D) over the whole cache (B, H, T, D)."""
    w = torch.softmax(q.float() @ k.float().transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1)
    return w @ v.float()
