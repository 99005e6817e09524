"""Weight quantization for decode: int8 per-channel weights, fp8 (e4m3) weights, and Linear layers using them.

Two ways to store a weight matrix W (N output channels x K inputs) in one byte per number:

- **int8, per output channel** (weight-only, "W8A16"): ``W[n, k] ≈ q[n, k] * scale[n]`` with
  ``scale[n] = max_k |W[n, k]| / 127``. Activations stay bf16; the matmul widens q in registers.
  Round-to-nearest makes every weight's error at most ``scale[n] / 2``.
- **fp8 e4m3, per tensor** ("W8A8"): ``W ≈ q * s`` with q a float8_e4m3fn number (3 mantissa bits, max 448)
  and activations quantized the same way on the fly; ``torch._scaled_mm`` multiplies them on fp8 tensor
  cores (sm_89+; elsewhere the same rounding is emulated in fp32). Relative rounding error up to 2^-4 per
  number, for weights and activations both.

    >>> w = torch.tensor([[0.5, -1.0, 0.25], [2.0, 0.0, -0.7]])
    >>> iw = quantize_int8(w)
    >>> iw.q.tolist(), [round(s, 5) for s in iw.scale.tolist()]
    ([[64, -127, 32], [127, 0, -44]], [0.00787, 0.01575])
    >>> bool(((iw.dequantize() - w).abs() <= iw.scale[:, None] / 2).all())
    True
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import perflab  # noqa: F401  (first: sets TRITON_INTERPRET on machines without a GPU)
import torch
import torch.nn.functional as F
from torch import nn

INT8_MAX = 127
E4M3_MAX = 448.0                  # largest finite float8_e4m3fn
GEMV_MAX_ROWS = 4                 # the Triton GEMV kernel serves decode (few rows); prefill uses the torch path
KINDS = ("fp32", "bf16", "int8_torch", "int8_triton", "fp8")


# ---- int8, per output channel ------------------------------------------------------------------------

def _up16(n: int) -> int:
    return -(-n // 16) * 16


@dataclass(eq=False)
class Int8Weight:
    """An int8 weight matrix with one fp32 scale per output channel: W[n, k] ≈ q[n, k] * scale[n]."""
    q: torch.Tensor                 # (N, K) int8
    scale: torch.Tensor             # (N,) float32
    copies: dict = field(default_factory=dict, repr=False)   # other formats of the same weights, made on first use

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.q.shape)

    @property
    def nbytes(self) -> int:
        return self.q.numel() * self.q.element_size() + self.scale.numel() * self.scale.element_size()

    def dequantize(self, dtype=torch.float32) -> torch.Tensor:
        return (self.q.to(torch.float32) * self.scale[:, None]).to(dtype)


def empty_int8(n: int, k: int, device="cpu") -> torch.Tensor:
    """An (N, K) int8 matrix whose rows start 16 bytes apart (zero padding after column K), so a kernel can
    read every row with 16-byte vector loads; a view of an (N, K rounded up to 16) buffer."""
    return torch.zeros(n, _up16(k), dtype=torch.int8, device=device)[:, :k]


def quantize_int8(w: torch.Tensor) -> Int8Weight:
    """Symmetric per-output-channel int8: the largest |w| of each row maps to ±127."""
    if w.dim() != 2:
        raise ValueError(f"quantize_int8 takes an (N, K) weight matrix, got shape {tuple(w.shape)}")
    w32 = w.detach().float()
    scale = (w32.abs().amax(dim=1) / INT8_MAX).clamp_min(1e-12)   # an all-zero row: no division by zero
    q = empty_int8(*w.shape, device=w.device)
    q.copy_(torch.round(w32 / scale[:, None]).clamp_(-INT8_MAX, INT8_MAX))
    return Int8Weight(q, scale)


def int8_linear_torch(x: torch.Tensor, w: Int8Weight, bias: torch.Tensor | None = None) -> torch.Tensor:
    """x @ (q * scale)^T in plain torch: widen q to x's dtype (a full-size temporary), matmul, scale.

    Correct, and slower than bf16 for decode: it reads 1 byte, writes 2 and reads 2 again per weight."""
    y = F.linear(x, w.q.to(x.dtype)) * w.scale.to(x.dtype)
    return y if bias is None else y + bias


def int8_linear_triton(x: torch.Tensor, w: Int8Weight, bias: torch.Tensor | None = None) -> torch.Tensor:
    """x @ (q * scale)^T + bias with the int8 weights widened in registers: 1 byte read per weight."""
    import triton
    from labs.ch19_adaptive_inference._w8_kernel import blocks, w8_gemv_kernel
    n, k = w.shape
    if x.shape[-1] != k:
        raise ValueError(f"x has {x.shape[-1]} features but the weight expects {k}")
    x2 = x.reshape(-1, k)
    if x2.stride(-1) != 1:
        x2 = x2.contiguous()
    if w.q.stride(-1) != 1:
        raise ValueError("the int8 weight's rows must be contiguous (make it with quantize_int8 or empty_int8)")
    y = torch.empty(x2.shape[0], n, device=x.device, dtype=x.dtype)
    sms = torch.cuda.get_device_properties(x.device).multi_processor_count if x.is_cuda else 1
    block_n, block_k = blocks(n, k, sms)
    w8_gemv_kernel[(triton.cdiv(n, block_n), x2.shape[0])](
        x2, w.q, w.scale, w.scale if bias is None else bias, y, n, k, x2.stride(0), w.q.stride(0), y.stride(0),
        HAS_BIAS=bias is not None, BLOCK_N=block_n, BLOCK_K=block_k, num_warps=4)
    return y.reshape(*x.shape[:-1], n)


# ---- fp8 e4m3, per tensor ------------------------------------------------------------------------------

@dataclass(eq=False)
class Fp8Weight:
    """An e4m3 weight matrix, zero-padded to multiples of 16 (cuBLASLt's fp8 rule), with one fp32 scale."""
    q: torch.Tensor                 # (N_pad, K_pad) float8_e4m3fn
    scale: torch.Tensor             # () float32: W ≈ q * scale
    n: int
    k: int
    copies: dict = field(default_factory=dict, repr=False)

    @property
    def nbytes(self) -> int:
        return self.q.numel() * self.q.element_size() + 4

    def dequantize(self, dtype=torch.float32) -> torch.Tensor:
        return (self.q[:self.n, :self.k].float() * self.scale).to(dtype)


def quantize_fp8(w: torch.Tensor) -> Fp8Weight:
    """Per-tensor e4m3: the largest |w| maps to 448; pad rows and columns with zeros to multiples of 16."""
    n, k = w.shape
    w32 = w.detach().float()
    scale = (w32.abs().amax() / E4M3_MAX).clamp_min(1e-12)
    q = F.pad(w32 / scale, (0, _up16(k) - k, 0, _up16(n) - n)).to(torch.float8_e4m3fn)
    return Fp8Weight(q, scale.reshape(()), n, k)


FP8_PATH = {"last": None}         # which route the last fp8 matmul took (shown in the ladder's notes)


def has_fp8_matmul(device) -> bool:
    """Whether ``torch._scaled_mm`` runs on fp8 tensor cores here: a CUDA GPU of compute capability 8.9+."""
    device = torch.device(device)
    return device.type == "cuda" and torch.cuda.get_device_capability(device) >= (8, 9)


def fp8_linear(x: torch.Tensor, w: Fp8Weight, bias: torch.Tensor | None = None) -> torch.Tensor:
    """Quantize x to e4m3 with a per-tensor scale computed on the device, then one fp8 matmul.

    On sm_89+ GPUs that is ``torch._scaled_mm`` on fp8 tensor cores. Elsewhere the same e4m3 numbers are
    multiplied in fp32 (same rounding of both inputs, another accumulation order) and FP8_PATH says so.
    """
    k = x.shape[-1]
    x2 = x.reshape(-1, k)
    m = x2.shape[0]
    xs = (x2.abs().amax().float() / E4M3_MAX).clamp_min(1e-12)
    if has_fp8_matmul(x.device):
        xq = F.pad(x2.float() / xs, (0, w.q.shape[1] - k, 0, _up16(m) - m)).to(torch.float8_e4m3fn)
        y = torch._scaled_mm(xq, w.q.t(), scale_a=xs, scale_b=w.scale, out_dtype=x.dtype)[:m, :w.n]
        FP8_PATH["last"] = "torch._scaled_mm on fp8 tensor cores"
    else:
        if "fp32" not in w.copies:                    # the exact e4m3 values, widened once
            w.copies["fp32"] = w.q[:w.n, :w.k].float() * w.scale
        xq = (x2.float() / xs).to(torch.float8_e4m3fn).float() * xs
        y = (xq @ w.copies["fp32"].t()).to(x.dtype)
        FP8_PATH["last"] = (f"emulated on {x.device.type}: e4m3-rounded weights and activations, fp32 matmul "
                            "(fp8 tensor cores need sm_89+)")
    y = y.reshape(*x.shape[:-1], w.n)
    return y if bias is None else y + bias


# ---- Linear layers and whole models ----------------------------------------------------------------------

class QuantLinear(nn.Module):
    """An nn.Linear whose weight lives in int8 or fp8; bias and activations stay in the model's dtype."""

    def __init__(self, linear: nn.Linear, kind: str, dtype=torch.bfloat16):
        super().__init__()
        if kind not in ("int8_torch", "int8_triton", "fp8"):
            raise ValueError(f"kind must be int8_torch, int8_triton or fp8, got {kind!r}")
        self.kind = kind
        w = linear.weight.detach()
        self.w = quantize_fp8(w) if kind == "fp8" else quantize_int8(w)
        self.register_buffer("wq", self.w.q)
        self.register_buffer("wscale", self.w.scale)
        bias = None if linear.bias is None else linear.bias.detach().to(dtype)
        self.register_buffer("bias", bias)

    def _apply(self, fn, recurse=True):            # keep the weight record pointing at the moved buffers
        super()._apply(fn, recurse)
        self.w.q, self.w.scale = self.wq, self.wscale
        self.w.copies.clear()
        return self

    def forward(self, x):
        if self.kind == "fp8":
            return fp8_linear(x, self.w, self.bias)
        rows = x.numel() // x.shape[-1]
        if self.kind == "int8_triton" and rows <= GEMV_MAX_ROWS:
            return int8_linear_triton(x, self.w, self.bias)
        return int8_linear_torch(x, self.w, self.bias)

    def extra_repr(self):
        n, k = (self.w.n, self.w.k) if self.kind == "fp8" else self.w.shape
        return f"in={k}, out={n}, kind={self.kind}"


def convert(model: nn.Module, kind: str) -> nn.Module:
    """A copy of ``model`` for one rung of the precision ladder; ``model`` itself is not changed.

    kind: "fp32" or "bf16" (every weight in that dtype), or "int8_torch" / "int8_triton" / "fp8" (every
    nn.Linear quantized, everything else in bf16). Weights are copied straight into the new dtype, so no
    second fp32 copy of the model is ever made ("fp32" of an fp32 model shares the model's tensors).
    """
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {KINDS}")
    dtype = torch.float32 if kind == "fp32" else torch.bfloat16
    linears = {name: mod for name, mod in model.named_modules() if isinstance(mod, nn.Linear)}
    quantized = kind in ("int8_torch", "int8_triton", "fp8")
    skip = {id(mod.weight) for mod in linears.values()} if quantized else set()
    memo = {id(p): nn.Parameter(torch.empty(0) if id(p) in skip else p.detach().to(dtype), requires_grad=False)
            for p in model.parameters()}
    out = copy.deepcopy(model, memo)
    if quantized:
        for name, lin in linears.items():
            parent, _, child = name.rpartition(".")
            setattr(out.get_submodule(parent) if parent else out, child, QuantLinear(lin, kind, dtype))
    return out.eval()


def weight_bytes(model: nn.Module, per_token: bool = False) -> int:
    """Bytes of the model's weights (parameters and buffers). per_token=True counts what one decode step
    reads: everything except the embedding tables, of which a step reads one row each."""
    total = sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()])
    if per_token:
        for mod in model.modules():
            if isinstance(mod, nn.Embedding):
                w = mod.weight
                total -= (w.shape[0] - 1) * w.shape[1] * w.element_size()
    return total
