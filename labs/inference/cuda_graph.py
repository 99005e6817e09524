"""CUDA-graph decode: capture the one-token decode step at batch 1 once, replay it for every token.

Eager decode of a small model is launch-bound: each step issues a few hundred small kernels and the
CPU spends longer launching them than the GPU spends running them. A CUDA graph records the whole step
once; a replay launches all of it with one call. Requirements:

- static shapes: the KV cache is the fixed (1, H, max_len, hd) slab and attention always spans all
  max_len slots, masked past the current length (KVCache(static=True));
- static buffers: the input token, the cache and its ``lengths`` live at fixed addresses; the step
  reads the position from ``lengths`` on the device and bumps it there, so nothing on the host changes
  between replays;
- warm-up on a side stream before capture (as torch.cuda.graphs requires).
"""
from __future__ import annotations

import torch

from perflab.cuda import capture   # chapter 12's recipe: side-stream warm-up, then capture
from labs.inference.kv_cache import KVCache


class GraphDecoder:
    """Greedy batch-1 decoding with the decode step captured in a CUDA graph.

    ``use_graph=False`` runs the very same static-shape step eagerly (the CPU tests use it to check
    that the static cache gives the plain loop's tokens).
    """

    def __init__(self, model, max_len: int, use_graph: bool = True):
        p = next(model.parameters())
        if use_graph and p.device.type != "cuda":
            raise ValueError(f"CUDA graphs need the model on a CUDA device; it is on {p.device}. "
                             f"Use use_graph=False to run the static step eagerly.")
        self.model, self.max_len, self.use_graph = model, max_len, use_graph
        self.cache = KVCache.empty(model.config, 1, max_len, p.device, p.dtype, static=True)
        self.token = torch.zeros(1, 1, dtype=torch.long, device=p.device)   # the step's input buffer
        self.graph = None
        if use_graph:
            self._capture()

    @torch.no_grad()
    def _step(self) -> torch.Tensor:
        logits = self.model(self.token, self.cache)        # writes K/V at lengths, then lengths += 1
        nxt = logits[:, -1].argmax(-1)                     # (1,)
        self.token.copy_(nxt[:, None])                     # the output is the next step's input
        return nxt

    @torch.no_grad()
    def _capture(self) -> None:
        self.graph, self.out = capture(self._step, warmup=3)     # warm-up: cuBLAS handles, allocator pools
        self.cache.lengths.zero_()

    @torch.no_grad()
    def generate(self, prompt: list[int], max_new_tokens: int) -> list[int]:
        """Prefill eagerly, then one replay (or eager static step) per new token."""
        if len(prompt) + max_new_tokens > self.max_len:
            raise ValueError(f"prompt {len(prompt)} + {max_new_tokens} new > max_len={self.max_len}")
        self.cache.set_lengths([0])
        tokens = torch.tensor([prompt], device=self.token.device)
        first = self.model(tokens, self.cache)[:, -1].argmax(-1)
        self.token.copy_(first[:, None])
        out = [first]
        for _ in range(max_new_tokens - 1):
            if self.graph is not None:
                self.graph.replay()
                out.append(self.out.clone())
            else:
                out.append(self._step())
        return torch.cat(out).tolist()
