"""The configs of the chapter's engine models (labs.inference; cached_model builds each once per process)."""
from __future__ import annotations

from labs.inference.model import ModelConfig


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
