"""Goodput of a training loop: a small MLP trained for a few steps, with and without the usual stalls.

Every variant trains the same model on the same batches in the same order with the same arithmetic, so
they return identical weights and losses; they differ only in what the host does around the steps:

- ``compute_only``: batches already on the device, no logging, no checkpoint. Its time is the *useful*
  time; goodput of any other variant = t(compute_only) / t(variant).
- ``stalled``: a per-sample Python loader (plus a pageable copy on a GPU), ``loss.item()`` every step
  (a host sync), and a blocking checkpoint write every CKPT_EVERY steps.
- ``fast_loader`` → ``fast_loader_no_sync`` → ``all_fixes``: remove the stalls one at a time
  (vectorized loader with pinned, non-blocking copies; losses kept on the device and read once;
  checkpoints snapshotted on the device and written by a background thread).

size = (batch, width). The model is width → width → width → 10 with GELU; SGD with momentum.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor

import perflab as pl
import torch
import torch.nn.functional as F

from labs.ch01_goodput.stopwatch import phase

TITLE = "Goodput of a training loop: stalls from data, host syncs and checkpoints (MLP, float32)"
SIZES = {"cpu": [(61, 200), (37, 120), (97, 328)],
         "gpu": [(253, 1540), (125, 1030), (509, 2050)]}       # (batch, width)
DTYPES = ["float32"]
STEPS = 8            # optimizer steps per call
CKPT_EVERY = 4       # steps between checkpoints
CLASSES = 10
MEAN, STD = 127.5, 73.9     # normalisation of the uint8 "pixels"
LR, MOMENTUM = 0.05, 0.9

_CKPT_ROOT = None
_WRITER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ckpt")


def _ckpt_dir() -> str:
    global _CKPT_ROOT
    if _CKPT_ROOT is None:
        _CKPT_ROOT = tempfile.mkdtemp(prefix="perflab-ch01-ckpt-")
        atexit.register(shutil.rmtree, _CKPT_ROOT, True)
    return _CKPT_ROOT


def n_params(size) -> int:
    _, d = size
    return 2 * (d * d + d) + d * CLASSES + CLASSES


def make_inputs(size, device="cpu", dtype="float32", seed: int = 0) -> dict:
    batch, d = size
    g = torch.Generator().manual_seed(seed)
    n = batch * STEPS
    raw = torch.randint(0, 256, (n, d), generator=g, dtype=torch.uint8)         # the dataset, in host memory
    labels = torch.randint(0, CLASSES, (n,), generator=g)
    order = torch.randperm(n, generator=g)                                     # the epoch's sample order
    shapes = [(d, d), (d,), (d, d), (d,), (CLASSES, d), (CLASSES,)]
    init = [torch.randn(s, generator=g) * (d ** -0.5) for s in shapes]
    staged = ((raw[order].float() - MEAN) / STD).view(STEPS, batch, d)        # for compute_only
    return {"raw": raw, "labels": labels, "order": order,
            "init": [t.to(device) for t in init],
            "staged_x": staged.to(device), "staged_y": labels[order].view(STEPS, batch).to(device),
            "ckpt_dir": _ckpt_dir()}


def flops(size, dtype="float32") -> int:
    batch, _ = size
    return 6 * n_params(size) * batch * STEPS              # forward 2·N·B + backward 4·N·B per step


def bytes(size, dtype="float32") -> int:
    batch, d = size
    # the batches once, plus weights, gradients and momentum read and written each step (a lower bound)
    return STEPS * (batch * d * 4 + 3 * 2 * n_params(size) * 4)


# ---- one training step, shared by every variant --------------------------------------------------

def make_model(init):
    params = [t.clone().requires_grad_(True) for t in init]
    return params, torch.optim.SGD(params, lr=LR, momentum=MOMENTUM)


def step(params, opt, x, y) -> torch.Tensor:
    w1, b1, w2, b2, w3, b3 = params
    h = F.gelu(F.linear(x, w1, b1))
    h = F.gelu(F.linear(h, w2, b2))
    loss = F.cross_entropy(F.linear(h, w3, b3), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.detach()


def result(params, losses) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in params] + [losses.to(params[0].device).flatten()])


# ---- the host side: loaders, logging, checkpoints --------------------------------------------------

def slow_batch(raw, labels, idx, device):
    """A per-sample Python loader: one small tensor op chain per sample, then a pageable copy."""
    xs = [(raw[i].float() - MEAN) / STD for i in idx.tolist()]
    x = torch.stack(xs)
    y = torch.stack([labels[i] for i in idx.tolist()])
    return x.to(device), y.to(device)


def fast_batch(raw, labels, idx, device):
    """The same batch with one vectorized gather; on a GPU, pinned memory and a non-blocking copy."""
    x = (raw[idx].float() - MEAN) / STD
    y = labels[idx]
    if torch.device(device).type == "cuda":
        return x.pin_memory().to(device, non_blocking=True), y.pin_memory().to(device, non_blocking=True)
    return x, y


def _write(params, path):
    torch.save([p.detach().cpu() for p in params], path)


def train(raw, labels, order, init, staged_x, staged_y, ckpt_dir, *, loader="slow", sync_each_step=True,
          checkpoint="blocking", watch=None) -> torch.Tensor:
    """The configurable loop behind every variant. loader: slow | fast | staged;
    checkpoint: blocking | async | none; watch: a Stopwatch to label phases (None when timed)."""
    device = init[0].device
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)    # one core for the math: steadier times on a small, shared CPU
    try:
        return _train(raw, labels, order, init, staged_x, staged_y, ckpt_dir, loader, sync_each_step, checkpoint, watch)
    finally:
        torch.set_num_threads(threads)


def _train(raw, labels, order, init, staged_x, staged_y, ckpt_dir, loader, sync_each_step, checkpoint, watch):
    device = init[0].device
    params, opt = make_model(init)
    batch = staged_x.shape[1]
    losses, pending = [], []
    for s in range(STEPS):
        with phase(watch, "data"):
            if loader == "staged":
                x, y = staged_x[s], staged_y[s]
            else:
                idx = order[s * batch:(s + 1) * batch]
                x, y = (slow_batch if loader == "slow" else fast_batch)(raw, labels, idx, device)
        with phase(watch, "compute"):
            loss = step(params, opt, x, y)
        if sync_each_step:
            with phase(watch, "host sync"):
                value = loss.item()                     # logging a Python float: the host waits for the GPU
                if value != value:
                    raise FloatingPointError(f"loss became NaN at step {s}")
                losses.append(torch.tensor(value, dtype=loss.dtype))
        else:
            losses.append(loss)                         # stays on the device, read once at the end
        if checkpoint != "none" and (s + 1) % CKPT_EVERY == 0:
            path = os.path.join(ckpt_dir, f"step{s + 1}.pt")
            with phase(watch, "checkpoint"):
                if checkpoint == "blocking":
                    _write(params, path)
                else:                                   # snapshot on the device, write in the background
                    snap = [p.detach().clone() for p in params]
                    pending.append(_WRITER.submit(_write, snap, path))
    with phase(watch, "host sync"):
        out = torch.stack(losses).to(device)
    with phase(watch, "checkpoint"):
        for f in pending:
            f.result()                                  # the write is part of this call's time
    return result(params, out)


# ---- reference and variants --------------------------------------------------------------------------

def reference(raw, labels, order, init, staged_x, staged_y, ckpt_dir) -> torch.Tensor:
    params, opt = make_model(init)
    losses = [step(params, opt, staged_x[s], staged_y[s]) for s in range(STEPS)]
    return result(params, torch.stack(losses))


CONFIGS = {   # variant -> how train() runs it
    "stalled": dict(loader="slow", sync_each_step=True, checkpoint="blocking"),
    "fast_loader": dict(loader="fast", sync_each_step=True, checkpoint="blocking"),
    "fast_loader_no_sync": dict(loader="fast", sync_each_step=False, checkpoint="blocking"),
    "all_fixes": dict(loader="fast", sync_each_step=False, checkpoint="async"),
    "compute_only": dict(loader="staged", sync_each_step=False, checkpoint="none"),
}


@pl.variant(note="per-sample loader, loss.item() every step, blocking checkpoint writes")
def stalled(**inputs):
    return train(**inputs, **CONFIGS["stalled"])


@pl.variant(note="vectorized loader (pinned, non-blocking copy on a GPU); still syncs and blocks")
def fast_loader(**inputs):
    return train(**inputs, **CONFIGS["fast_loader"])


@pl.variant(note="+ losses kept on the device, read once at the end: the host can run ahead")
def fast_loader_no_sync(**inputs):
    return train(**inputs, **CONFIGS["fast_loader_no_sync"])


@pl.variant(note="+ checkpoints snapshotted on the device and written by a background thread")
def all_fixes(**inputs):
    return train(**inputs, **CONFIGS["all_fixes"])


@pl.variant(note="useful work only: batches already on the device, no logging, no checkpoint")
def compute_only(**inputs):
    return train(**inputs, **CONFIGS["compute_only"])


variants = [stalled, fast_loader, fast_loader_no_sync, all_fixes, compute_only]
