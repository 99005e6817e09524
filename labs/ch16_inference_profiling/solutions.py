"""Chapter 16 exercise answer: greedy decoding that uses the KV cache instead of recomputing."""
from __future__ import annotations

import torch


@torch.no_grad()
def decode_with_cache(model, prompts, first, cache, n_new):
    """Rewind the prefilled cache to the prompt, then feed one token per step."""
    cache.set_lengths([prompts.shape[1]] * prompts.shape[0])
    nxt, out = first, []
    for _ in range(n_new):
        nxt = model(nxt[:, None], cache)[:, -1].argmax(-1)   # (B,): attends to all cached K/V
        out.append(nxt)
    return torch.stack(out, 1)


from perflab.exercise import Exercise, Speedup, Step, Traffic  # noqa: E402

EXERCISES = [Exercise(
    "ch16.kv_cache", answer=decode_with_cache,
    evidence="H100 run 2026-12-07 at (16, 509, 2): no_cache 74.9 ms, kv_cache 10.8 ms (6.9×; 1.1% and 7.7% of "
             "the copy ceiling, launch-bound); on this CPU 308 ms vs 12.8 ms (24×)",
    steps=[Step("feed one token per step through the cache",
                hint="cache.set_lengths([prompt_len] * batch), then model(nxt[:, None], cache) each step",
                cpu=[Traffic(at_most=4)], gpu=[Traffic(at_most=4)]),
           Step("and see it pay", hint="",
                cpu=[Speedup(at_least=5, over="no_cache")], gpu=[Speedup(at_least=4, over="no_cache")])])]

__all__ = ["decode_with_cache", "EXERCISES"]
