"""The course engine's model, prepared for the chapter's decode labs: one model per size, one cache per prompt.

A lab size is ``(d_model, n_layers, context)``: the width and depth of the engine's Transformer and how
many prompt tokens sit in the KV cache when the timed decode step runs. Widths under 512 take the
vocabulary and maximum length of the engine's tiny config (512 tokens: the cpu tier), wider ones GPT-2's
(50,257 tokens); heads are 64 wide, as in GPT-2.

The engine's ``build_model`` draws every weight on the CPU from a seeded generator (so a seed means the
same weights on any device), which takes seconds for the 0.8 B-parameter GPU model; on a GPU we follow
the same recipe with a CUDA generator instead (same distributions, other numbers). The fp32 *master* of
one size is kept (and its converted copies: bf16, int8, fp8), while the prompt, the next token and the
KV cache are fresh for every call of ``make_inputs``.

    >>> cfg = config_for((128, 2, 31))
    >>> cfg.d_model, cfg.n_layers, cfg.n_heads, cfg.vocab_size
    (128, 2, 2, 512)
"""
from __future__ import annotations

import functools
import weakref
from dataclasses import replace

import torch
from torch.utils.weak import WeakIdKeyDictionary

from labs.ch19_adaptive_inference.quant import convert
from labs.inference.kv_cache import KVCache
from labs.inference.model import ModelConfig, Transformer, build_model, device_key, init_weights

HEAD_DIM = 64


def config_for(size: tuple[int, int, int]) -> ModelConfig:
    """The engine config of a lab size (d_model, n_layers, context)."""
    d_model, n_layers, context = size
    base = ModelConfig.tiny() if d_model < 512 else ModelConfig.gpt2()
    if d_model % HEAD_DIM and d_model % 32:
        raise ValueError(f"d_model={d_model} must be a multiple of 32 (heads are {HEAD_DIM} or 32 wide)")
    if context + 2 > base.max_seq_len:
        raise ValueError(f"context={context} leaves no room to decode: max_seq_len is {base.max_seq_len}")
    heads = d_model // HEAD_DIM if d_model % HEAD_DIM == 0 else d_model // 32
    return replace(base, d_model=d_model, n_layers=n_layers, n_heads=heads)


@torch.no_grad()
def build(config: ModelConfig, device, seed: int = 0, draw_on_device: bool | None = None) -> Transformer:
    """``build_model(config, device, float32, seed)``; on a GPU (or with draw_on_device=True) the same
    initialization drawn on the device itself."""
    if not (torch.device(device).type == "cuda" if draw_on_device is None else draw_on_device):
        return build_model(config, device, torch.float32, seed)
    g = torch.Generator(device=device).manual_seed(seed)
    with torch.device(device):
        model = Transformer(config)
    return init_weights(model, lambda p, std: p.normal_(0.0, std, generator=g)).eval()


class Bundle:
    """The fp32 master of one size and its converted copies, made on first use."""

    def __init__(self, config: ModelConfig, device):
        self.config, self.device = config, torch.device(device)
        self.master = build(config, device, seed=0)
        self.master.requires_grad_(False)
        self.copies = {"fp32": self.master}
        self.master._ch19_bundle = weakref.ref(self)      # so a variant can find the copies from its input

    def model(self, kind: str):
        if kind not in self.copies:
            self.copies[kind] = convert(self.master, kind).requires_grad_(False)
        return self.copies[kind]


@functools.lru_cache(maxsize=1)          # one size at a time: a new size frees the old models
def bundle(size: tuple[int, int, int], device: str) -> Bundle:
    return Bundle(config_for(size), device)


def bundle_of(model) -> Bundle:
    """The bundle whose master is ``model`` (the ``model`` input that make_inputs returned)."""
    ref = getattr(model, "_ch19_bundle", None)
    b = ref() if ref is not None else None
    if b is None:
        raise ValueError("this model was not made by the chapter's make_inputs; pass the inputs it returned")
    return b


def make_inputs(size, device="cpu", dtype="bfloat16", seed: int = 0) -> dict:
    """The model of this size (kept between calls), a fresh seeded prompt and the token to decode next."""
    b = bundle(tuple(size), device_key(device))
    g = torch.Generator(device=b.device).manual_seed(seed)
    vocab, context = b.config.vocab_size, size[2]
    prompt = torch.randint(0, vocab, (1, context), generator=g, device=b.device)
    token = torch.randint(0, vocab, (1, 1), generator=g, device=b.device)
    return {"model": b.master, "prompt": prompt, "token": token}


# ---- decode states: a model copy and a KV cache holding the prompt -------------------------------------

_STATES: WeakIdKeyDictionary = WeakIdKeyDictionary()     # prompt tensor -> {kind: DecodeState}


class DecodeState:
    """One precision's model copy with the prompt already in its KV cache (prefilled once)."""

    def __init__(self, model, prompt: torch.Tensor, kind: str, static: bool = False):
        b = bundle_of(model)
        self.model = b.model(kind)
        dtype = torch.float32 if kind == "fp32" else torch.bfloat16
        self.cache = KVCache.empty(b.config, 1, prompt.shape[1] + 1, b.device, dtype, static=static)
        self.forward = self.model                       # what step() calls: a compiled module may replace it
        with torch.no_grad():
            self.model(prompt, self.cache)                              # prefill

    @torch.no_grad()
    def step(self, token: torch.Tensor) -> torch.Tensor:
        """Logits (1, vocab) for ``token`` after the prompt; the cache is rewound so every call repeats the
        same step (same position, same bytes), which is what a timing loop needs."""
        logits = self.forward(token, self.cache)[:, -1]
        self.cache.lengths.sub_(1)
        self.cache.used -= 1
        return logits


def cached(prompt: torch.Tensor, key, make):
    """Per-prompt memo: ``make()`` once for this prompt tensor and key, then the same object."""
    per_prompt = _STATES.setdefault(prompt, {})
    if key not in per_prompt:
        per_prompt[key] = make()
    return per_prompt[key]


def state(model, prompt: torch.Tensor, kind: str, static: bool = False) -> DecodeState:
    """The decode state of this prompt and precision, made (and prefilled) on first use."""
    return cached(prompt, (kind, static), lambda: DecodeState(model, prompt, kind, static))


def decode_step(kind: str, model, prompt, token) -> torch.Tensor:
    """One decode step at batch 1 in precision ``kind``; fp32 logits (1, vocab)."""
    return state(model, prompt, kind).step(token).float()
