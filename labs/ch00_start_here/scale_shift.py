"""y = 2·x + 1 three ways: two library kernels, one library kernel, one Triton kernel."""
import torch
import triton
import triton.language as tl

import perflab as pl

TITLE = "y = 2x + 1: two passes over memory vs one"
SIZES = {"cpu": [1_000_003, 250_007, 4_000_037], "gpu": [268_435_463, 16_777_259, 67_108_879]}
DTYPES = ["float32"]
OPTIONS = pl.LabOptions(target=0.8)    # of the measured copy bandwidth, for the exercise


def make_inputs(size, device, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    return {"x": torch.randn(size, generator=g, dtype=getattr(torch, dtype)).to(device)}


def reference(x):
    return (2 * x.double() + 1).to(x.dtype)


def bytes(size, dtype):
    return 2 * size * torch.finfo(getattr(torch, dtype)).bits // 8      # read x once, write y once


def flops(size, dtype):
    return 2 * size                                                      # one multiply, one add


@pl.variant(note="x * 2 writes a temporary that + 1 reads back: 16 bytes per element")
def two_kernels(x):
    """x * 2 writes a temporary; + 1 reads it back: twice the traffic of the minimum."""
    return x * 2 + 1


@pl.variant(note="one elementwise kernel: 8 bytes per element")
def one_kernel(x):
    """torch.add(1, x, alpha=2) = 1 + 2·x in a single elementwise kernel.

    The 1 is a 0-d CPU tensor: torch passes it to the kernel as a scalar argument. (A 0-d CUDA
    tensor would be read from memory as a broadcast input, a slower kernel.)
    """
    return torch.add(torch.tensor(1.0, dtype=x.dtype), x, alpha=2)


@triton.jit
def _scale_shift_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(y_ptr + offs, x * 2 + 1, mask=mask)


@pl.variant(backend="triton", note="six-line Triton kernel, one pass")
def triton_fused(x):
    y = torch.empty_like(x)
    n = x.numel()
    _scale_shift_kernel[(triton.cdiv(n, 4096),)](x, y, n, BLOCK=4096, num_warps=4)
    return y


variants = [two_kernels, one_kernel, triton_fused]
