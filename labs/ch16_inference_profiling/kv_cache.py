"""Decode at a long context without and with the KV cache. Both start from the same prefilled prompt
(and its first output token); the baseline recomputes the whole sequence for every new token."""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch

from labs.ch16_inference_profiling import _common as C
from labs.inference.kv_cache import KVCache

TITLE = "Greedy decode at a long context: recompute everything → KV cache"
# (batch, prompt tokens, new tokens); the GPU default decodes at a ~510-token context
SIZES = {"cpu": [(4, 301, 3), (3, 125, 5), (6, 401, 2)],
         "gpu": [(16, 509, 2), (4, 509, 4), (16, 253, 4)]}
DTYPES = ["float32"]
OPTIONS = pl.LabOptions(gate_note=(
    "a batch-16 decode of a small model: each step is many short kernels launched from Python, so launches "
    "set the time; the lab's lesson is the cache against recomputing the prefix (about 10× on the H100 "
    "reference), not bandwidth."),
    target=0.03)    # exercise: fraction of the memory-bound decode rate (launch overhead caps it on a GPU)


@torch.no_grad()
def make_inputs(size, device="cpu", dtype="float32", seed: int = 0) -> dict:
    """Random prompts, prefilled once into a KV cache; ``first`` is the token the prefill produced."""
    batch, plen, n_new = size
    model = C.model_for(str(device), dtype)
    prompts = C.random_tokens((batch, plen), model.config.vocab_size, seed).to(device)
    cache = KVCache.empty(model.config, batch, plen + n_new, device, getattr(torch, dtype))
    first = model(prompts, cache, logits_for=[plen - 1] * batch)[:, -1].argmax(-1)
    return {"model": model, "prompts": prompts, "first": first, "cache": cache, "n_new": n_new}


@torch.no_grad()
def recompute(model, prompts, first, n_new) -> torch.Tensor:
    """The plain loop: run the model over the whole sequence for every new token."""
    seq = torch.cat([prompts, first[:, None]], 1)
    out = []
    for _ in range(n_new):
        last = torch.full((seq.shape[0],), seq.shape[1] - 1)
        nxt = model(seq, logits_for=last)[:, -1].argmax(-1)   # every position recomputed; logits for the last
        out.append(nxt)
        seq = torch.cat([seq, nxt[:, None]], 1)
    return torch.stack(out, 1)


def reference(model, prompts, first, cache, n_new) -> torch.Tensor:
    return recompute(model, prompts, first, n_new)


def bytes(size, dtype="float32") -> int:
    batch, plen, n_new = size
    return C.decode_bytes(C.current_config(), batch, plen + n_new // 2, n_new)


def flops(size, dtype="float32") -> int:
    batch, plen, n_new = size
    return C.decode_flops(C.current_config(), batch, plen + n_new // 2, n_new)


@pl.variant(note="no cache: every step recomputes all prompt + generated positions")
def no_cache(model, prompts, first, cache, n_new):
    return recompute(model, prompts, first, n_new)


@pl.variant(note="KV cache: each step runs one token per sequence and attends to the cached K/V")
@torch.no_grad()
def kv_cache(model, prompts, first, cache, n_new):
    cache.set_lengths([prompts.shape[1]] * prompts.shape[0])   # rewind to the prefilled prompt
    nxt, out = first, []
    for _ in range(n_new):
        nxt = model(nxt[:, None], cache)[:, -1].argmax(-1)
        out.append(nxt)
    return torch.stack(out, 1)


variants = [no_cache, kv_cache]
