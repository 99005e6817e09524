"""Chapter 19 labs: repeatable decode steps, the engine's inputs and init, the static-cache and compiled steps
(shape, every variant at two sizes and planted bugs: tests/test_contract.py)."""
from __future__ import annotations

import pytest
import torch

import perflab as pl
from labtests import DEVICE
from labs.ch19_adaptive_inference import engine


@pytest.mark.parametrize("variant", ["bf16", "int8_torch"])
def test_decode_step_is_repeatable(variant):
    """The timed step rewinds the cache: calling it again decodes the same position, bit for bit."""
    lab = pl.load("ch19.decode_precision")
    inputs = lab.make_inputs(lab.SIZES["cpu"][0], DEVICE, "bfloat16", seed=3)
    fn = lab.get_variant(variant)
    first = fn(**inputs)
    assert torch.equal(first, fn(**inputs)) and torch.equal(first, fn(**inputs))


def test_make_inputs_keeps_the_model_and_refreshes_the_prompt():
    a = engine.make_inputs((128, 2, 31), DEVICE, seed=1)
    b = engine.make_inputs((128, 2, 31), DEVICE, seed=2)
    assert a["model"] is b["model"] and not torch.equal(a["prompt"], b["prompt"])
    assert engine.config_for((192, 3, 45)).n_heads == 3 and engine.config_for((160, 2, 23)).n_heads == 5
    with pytest.raises(ValueError, match="multiple of 32"):
        engine.config_for((100, 2, 31))


@torch.no_grad()
def test_device_side_init_follows_the_engine_recipe():
    """The GPU path of engine.build (drawn on the device) has the engine's distributions, tested on the CPU."""
    from labs.inference.model import ModelConfig, build_model
    cfg = ModelConfig(vocab_size=301, d_model=96, n_layers=3, n_heads=3, max_seq_len=64)
    ours = dict(engine.build(cfg, "cpu", seed=1, draw_on_device=True).named_parameters())
    theirs = dict(build_model(cfg, "cpu", seed=1).named_parameters())
    assert ours.keys() == theirs.keys()
    for name, p in theirs.items():
        q = ours[name]
        assert q.shape == p.shape and q.dtype == p.dtype, name
        if p.dim() >= 2:
            assert abs(float(q.std()) / float(p.std()) - 1) < 0.1, name
        else:
            assert torch.equal(q, p), name                     # LayerNorm ones, zero biases


@torch.no_grad()
def test_static_cache_step_equals_the_eager_step():
    """The CUDA-graph variant replays the step on a static (full-slab) cache: same logits as the eager step."""
    inputs = engine.make_inputs((160, 2, 23), DEVICE, seed=8)
    eager = engine.state(inputs["model"], inputs["prompt"], "bf16").step(inputs["token"]).float()
    static = engine.state(inputs["model"], inputs["prompt"], "bf16", static=True).step(inputs["token"]).float()
    assert float((eager - static).norm() / eager.norm()) < 1e-2


def test_the_decode_step_traces_with_dynamo():
    """warmup.compiled compiles DecodeState.step's model call: check it traces and stays repeatable (aot_eager:
    the same Dynamo + AOT path without Inductor's code generation, so it is quick)."""
    import torch._dynamo as dynamo
    inputs = engine.make_inputs((128, 2, 31), DEVICE, seed=9)
    st = engine.DecodeState(inputs["model"], inputs["prompt"], "bf16")
    want = st.step(inputs["token"]).float()
    dynamo.reset()
    st.forward = torch.compile(st.model, backend="aot_eager")
    got = [st.step(inputs["token"]).float() for _ in range(3)]
    dynamo.reset()
    assert all(float((g - want).norm() / want.norm()) < 1e-2 for g in got)
