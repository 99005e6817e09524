"""A decoder-only transformer (GPT-2 shape) in plain PyTorch, with an optional KV cache.

Read top to bottom: ModelConfig, Attention, MLP, Block, Transformer, build_model. Weights are random
(seeded), nothing is downloaded: the engine is for measuring speed, and greedy decoding of a random
model is as expensive as decoding a trained one of the same shape.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int = 50257     # GPT-2's BPE vocabulary
    d_model: int = 768          # width of the residual stream
    n_layers: int = 12
    n_heads: int = 12           # d_model must divide evenly
    max_seq_len: int = 1024     # learned position embeddings cap the context

    def __post_init__(self):
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    def n_params(self) -> int:
        """Parameters (the LM head is not tied to the embedding: see Transformer)."""
        d, L = self.d_model, self.n_layers
        per_layer = 12 * d * d + 13 * d            # qkv + proj + 2 MLP matrices, biases, two LayerNorms
        return 2 * self.vocab_size * d + self.max_seq_len * d + L * per_layer + 2 * d

    def kv_bytes_per_token(self, dtype_bytes: int = 4) -> int:
        """K and V for one token across all layers."""
        return 2 * self.n_layers * self.d_model * dtype_bytes

    @classmethod
    def tiny(cls) -> "ModelConfig":
        """Small enough to decode hundreds of tokens per second on a 2-core CPU."""
        return cls(vocab_size=512, d_model=128, n_layers=2, n_heads=4, max_seq_len=512)

    @classmethod
    def gpt2(cls) -> "ModelConfig":
        """GPT-2 small: 124M parameters."""
        return cls()

    @classmethod
    def for_tier(cls, tier: str) -> "ModelConfig":
        if tier not in ("cpu", "gpu"):
            raise ValueError(f"tier must be 'cpu' or 'gpu', got {tier!r}")
        return cls.tiny() if tier == "cpu" else cls.gpt2()


class Attention(nn.Module):
    """Causal multi-head self-attention. With a cache, new K/V go in at each sequence's length."""

    def __init__(self, cfg: ModelConfig, layer: int):
        super().__init__()
        self.layer, self.n_heads, self.head_dim = layer, cfg.n_heads, cfg.head_dim
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)

    def forward(self, x, cache=None, pos=None, mask=None):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_heads, self.head_dim).transpose(1, 2) for t in (q, k, v))  # (B, H, T, hd)
        if cache is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            y = cache.attend(self.layer, q, k, v, pos, mask)    # stores k, v at pos; attends over 0..S-1
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.fc = nn.Linear(cfg.d_model, 4 * cfg.d_model)
        self.out = nn.Linear(4 * cfg.d_model, cfg.d_model)

    def forward(self, x):
        return self.out(F.gelu(self.fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig, layer: int):
        super().__init__()
        self.ln1, self.attn = nn.LayerNorm(cfg.d_model), Attention(cfg, layer)
        self.ln2, self.mlp = nn.LayerNorm(cfg.d_model), MLP(cfg)

    def forward(self, x, cache=None, pos=None, mask=None):
        x = x + self.attn(self.ln1(x), cache, pos, mask)
        return x + self.mlp(self.ln2(x))


class Transformer(nn.Module):
    """tokens (B, T) -> logits (B, T, vocab).

    Without a cache, T is the whole sequence (causal attention over it). With a cache, the T tokens
    are appended after each sequence's ``cache.lengths[b]`` tokens and attend to all of them; the
    cache's lengths grow by T (or by ``n_new[b]`` when given: right-padded rows of unequal length).
    ``logits_for``: an optional (B,) index of the one position per row whose logits are wanted (a
    prefill needs only its last token's); the result is then (B, 1, vocab).
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.config = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.wpe = nn.Embedding(cfg.max_seq_len, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg, i) for i in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        # GPT-2 ties lm_head to wte; with random weights a tied model just echoes its last token,
        # so ours are separate (decoding then wanders, which exercises every cache position).

    def forward(self, tokens: torch.Tensor, cache=None, n_new=None, logits_for=None) -> torch.Tensor:
        B, T = tokens.shape
        if cache is None:
            if T > self.config.max_seq_len:
                raise ValueError(f"sequence of {T} tokens exceeds max_seq_len={self.config.max_seq_len}")
            pos = torch.arange(T, device=tokens.device)[None, :].expand(B, T)
        else:
            pos = cache.positions(T)                               # (B, T) absolute positions
            keys = torch.arange(cache.span(T), device=tokens.device)
            mask = keys[None, None, None, :] <= pos[:, None, :, None]   # (B, 1, T, S): causal, per row
        x = self.wte(tokens) + self.wpe(pos.clamp(max=self.config.max_seq_len - 1))
        for block in self.blocks:
            x = block(x, cache, pos, mask if cache is not None else None)
        if cache is not None:
            cache.advance(T if n_new is None else n_new)
        if logits_for is not None:
            x = x[torch.arange(B, device=x.device), torch.as_tensor(logits_for, device=x.device)][:, None]
        return self.lm_head(self.ln_f(x))


def tier_of(device) -> str:
    """The tier whose sizes and model a device gets: "gpu" for a CUDA device, else "cpu"."""
    return "gpu" if torch.device(device).type == "cuda" else "cpu"


def default_dtype(device) -> torch.dtype:
    """The engine's precision on ``device``: bfloat16 on a GPU (tensor-core matmuls, half the weight and KV
    bytes), float32 on a CPU (no fast bf16 matmul there, and exact token-for-token tests)."""
    return torch.bfloat16 if torch.device(device).type == "cuda" else torch.float32


@torch.no_grad()
def build_model(config: ModelConfig, device="cpu", dtype: torch.dtype | None = torch.float32,
                seed: int = 0) -> Transformer:
    """A Transformer with random weights drawn on the CPU from a seeded generator, then moved.
    ``dtype`` None: :func:`default_dtype` of the device (what the chapter 16 serving runs use).

    Same seed -> same weights on any device. Linear and embedding weights ~ N(0, 0.02), residual
    projections scaled by 1/sqrt(2 * n_layers) as in GPT-2; biases zero; LayerNorms identity.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.device("cpu"):
        model = Transformer(config)
    init_weights(model, lambda p, std: p.copy_(torch.randn(p.shape, generator=gen) * std))
    return model.to(device=device, dtype=default_dtype(device) if dtype is None else dtype).eval()


def cached_model(config: ModelConfig, device, dtype: str = "float32", seed: int = 0) -> Transformer:
    """:func:`build_model` once per process for each (config, device, dtype name, seed): the weights are
    read-only inputs, and drawing GPT-2's 163M of them takes about a second. "cuda", "cuda:0" and
    torch.device("cuda") share one (:func:`device_key`)."""
    return _cached_model(config, device_key(device), dtype, seed)


@functools.lru_cache(maxsize=6)
def _cached_model(config: ModelConfig, device: str, dtype: str, seed: int) -> Transformer:
    return build_model(config, device, getattr(torch, dtype), seed)


def init_weights(model: Transformer, draw) -> Transformer:
    """The engine's initialization, in place, parameter by parameter in a fixed order: ``draw(p, std)`` fills
    each weight matrix from N(0, std²); biases zero; LayerNorm weights one."""
    for name, p in model.named_parameters():
        if p.dim() >= 2:
            resid = name.endswith(("proj.weight", "out.weight"))
            draw(p, 0.02 / math.sqrt(2 * model.config.n_layers) if resid else 0.02)
        elif "ln" in name and name.endswith("weight"):
            p.fill_(1.0)
        else:
            p.zero_()
    return model


def device_key(device) -> str:
    """'cuda', 'cuda:0' and torch.device("cuda") name the same GPU: one key for a per-device model cache."""
    d = torch.device(device)
    if d.type == "cuda" and d.index is None:
        d = torch.device("cuda", torch.cuda.current_device())
    return str(d)
