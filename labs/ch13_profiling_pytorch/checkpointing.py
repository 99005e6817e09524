"""Activation checkpointing: the same gradients with fewer saved activations, paid for with a second
forward pass of every block during backward. Output: every parameter's gradient, flattened."""
from __future__ import annotations

import perflab as pl
import torch

from labs.ch13_profiling_pytorch import model as M

TITLE = "One forward + backward of a 4-block model: store every activation vs recompute each block"
# (batch, seq, d_model), 4 blocks
SIZES = {"cpu": [(4, 53, 52), (2, 29, 52), (7, 83, 52)],
         "gpu": [(24, 509, 512), (8, 1021, 512), (56, 253, 512)]}
DTYPES = ["float32"]
LAYERS = 4


def config(size) -> M.Config:
    batch, seq, d = size
    return M.Config(batch=batch, seq=seq, d_model=d, layers=LAYERS, steps=1)


def make_inputs(size, device="cpu", dtype="float32", seed: int = 0) -> dict:
    c = config(size)
    x, y = M.make_data(c, seed, device)
    return {"x": x[0], "y": y[0], "state": M.init_state(c, seed)}


def _grads(x, y, state, checkpoint: bool, dtype=torch.float32) -> torch.Tensor:
    c = M.Config(batch=x.shape[0], seq=x.shape[1], d_model=state["emb.weight"].shape[1], layers=LAYERS)
    model = M.model_for(c, x.device, dtype)
    M.load_state(model, state)
    model.checkpoint = checkpoint
    M.loss_fn(model, x, y).backward()
    return torch.cat([p.grad.reshape(-1) for p in model.parameters()])


def reference(x, y, state) -> torch.Tensor:
    return _grads(x, y, state, False, torch.float64)


def bytes(size, dtype="float32") -> int:
    """Weights read twice (forward, backward) and gradients written once: 12 B per parameter (a floor)."""
    c = config(size)
    return 12 * sum(v.numel() for v in M.init_state(c, 0).values())


def flops(size, dtype="float32") -> int:
    """Forward + backward of the dense layers: 6 FLOPs per weight per token (recomputation not counted:
    it is extra work, not work the answer needs)."""
    c = config(size)
    return 6 * (c.layers * 12 * c.d_model ** 2 + c.d_model * c.vocab) * c.batch * c.seq


@pl.variant(note="autograd keeps every block's activations until backward")
def store_all(x, y, state):
    return _grads(x, y, state, False)


@pl.variant(note="torch.utils.checkpoint per block: keep block inputs, recompute the rest in backward")
def checkpoint_blocks(x, y, state):
    return _grads(x, y, state, True)


variants = [store_all, checkpoint_blocks]
