"""A small scoring block compiled twice: with three graph breaks (.item(), an if on data, a log call) and fixed."""
from __future__ import annotations

import functools

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch

from labs.ch14_compiler.breaks import log, quiet_item_warning

TITLE = "Scoring block y = tanh(relu(x@w)/peak ± bias): eager vs compiled with 3 graph breaks vs compiled, fixed"
# (rows, inner, cols): small on purpose — graph breaks cost per call, so they show on small, launch-bound work
SIZES = {"gpu": [(1_023, 509, 1_021), (4_099, 1_021, 2_053), (255, 127, 253)],
         "cpu": [(123, 61, 97), (301, 131, 203)]}
DTYPES = ["float32"]


def make_inputs(size, device="cpu", dtype="float32", seed: int = 0) -> dict:
    rows, inner, cols = size
    g = torch.Generator(device=device).manual_seed(seed)
    x = torch.randn(rows, inner, generator=g, device=device, dtype=getattr(torch, dtype))
    w = torch.randn(inner, cols, generator=g, device=device, dtype=getattr(torch, dtype)) / inner ** 0.5
    b = torch.randn(cols, generator=g, device=device, dtype=getattr(torch, dtype))
    return {"x": x, "w": w, "b": b}


def reference(x, w, b) -> torch.Tensor:
    return _fixed(x.double(), w.double(), b.double())


def bytes(size, dtype="float32") -> int:
    rows, inner, cols = size
    return (rows * inner + inner * cols + cols + rows * cols) * getattr(torch, dtype).itemsize


def flops(size, dtype="float32") -> int:
    rows, inner, cols = size
    return 2 * rows * inner * cols + 6 * rows * cols


def _broken(x, w, b):
    y = torch.relu(x @ w)
    peak = y.max().item()                        # break 1: a Python float
    y = y / (peak + 1.0)
    log.debug("peak %.3f", peak)                 # break 2: logging is not traced
    if y.mean() > 0.25:                          # break 3: a Python bool from tensor data
        y = y + b
    else:
        y = y - b
    return torch.tanh(y)


def _fixed(x, w, b):
    y = torch.relu(x @ w)
    y = y / (y.max() + 1.0)                      # a 0-d tensor, never a float
    y = torch.where(y.mean() > 0.25, y + b, y - b)   # both sides, picked on the device
    return torch.tanh(y)                         # the log line moved out of the hot path


@functools.cache
def compiled(which: str):
    """torch.compile of the broken or fixed block, built once (dynamic=False: one graph per shape)."""
    quiet_item_warning()                             # breaks.table() reports them; keep the run quiet
    return torch.compile(_broken if which == "broken" else _fixed, dynamic=False)


@pl.variant(backend="torch", note="eager PyTorch: one kernel per op, no compile")
def eager(x, w, b):
    return _fixed(x, w, b)


@pl.variant(backend="torch", note="torch.compile with 3 graph breaks: 4 graphs, Python between them")
def compiled_broken(x, w, b):
    return compiled("broken")(x, w, b)


@pl.variant(backend="torch", note="torch.compile of the fixed twin: 1 graph, fused kernels")
def compiled_fixed(x, w, b):
    return compiled("fixed")(x, w, b)


variants = [eager, compiled_broken, compiled_fixed]
