"""The engine's contract modules: model, KV cache and the greedy loop (with and without the cache)."""
import pytest
import torch

from labs.inference.generate import generate
from labs.inference.kv_cache import KVCache
from labs.inference.model import ModelConfig, build_model


def _prompts(cfg, lengths, seed):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, cfg.vocab_size, (n,), generator=g).tolist() for n in lengths]


@pytest.fixture(scope="module")
def model():
    return build_model(ModelConfig.tiny(), "cpu", seed=0)


def test_configs():
    assert ModelConfig.for_tier("cpu") == ModelConfig.tiny()
    assert ModelConfig.for_tier("gpu") == ModelConfig.gpt2()
    assert ModelConfig.gpt2().head_dim == 64
    with pytest.raises(ValueError, match="divisible"):
        ModelConfig(d_model=100, n_heads=3)
    with pytest.raises(ValueError, match="tier"):
        ModelConfig.for_tier("tpu")


def test_build_is_deterministic(model):
    other = build_model(ModelConfig.tiny(), "cpu", seed=0)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), other.parameters()))
    third = build_model(ModelConfig.tiny(), "cpu", seed=1)
    assert not torch.equal(model.wte.weight, third.wte.weight)
    assert sum(p.numel() for p in model.parameters()) == model.config.n_params()


@pytest.mark.parametrize("lengths,seed", [([7], 1), ([5, 17, 1, 40], 2), ([33, 33, 9], 3)])
def test_cache_matches_no_cache(model, lengths, seed):
    prompts = _prompts(model.config, lengths, seed)
    plain = generate(model, prompts, 19, use_cache=False)
    assert generate(model, prompts, 19, use_cache=True) == plain
    assert [len(x) for x in plain] == [19] * len(lengths)
    # batching does not change any row: each prompt alone gives the same tokens
    assert [generate(model, [p], 19)[0] for p in prompts] == plain
    assert len(set(plain[0])) > 3, "a random model should not just repeat one token"


def test_cached_logits_match_full_forward(model):
    tokens = torch.tensor([_prompts(model.config, [23], 4)[0]])
    full = model(tokens)
    cache = KVCache.empty(model.config, 1, 40)
    parts = [model(tokens[:, :10], cache), model(tokens[:, 10:11], cache), model(tokens[:, 11:], cache)]
    torch.testing.assert_close(torch.cat(parts, 1), full, atol=1e-5, rtol=1e-5)
    assert cache.lengths.tolist() == [23] and cache.used == 23


def test_cache_bytes_and_limits(model):
    cfg = model.config
    cache = KVCache.empty(cfg, 3, 50)
    assert cache.bytes() == 2 * cfg.n_layers * 3 * 50 * cfg.d_model * 4
    with pytest.raises(ValueError, match="does not fit"):
        model(torch.zeros(1, 51, dtype=torch.long), KVCache.empty(cfg, 1, 50))
    with pytest.raises(ValueError, match="max_seq_len"):
        generate(model, [[1] * 500], 20)
