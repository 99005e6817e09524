"""Exercise lab: clip-and-normalize rows without a graph break (the starter breaks once)."""
from __future__ import annotations

import perflab as pl  # noqa: F401
import torch

TITLE = "Clip rows to a global limit, then softmax: remove the graph breaks, keep the output"
SIZES = {"gpu": [(4_099, 1_021), (1_021, 4_099)], "cpu": [(129, 61), (67, 203)]}
DTYPES = ["float32"]
LIMIT = 3.0


OPTIONS = pl.LabOptions(gate_note=(
    "an exercise lab: its only recorded variant is the starter the learner must beat; the reference solution "
    "is graded, not recorded."))


def make_inputs(size, device="cpu", dtype="float32", seed: int = 0) -> dict:
    g = torch.Generator(device=device).manual_seed(seed)
    scale = 1.0 + 4.0 * torch.rand(1, generator=g, device=device)      # some inputs need clipping, some not
    return {"x": (torch.randn(*size, generator=g, device=device) * scale).to(getattr(torch, dtype))}


def reference(x) -> torch.Tensor:
    xd = x.double()
    m = xd.abs().max()
    xd = xd * (LIMIT / m) if m > LIMIT else xd
    return torch.softmax(xd, dim=1)


def bytes(size, dtype="float32") -> int:
    return 2 * size[0] * size[1] * getattr(torch, dtype).itemsize


def flops(size, dtype="float32") -> int:
    return 5 * size[0] * size[1]


@pl.variant(backend="torch", note="the starter: .item() and a Python if (a graph break when compiled)")
def starter(x):
    m = x.abs().max().item()
    if m > LIMIT:
        x = x * (LIMIT / m)
    return torch.softmax(x, dim=1)


variants = [starter]
