"""The chapter's view of the engine (labs.inference): cached random-weight models and the configs it uses."""
from __future__ import annotations

import functools

import torch

from labs.inference.model import ModelConfig, build_model


def draft_config(target: ModelConfig) -> ModelConfig:
    """The draft of a target: same vocabulary and context, one layer at half width (a few % of the work)."""
    d = max(64, target.d_model // 2)
    heads = max(2, target.n_heads // 2)
    while d % heads:
        heads -= 1
    return ModelConfig(vocab_size=target.vocab_size, d_model=d, n_layers=1, n_heads=heads,
                       max_seq_len=target.max_seq_len)


def spec_target_config(tier: str) -> ModelConfig:
    """The target of the speculative-decoding lab: GPT-2 small on a GPU. On a CPU the engine's tiny
    model is already draft-sized, so the target is a 6-layer, 192-wide model with tiny's vocabulary."""
    if tier == "gpu":
        return ModelConfig.gpt2()
    return ModelConfig(vocab_size=512, d_model=192, n_layers=6, n_heads=6, max_seq_len=512)


@functools.lru_cache(maxsize=6)
def model(config: ModelConfig, device: str, dtype: str = "float32", seed: int = 0):
    """The engine's Transformer with random weights, built once per process (GPT-2 takes ~1 s to draw)."""
    return build_model(config, device, getattr(torch, dtype), seed)
