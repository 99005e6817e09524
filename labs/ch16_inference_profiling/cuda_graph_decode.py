"""Batch-1 decode, eager vs the same step captured in a CUDA graph. Both start from a prefilled prompt
and its first token; only the per-token decode steps are timed."""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch

from labs.ch16_inference_profiling import _common as C
from labs.inference.cuda_graph import GraphDecoder
from labs.inference.kv_cache import KVCache

TITLE = "Batch-1 decode: eager launches → one CUDA-graph replay per token"
SIZES = {"cpu": [(61, 23), (125, 9), (33, 41)],      # (prompt tokens, new tokens)
         "gpu": [(121, 19), (61, 41), (509, 19)]}
DTYPES = ["float32"]
_decoders: dict = {}


OPTIONS = pl.LabOptions(gate_note=(
    "decode steps at batch 1 are launch-bound: the CUDA graph removes the launches and runs about 2.5× faster"
    " than eager on the H100 reference, and what remains is hundreds of small dependent kernels, each too "
    "short to reach the copy rate."))


@torch.no_grad()
def make_inputs(size, device="cpu", dtype="float32", seed: int = 0) -> dict:
    plen, n_new = size
    model = C.model_for(str(device), dtype)
    prompt = C.random_tokens((1, plen), model.config.vocab_size, seed).to(device)
    cache = KVCache.empty(model.config, 1, plen + n_new, device, getattr(torch, dtype))
    first = model(prompt, cache, logits_for=[plen - 1])[:, -1].argmax(-1)
    return {"model": model, "prompt": prompt, "first": first, "cache": cache, "n_new": n_new}


@torch.no_grad()
def reference(model, prompt, first, cache, n_new) -> torch.Tensor:
    """The plain greedy loop from the prompt (with a fresh cache)."""
    from labs.inference.generate import generate
    return torch.tensor(generate(model, prompt.tolist(), n_new + 1)[0][1:])


def bytes(size, dtype="float32") -> int:
    plen, n_new = size
    return C.decode_bytes(C.current_config(), 1, plen + n_new // 2, n_new)


def flops(size, dtype="float32") -> int:
    plen, n_new = size
    return C.decode_flops(C.current_config(), 1, plen + n_new // 2, n_new)


def _decoder(model, prompt, first, n_new, use_graph: bool) -> GraphDecoder:
    """One static decoder per (model, length, mode), kept across calls; its cache is loaded with this
    prompt's K/V (an eager prefill) only when the prompt changes."""
    key = (id(model), prompt.shape[1] + n_new, use_graph)
    dec = _decoders.get(key)
    if dec is None:
        dec = _decoders[key] = GraphDecoder(model, prompt.shape[1] + n_new, use_graph=use_graph)
    if getattr(dec, "loaded", None) is not prompt:
        dec.cache.set_lengths([0])
        model(prompt, dec.cache)
        dec.loaded = prompt
    return dec


@torch.no_grad()
def _run(dec: GraphDecoder, prompt, first, n_new) -> torch.Tensor:
    dec.cache.set_lengths([prompt.shape[1]])
    dec.token.copy_(first[:, None])
    out = []
    for _ in range(n_new):
        if dec.graph is not None:
            dec.graph.replay()
            out.append(dec.out.clone())
        else:
            out.append(dec._step())
    return torch.cat(out).cpu()


@pl.variant(note="eager: one Python call and a few hundred kernel launches per token")
@torch.no_grad()
def eager(model, prompt, first, cache, n_new):
    cache.set_lengths([prompt.shape[1]])
    nxt, out = first, []
    for _ in range(n_new):
        nxt = model(nxt[:, None], cache)[:, -1].argmax(-1)
        out.append(nxt)
    return torch.cat(out).cpu()


@pl.variant(note="static shapes, still eager: attention always spans the full preallocated cache")
def static_eager(model, prompt, first, cache, n_new):
    return _run(_decoder(model, prompt, first, n_new, use_graph=False), prompt, first, n_new)


@pl.variant(needs="cuda", note="the static step captured once in a CUDA graph, replayed per token")
def cuda_graph(model, prompt, first, cache, n_new):
    return _run(_decoder(model, prompt, first, n_new, use_graph=True), prompt, first, n_new)


variants = [eager, static_eager, cuda_graph]
