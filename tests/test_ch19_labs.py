"""Chapter 19 labs: shape, every runnable variant against its reference at two non-aligned sizes with fresh
seeds, repeatable decode steps, and planted bugs that the same check must reject."""
from __future__ import annotations

import pytest
import torch

import perflab as pl
from labtests import runnable
from perflab.check import compare
from perflab.lab import REQUIRED_NAMES, info
from labs.ch19_adaptive_inference import engine

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
# lab -> (baseline, a second small size: nothing aligned to 16 where it matters)
LABS = {"ch19.w8_gemv": ("bf16_weights", (2, 131, 77)),
        "ch19.decode_precision": ("bf16", (160, 2, 23)),
        "ch19.decode_graph": ("eager", (160, 2, 23))}


def test_list_labs_has_exactly_the_chapter_labs():
    assert sorted(n for n in pl.list_labs() if n.startswith("ch19.")) == sorted(LABS)


@pytest.mark.parametrize("name", LABS)
def test_lab_shape(name):
    lab = pl.load(name)
    assert not [n for n in REQUIRED_NAMES if not hasattr(lab.module, n)]
    assert lab.variant_names()[0] == LABS[name][0], "the baseline must come first"
    assert len(lab.SIZES["cpu"]) >= 2 and len(lab.SIZES["gpu"]) >= 2
    for size in [*lab.SIZES["cpu"], *lab.SIZES["gpu"], LABS[name][1]]:
        assert any(d % 16 for d in size), f"{name} size {size} is aligned to 16"
        assert lab.bytes(size, "bfloat16") > 0 and lab.flops(size, "bfloat16") > 0


CASES = [(name, fn.__name__, i) for name in LABS for fn in pl.load(name).variants for i in (0, 1)]


@pytest.mark.parametrize("name, variant, size_index", CASES)
def test_variant_matches_reference(name, variant, size_index):
    lab = pl.load(name)
    fn = lab.get_variant(variant)
    if (why := runnable(fn)) is not None:
        pytest.skip(why)
    size = [lab.SIZES["cpu"][0], LABS[name][1]][size_index]
    inputs = lab.make_inputs(size, DEVICE, "bfloat16", seed=100 + 17 * size_index)
    check = compare(fn(**inputs), lab.reference(**inputs), info(fn).precision or "bfloat16", info(fn).tol)
    assert check.ok, f"{name}.{variant} at {size}: {check.reason}"


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


# ---- planted bugs: the same check must reject them -------------------------------------------------------

def gemv_forgets_scale(x, w):
    return torch.nn.functional.linear(x, w.q.to(x.dtype))


def gemv_transposed_scale(x, w):                 # scales the inputs' columns instead of the outputs
    return torch.nn.functional.linear(x * w.scale[: x.shape[1]].to(x.dtype), w.q.to(x.dtype))


@torch.no_grad()
def decode_without_prompt(model, prompt, token):  # forgets the KV cache: the token attends to nothing before it
    return engine.bundle_of(model).model("bf16")(token)[:, -1].float()


@torch.no_grad()
def decode_one_position_late(model, prompt, token):   # decodes the token twice: its logits one position late
    from labs.inference.kv_cache import KVCache
    m = engine.bundle_of(model).model("bf16")
    cache = KVCache.empty(m.config, 1, prompt.shape[1] + 2, prompt.device, torch.bfloat16)
    m(prompt, cache)
    m(token, cache)
    return m(token, cache)[:, -1].float()


@pytest.mark.parametrize("name, bug", [("ch19.w8_gemv", gemv_forgets_scale),
                                       ("ch19.w8_gemv", gemv_transposed_scale),
                                       ("ch19.decode_precision", decode_without_prompt),
                                       ("ch19.decode_precision", decode_one_position_late)])
def test_planted_bug_is_caught(name, bug):
    lab = pl.load(name)
    size = LABS[name][1]
    inputs = lab.make_inputs(size, DEVICE, "bfloat16", seed=42)
    loosest = max(info(fn).tol or 1e-2 for fn in lab.variants)          # the fp8 rung's tolerance
    check = compare(bug(**inputs), lab.reference(**inputs), "bfloat16", loosest)
    assert not check.ok, f"{bug.__name__} passed the check"


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
