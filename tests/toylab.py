"""A tiny lab for perflab's own tests: y = 2x + 1, with a correct and a planted wrong variant."""
import torch

import perflab as pl

TITLE = "toy: y = 2x + 1"
SIZES = {"cpu": [1003, 37], "gpu": [1_000_003]}
DTYPES = ["float32"]
OPTIONS = pl.LabOptions(target=0.5)


def make_inputs(size, device, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    return {"x": torch.randn(size, generator=g, dtype=getattr(torch, dtype)).to(device)}


def reference(x):
    return (2 * x.double() + 1).to(x.dtype)


def bytes(size, dtype):
    return 2 * size * 4


def flops(size, dtype):
    return 2 * size


def two_ops(x):
    return x * 2 + 1


def fused(x):
    return torch.addcmul(torch.ones_like(x), x, torch.full_like(x, 2.0))


def skips_last(x):
    """Planted bug: the last element is never written."""
    y = torch.empty_like(x)
    y[:-1] = x[:-1] * 2 + 1
    return y


@pl.variant(backend="cupy")
def needs_gpu(x):
    raise AssertionError("never called on the cpu tier")


variants = [two_ops, fused, skips_last, needs_gpu]
