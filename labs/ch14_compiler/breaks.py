"""Three graph breaks and their fixes, each a broken function and a fixed twin with equal outputs."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import perflab as pl  # noqa: F401  (first: sets TRITON_INTERPRET on machines without a GPU)
import torch

log = logging.getLogger("perflab.ch14")        # a debug line left in a hot function


# ---- 1 · .item() in the middle: a Python float leaves the graph ---------------------------------------
def item_broken(x, w):
    y = x @ w
    peak = y.abs().max().item()                 # tensor -> Python float: dynamo must stop here
    return torch.relu(y) / (peak + 1.0)


def item_fixed(x, w):
    y = x @ w
    peak = y.abs().max()                        # stay a 0-d tensor: one graph
    return torch.relu(y) / (peak + 1.0)


# ---- 2 · a Python branch on tensor data ------------------------------------------------------------------
def branch_broken(x, w):
    y = x @ w
    if y.mean() > 0:                            # Python needs a bool: the graph ends at the test
        return y * 2.0
    return y - 1.0


def branch_fixed(x, w):
    y = x @ w
    return torch.where(y.mean() > 0, y * 2.0, y - 1.0)      # both sides computed, picked on device


# ---- 3 · an unsupported call: logging (print breaks the same way) -------------------------------------
def logging_broken(x, w):
    y = x @ w
    log.debug("y has shape %s", tuple(y.shape))  # logging.Logger methods are not traced
    return torch.tanh(y)


def logging_fixed(x, w):
    return torch.tanh(x @ w)                    # log outside the compiled function, if at all


# ---- 4 · the book's in-place example: no break in torch 2.x ----------------------------------------------
def inplace_relu_(x, w):
    y = x @ w
    y.relu_()                                   # functionalization traces in-place ops
    return y + 1.0


def inplace_relu(x, w):
    y = (x @ w).relu()
    return y + 1.0


PAIRS = {   # name -> (broken, fixed, what the fix does)
    ".item() mid-function": (item_broken, item_fixed, "keep the max a 0-d tensor"),
    "data-dependent if": (branch_broken, branch_fixed, "torch.where on both branches"),
    "logger.debug call": (logging_broken, logging_fixed, "move the log line out"),
    "x.relu_() in place (book L5612)": (inplace_relu_, inplace_relu, "x = x.relu()"),
}


def example_inputs(seed: int = 0, rows: int = 37, inner: int = 29, cols: int = 23) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {"x": torch.randn(rows, inner, generator=g), "w": torch.randn(inner, cols, generator=g) / inner ** 0.5}


def quiet_item_warning() -> None:
    """Silence dynamo's multi-line `.item()` warning (the tables report every break with its reason)."""
    logging.getLogger("torch._dynamo.variables.tensor").setLevel(logging.ERROR)


@dataclass(frozen=True)
class Explained:
    """What torch._dynamo.explain saw for one function: graphs, breaks and why."""
    graphs: int
    breaks: int
    reasons: list[str]


def explain(fn, *args, **kwargs) -> Explained:
    """torch._dynamo.explain(fn)(*args): graph count, graph-break count and the first line of each reason.

    Resets dynamo first, so earlier compiles cannot change the answer.
    """
    import torch._dynamo as dynamo
    quiet_item_warning()
    dynamo.reset()
    e = dynamo.explain(fn)(*args, **kwargs)
    reasons = [str(getattr(r, "reason", r)).strip().splitlines()[0][:90] for r in e.break_reasons]
    dynamo.reset()
    return Explained(e.graph_count, e.graph_break_count, reasons)


def verdict(fn, *args, **kwargs) -> str:
    """A one-line ✅/❌: does ``fn`` compile to one graph with no break?"""
    e = explain(fn, *args, **kwargs)
    if e.breaks == 0:
        return f"✅ {getattr(fn, '__name__', 'fn')}: {e.graphs} graph, 0 graph breaks"
    return (f"❌ {getattr(fn, '__name__', 'fn')}: {e.graphs} graphs, {e.breaks} graph break(s): "
            + "; ".join(e.reasons))


def table(seed: int = 0):
    """One row per pair: graphs and breaks before and after the fix, the first reason, equal outputs."""
    from perflab.table import Table
    quiet_item_warning()
    inputs = example_inputs(seed)
    rows = []
    for name, (bad, good, fix) in PAIRS.items():
        b, f = explain(bad, **inputs), explain(good, **inputs)
        same = torch.allclose(bad(**inputs), good(**inputs), rtol=1e-5, atol=1e-6)
        rows.append([name, f"{b.graphs} / {b.breaks}", (b.reasons or ["—"])[0], fix, f"{f.graphs} / {f.breaks}",
                     "✅" if same else "❌"])
    return Table(["problem", "broken: graphs / breaks", "first break reason (dynamo)", "fix", "fixed: graphs / breaks",
                  "same output"], rows, title="torch._dynamo.explain: each broken function and its fixed twin",
                 notes=[f"torch {torch.__version__}; counts from torch._dynamo.explain(fn)(*args) on this machine"])


def profile(fn, steps: int = 3, row_limit: int = 6) -> str:
    """``pl.torch_profile`` of ``fn``, three calls, top six rows."""
    return pl.torch_profile(fn, steps=steps, row_limit=row_limit)
