"""A tiny transformer block, its in-memory token data, and the training loop the ch13 labs tune step by step."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import perflab as pl  # noqa: F401  (first: sets TRITON_INTERPRET on machines without a GPU)
import torch
import torch.nn as nn
import torch.nn.functional as F

from perflab.cuda import capture   # chapter 12's recipe: side-stream warm-up, then capture


@dataclass(frozen=True)
class Config:
    """Shape of the model and of one training run. Nothing is a multiple of 16 on purpose."""
    vocab: int = 29         # tokens (small: the loss visibly falls within a few steps)
    d_model: int = 52       # width; heads × head_dim
    heads: int = 4          # head_dim = 13
    layers: int = 2         # transformer blocks
    seq: int = 37           # tokens per sample
    batch: int = 6          # samples per step
    steps: int = 6          # optimizer steps per run
    lr: float = 3e-2        # AdamW learning rate (high: the loss must move within a few steps)


class Block(nn.Module):
    """Pre-norm attention + MLP block (causal SDPA)."""

    def __init__(self, c: Config):
        super().__init__()
        self.heads = c.heads
        self.ln1, self.ln2 = nn.LayerNorm(c.d_model), nn.LayerNorm(c.d_model)
        self.qkv = nn.Linear(c.d_model, 3 * c.d_model)
        self.proj = nn.Linear(c.d_model, c.d_model)
        self.up, self.down = nn.Linear(c.d_model, 4 * c.d_model), nn.Linear(4 * c.d_model, c.d_model)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.heads, d // self.heads).transpose(1, 3).unbind(2)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)       # (B, heads, T, head_dim)
        x = x + self.proj(a.transpose(1, 2).reshape(b, t, d))
        return x + self.down(F.gelu(self.up(self.ln2(x))))


class TinyLM(nn.Module):
    """Embedding → blocks → LayerNorm → vocabulary logits. ``checkpoint=True`` recomputes each block in backward."""

    def __init__(self, c: Config):
        super().__init__()
        self.emb = nn.Embedding(c.vocab, c.d_model)
        self.pos = nn.Parameter(torch.zeros(c.seq, c.d_model))
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.layers))
        self.ln, self.head = nn.LayerNorm(c.d_model), nn.Linear(c.d_model, c.vocab)
        self.checkpoint = False

    def forward(self, tokens):
        x = self.emb(tokens) + self.pos[: tokens.shape[1]]
        for blk in self.blocks:
            if self.checkpoint and torch.is_grad_enabled():
                x = torch.utils.checkpoint.checkpoint(blk, x, use_reentrant=False)
            else:
                x = blk(x)
        return self.head(self.ln(x))


def init_state(c: Config, seed: int) -> dict[str, torch.Tensor]:
    """Random initial weights (float32, CPU) from a seeded generator: every variant starts from these."""
    g = torch.Generator().manual_seed(seed)
    model = TinyLM(c)
    return {k: (0.3 * torch.randn(v.shape, generator=g) if v.dim() > 1 else 0.05 * torch.randn(v.shape, generator=g))
            for k, v in model.state_dict().items()}


def make_data(c: Config, seed: int, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, targets), each (steps, batch, seq) int64: random tokens; the target is the next token id
    (x + 1) mod vocab, a mapping the model can learn, so the loss falls step by step."""
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randint(0, c.vocab, (c.steps, c.batch, c.seq), generator=g)
    y = (x + 1) % c.vocab
    return x.to(device), y.to(device)


_MODELS: dict = {}


def model_for(c: Config, device, dtype=torch.float32) -> TinyLM:
    """One model object per (config, device, dtype), reused so torch.compile and CUDA graphs build once."""
    key = (c, str(device), dtype)
    if key not in _MODELS:
        _MODELS[key] = TinyLM(c).to(device=device, dtype=dtype)
    return _MODELS[key]


def load_state(model: nn.Module, state: dict) -> None:
    """Copy ``state`` into the model's own tensors in place (addresses unchanged: CUDA graphs rely on it)."""
    with torch.no_grad():
        for k, v in model.state_dict().items():
            v.copy_(state[k])
    for p in model.parameters():
        p.grad = None


def slow_batch(x: torch.Tensor, y: torch.Tensor, step: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """A naive input pipeline: every sample is decoded to text and tokenized again in Python (as an
    on-the-fly tokenizer in the loop would), stacked, and copied from pageable host memory, synchronously,
    on every step. Same numbers as ``x[step]``, ``y[step]``."""
    def tokenize(row: torch.Tensor) -> torch.Tensor:
        text = " ".join(f"tok{t}" for t in row.tolist())
        return torch.tensor([int(w[3:]) for w in text.split()])
    xs, ys = [tokenize(r) for r in x[step].cpu()], [tokenize(r) for r in y[step].cpu()]
    return torch.stack(xs).to(device), torch.stack(ys).to(device)


def loss_fn(model, xb, yb):
    logits = model(xb)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), yb.reshape(-1))


def autocast(device, enabled: bool):
    """bf16 autocast on the model's device (cache off: required inside a CUDA graph capture)."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16, cache_enabled=False)


_COMPILED: dict = {}


def compiled_model(model: nn.Module):
    """torch.compile(model), built once per model object (dynamic=False: one graph per shape)."""
    if id(model) not in _COMPILED:
        from perflab.machine import env
        state = env().tools.get("torch.compile", "")
        if state.startswith("unavailable"):
            raise RuntimeError(f"torch.compile cannot run here: {state.split(':', 1)[-1].strip()}")
        _COMPILED[id(model)] = torch.compile(model, dynamic=False)
    return _COMPILED[id(model)]


class GraphedStep:
    """One whole training step (bf16 forward, backward, fused AdamW) captured in a CUDA graph.

    Capture follows the documented recipe: warm up on a side stream (this also compiles), free the
    gradients, then capture forward + backward + ``opt.step()`` into static tensors. ``reset`` copies new
    weights in place and zeroes the optimizer state, so a replayed run starts where an eager run starts.
    """

    def __init__(self, c: Config, device):
        self.model = TinyLM(c).to(device)                  # its own weights: the graph owns their addresses
        fwd = compiled_model(self.model)
        self.x = torch.zeros(c.batch, c.seq, dtype=torch.long, device=device)
        self.y = torch.zeros_like(self.x)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=c.lr, fused=True, capturable=True)

        def train():
            self.opt.zero_grad(set_to_none=True)    # grads freed: the captured backward allocates them in its pool
            with autocast(device, True):
                loss = loss_fn(fwd, self.x, self.y)
            loss.backward()
            self.opt.step()
            return loss
        self.graph, self.loss = capture(train, warmup=3)

    def reset(self, state: dict) -> None:
        with torch.no_grad():
            for k, v in self.model.state_dict().items():
                v.copy_(state[k])
            for s in self.opt.state.values():
                for t in s.values():
                    if torch.is_tensor(t):
                        t.zero_()

    def __call__(self, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        self.x.copy_(xb, non_blocking=True)
        self.y.copy_(yb, non_blocking=True)
        self.graph.replay()
        return self.loss


_GRAPHS: dict = {}


def graphed_step(c: Config, device) -> GraphedStep:
    key = (c, str(device))
    if key not in _GRAPHS:
        _GRAPHS[key] = GraphedStep(c, device)
    return _GRAPHS[key]
