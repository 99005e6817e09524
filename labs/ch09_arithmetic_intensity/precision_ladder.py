"""The precision ladder: one large matmul in fp32, tf32, bf16, fp16 and fp8, each checked against float64."""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch

from labs.ch09_arithmetic_intensity._common import Kernel

TITLE = "Precision ladder: C = A @ B (M×K times K×N) in fp32 → tf32 → bf16 → fp16 → fp8"
# (M, N, K). M is one short of a tile multiple, so the last row tile is partial and a wrong edge fails;
# N and K stay multiples of 16 so every row starts 16-byte aligned, which tensor-core kernels (and
# fp8's torch._scaled_mm) want. 2·M·N·K = 1.1 TFLOP at the first GPU size.
SIZES = {"gpu": [(8_191, 8_192, 8_192), (4_095, 4_096, 4_096), (2_047, 2_048, 2_048)],
         "cpu": [(509, 512, 512), (251, 256, 256)]}
DTYPES = ["float32"]
E4M3_MAX = 448.0                       # largest finite float8_e4m3fn value

# bytes per element of the operands and of the output, per variant (fp8 writes bf16)
ELEMENT_BYTES = {"fp32": (4, 4), "tf32": (4, 4), "bf16": (2, 2), "fp16": (2, 2), "fp8": (1, 2)}


def make_inputs(size, device="cpu", dtype="float32", seed: int = 0) -> dict:
    m, n, k = size
    g = torch.Generator(device=device).manual_seed(seed)
    a = torch.randn(m, k, generator=g, device=device, dtype=getattr(torch, dtype))
    b = torch.randn(k, n, generator=g, device=device, dtype=getattr(torch, dtype))
    return {"a": a, "b": b}


def reference(a, b) -> torch.Tensor:
    return a.double() @ b.double()


def bytes(size, dtype="float32") -> int:
    m, n, k = size
    return 4 * (m * k + k * n + m * n)             # fp32: read A and B once, write C once


def flops(size, dtype="float32") -> int:
    m, n, k = size
    return 2 * m * n * k


# ---- operands in each precision, made once per input tensor ------------------------------------
# A model keeps its weights in the precision it computes in, so the cast is not part of the matmul's
# steady state: the first call makes the low-precision copy (it shows in first_call_s) and later
# calls on the same tensor reuse it. The copy is dropped if the tensor is modified in place.

def _cached(t: torch.Tensor, key: str, make):
    store = t.__dict__.setdefault("_ch09_casts", {})
    hit = store.get(key)
    if hit is None or hit[0] != t._version:
        hit = store[key] = (t._version, make(t))
    return hit[1]


class _tf32:
    """Allow (or forbid) TF32 tensor cores for float32 matmuls inside the block, then restore."""

    def __init__(self, allow: bool):
        self.allow = allow

    def __enter__(self):
        self.saved = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = self.allow

    def __exit__(self, *exc):
        torch.backends.cuda.matmul.allow_tf32 = self.saved


@pl.variant(backend="torch", note="torch.matmul, TF32 off: full fp32 on the FMA units (on a CPU, its BLAS)")
def fp32(a, b):
    with _tf32(False):
        return a @ b


@pl.variant(backend="torch", needs="sm_80", precision="tf32",
            note="fp32 tensors, TF32 tensor cores: 10-bit mantissa products, fp32 accumulate")
def tf32(a, b):
    with _tf32(True):
        return a @ b


@pl.variant(backend="torch", precision="bfloat16",
            note="bf16 operands and output, fp32 accumulate (tensor cores need sm_80; a CPU uses AVX-512 BF16/AMX)")
def bf16(a, b):
    cast = lambda t: t.to(torch.bfloat16)  # noqa: E731
    return _cached(a, "bf16", cast) @ _cached(b, "bf16", cast)


@pl.variant(backend="torch", needs="cuda", precision="float16",
            note="fp16 operands and output, fp32 accumulate on tensor cores (sm_70+)")
def fp16(a, b):
    cast = lambda t: t.to(torch.float16)  # noqa: E731
    return _cached(a, "fp16", cast) @ _cached(b, "fp16", cast)


def _to_fp8(t: torch.Tensor, column_major: bool):
    """Scale t so its largest magnitude maps to 448, round to float8_e4m3fn, pad to multiples of 16."""
    scale = (t.abs().amax().float() / E4M3_MAX).clamp_min(1e-12)          # the dequantization factor
    q = (t / scale).to(torch.float8_e4m3fn)
    rows, cols = q.shape
    pad_r, pad_c = -rows % 16, -cols % 16
    if pad_r or pad_c:
        q = torch.nn.functional.pad(q.view(torch.uint8), (0, pad_c, 0, pad_r)).view(torch.float8_e4m3fn)
    if column_major:
        q = q.t().contiguous().t()
    return q, scale


@pl.variant(backend="torch", needs="sm_89", precision="float8",
            note="torch._scaled_mm: e4m3 operands with one scale per tensor, fp32 accumulate, bf16 output")
def fp8(a, b):
    qa, sa = _cached(a, "fp8", lambda t: _to_fp8(t, column_major=False))
    qb, sb = _cached(b, "fp8", lambda t: _to_fp8(t, column_major=True))
    c = torch._scaled_mm(qa, qb, scale_a=sa, scale_b=sb, out_dtype=torch.bfloat16)
    return c[: a.shape[0], : b.shape[1]]


variants = [fp32, tf32, bf16, fp16, fp8]


def kernels(variant: str, size, dtype="float32", device: str = "cuda") -> list[Kernel]:
    """One GEMM kernel: operands read once and the output written once, in the variant's precision.

    >>> [k.bytes for k in kernels("bf16", (100, 100, 100))] == [2 * 3 * 100 * 100]
    True
    """
    if variant not in ELEMENT_BYTES:
        raise ValueError(f"no traffic model for variant {variant!r}; variants: {list(ELEMENT_BYTES)}")
    m, n, k = size
    bin_, bout = ELEMENT_BYTES[variant]
    return [Kernel(f"GEMM ({variant})", bin_ * (m * k + k * n), bout * m * n, flops(size))]
