"""Shared by the chapter's labs: one model per (tier, device, dtype), built once per process."""
from __future__ import annotations

import torch

from labs.inference.model import ModelConfig, cached_model, default_dtype, tier_of


def config_for(device) -> ModelConfig:
    """Tiny on the CPU, GPT-2 small on a GPU (labs/inference/model.py)."""
    return ModelConfig.for_tier(tier_of(device))


def current_config() -> ModelConfig:
    from perflab.machine import env
    return ModelConfig.for_tier(env().tier)


def model_for(device="cpu", dtype: str | None = None):
    """Random weights (seed 0), built on first use and kept: the weights are read-only inputs, and
    drawing GPT-2's 163M of them takes about a second. "cuda", "cuda:0" and torch.device("cuda") share one.
    ``dtype`` None: the engine's default for the device (bfloat16 on a GPU, float32 on a CPU)."""
    dtype = str(default_dtype(device)).removeprefix("torch.") if dtype is None else dtype
    return cached_model(config_for(device), device, dtype)


def random_tokens(shape, vocab: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, shape, generator=g)


def decode_bytes(cfg: ModelConfig, batch: int, context: int, steps: int, dtype_bytes: int = 4) -> int:
    """The least a decode must move: every weight once per step, plus the KV of the context."""
    return steps * (cfg.n_params() * dtype_bytes + batch * context * cfg.kv_bytes_per_token(dtype_bytes))


def decode_flops(cfg: ModelConfig, batch: int, context: int, steps: int) -> int:
    """2 FLOPs per weight per token (embedding lookups excluded) plus QK and PV over the context."""
    weights = cfg.n_params() - (cfg.vocab_size + cfg.max_seq_len) * cfg.d_model
    return steps * batch * (2 * weights + 4 * cfg.n_layers * context * cfg.d_model)
