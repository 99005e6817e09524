"""One tiny-transformer training run (a few AdamW steps), fixed one cause at a time: each variant keeps the
fixes before it. Output: the loss of every step, which every variant must reproduce from the same seed."""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch

from labs.ch13_profiling_pytorch import model as M

TITLE = "Training a tiny transformer: slow loader + hidden sync → fixed one cause at a time"
# (batch, seq, d_model): heads = 4; nothing aligned to 16 in every dimension
SIZES = {"cpu": [(6, 37, 52), (3, 61, 52), (9, 23, 52)],
         "gpu": [(24, 125, 256), (8, 125, 256), (56, 251, 256)]}
DTYPES = ["float32"]
STEPS = 6


def config(size) -> M.Config:
    batch, seq, d = size
    return M.Config(batch=batch, seq=seq, d_model=d, steps=STEPS)


def make_inputs(size, device="cpu", dtype="float32", seed: int = 0) -> dict:
    """Initial weights and the token data live on the host (as a dataset would); the model lives on ``device``."""
    c = config(size)
    x, y = M.make_data(c, seed)
    if torch.device(device).type == "cuda":
        x, y = x.pin_memory(), y.pin_memory()      # the slow loader ignores this; the fixed one uses it
    return {"x": x, "y": y, "state": M.init_state(c, seed), "device": str(device)}


def reference(x, y, state, device) -> torch.Tensor:
    """The plain loop in float64 (on the lab's device: fast on a GPU): the losses of every step."""
    b, t = x.shape[1:]
    c = M.Config(batch=b, seq=t, d_model=state["emb.weight"].shape[1], steps=x.shape[0])
    model = M.TinyLM(c).to(device=device, dtype=torch.float64)
    model.load_state_dict({k: v.double() for k, v in state.items()})
    x, y = x.to(device), y.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=c.lr, foreach=False)
    losses = []
    for i in range(c.steps):
        loss = M.loss_fn(model, x[i], y[i])
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.detach())
    return torch.stack(losses)


def _params(state) -> int:
    return sum(v.numel() for v in state.values())


def bytes(size, dtype="float32") -> int:
    """Per step, each fp32 parameter is read in forward and backward, its gradient written, and AdamW reads
    p, g, m, v and writes p, m, v: 10 × 4 B per parameter (activations not counted: a lower bound)."""
    c = config(size)
    return c.steps * 40 * _params(M.init_state(c, 0))


def flops(size, dtype="float32") -> int:
    """6 FLOPs per weight per token (2 forward, 4 backward) over the matmul weights, plus causal attention."""
    c = config(size)
    tokens = c.batch * c.seq
    dense = c.layers * 12 * c.d_model ** 2 + c.d_model * c.vocab
    attention = c.layers * 6 * c.batch * c.seq * c.seq * c.d_model      # QKᵀ and PV, fwd + bwd, causal half
    return c.steps * (6 * dense * tokens + attention)


def train(x, y, state, device, *, fast_loader=False, sync_every_step=True, bf16=False, fused=False,
          compiled=False) -> torch.Tensor:
    """The training loop, with each fix behind a switch. Returns the per-step losses (on the device)."""
    c = M.Config(batch=x.shape[1], seq=x.shape[2], d_model=state["emb.weight"].shape[1], steps=x.shape[0])
    model = M.model_for(c, device)
    M.load_state(model, state)
    fwd = M.compiled_model(model) if compiled else model
    opt = torch.optim.AdamW(model.parameters(), lr=c.lr, **({"fused": True} if fused else {"foreach": False}))
    losses = torch.empty(c.steps, device=device)
    for i in range(c.steps):
        if fast_loader:      # one slice of a pinned host tensor, copied asynchronously
            xb, yb = x[i].to(device, non_blocking=True), y[i].to(device, non_blocking=True)
        else:
            xb, yb = M.slow_batch(x, y, i, device)
        with M.autocast(device, bf16):
            loss = M.loss_fn(fwd, xb, yb)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if sync_every_step:  # "just logging": .item() waits for the GPU to finish the whole step
            value = loss.item()
            if value != value:
                raise FloatingPointError(f"loss is NaN at step {i}")
            losses[i] = value
        else:
            losses[i] = loss.detach()
    return losses


@pl.variant(note="per-sample Python collate + pageable copy each step; loss.item() every step; for-loop AdamW")
def baseline(x, y, state, device):
    return train(x, y, state, device)


@pl.variant(note="fix 1: slice a pinned batch, copy with non_blocking=True")
def fast_loader(x, y, state, device):
    return train(x, y, state, device, fast_loader=True)


@pl.variant(note="fix 2: losses stay on the device; one read at the end instead of .item() per step")
def no_sync(x, y, state, device):
    return train(x, y, state, device, fast_loader=True, sync_every_step=False)


@pl.variant(precision="bfloat16", note="fix 3: bf16 autocast (matmuls in bf16, loss in fp32)")
def bf16(x, y, state, device):
    return train(x, y, state, device, fast_loader=True, sync_every_step=False, bf16=True)


@pl.variant(precision="bfloat16", note="fix 4: AdamW(fused=True): one kernel for all parameters")
def fused_adamw(x, y, state, device):
    return train(x, y, state, device, fast_loader=True, sync_every_step=False, bf16=True, fused=True)


@pl.variant(precision="bfloat16", note="fix 5: torch.compile(model): fused forward and backward kernels")
def compiled(x, y, state, device):
    return train(x, y, state, device, fast_loader=True, sync_every_step=False, bf16=True, fused=True,
                 compiled=True)


@pl.variant(precision="bfloat16", needs="cuda",
            note="fix 6: the whole step (forward, backward, AdamW) captured once in a CUDA graph, replayed")
def cuda_graph(x, y, state, device):
    c = M.Config(batch=x.shape[1], seq=x.shape[2], d_model=state["emb.weight"].shape[1], steps=x.shape[0])
    step = M.graphed_step(c, device)
    step.reset(state)
    losses = torch.empty(c.steps, device=device)
    for i in range(c.steps):
        losses[i] = step(x[i], y[i])
    return losses


variants = [baseline, fast_loader, no_sync, bf16, fused_adamw, compiled, cuda_graph]
