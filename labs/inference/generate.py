"""Greedy decoding: the plain loop every engine feature is checked against, token for token.

    generate(model, prompts, max_new_tokens, use_cache=False)   # recompute the whole sequence each step
    generate(model, prompts, max_new_tokens, use_cache=True)    # prefill once, then one token per step

Prompts may differ in length: rows are right-padded, and each row reads its logits at its own last
token (causal attention means the padding after a token never affects it).
"""
from __future__ import annotations

import torch

from labs.inference.kv_cache import KVCache


def _pad(rows: list[list[int]], device) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token lists with 0 -> (tokens (B, T_max), lengths (B,))."""
    lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)
    tokens = torch.zeros(len(rows), int(lengths.max()), dtype=torch.long)
    for i, r in enumerate(rows):
        tokens[i, :len(r)] = torch.tensor(r, dtype=torch.long)
    return tokens.to(device), lengths.to(device)


def _check(model, prompts, max_new_tokens):
    if not prompts or any(len(p) == 0 for p in prompts):
        raise ValueError("every prompt needs at least one token")
    longest = max(len(p) for p in prompts) + max_new_tokens
    if longest > model.config.max_seq_len:
        raise ValueError(f"prompt + {max_new_tokens} new tokens = {longest} > max_seq_len={model.config.max_seq_len}")


@torch.no_grad()
def generate(model, prompts: list[list[int]], max_new_tokens: int, use_cache: bool = True) -> list[list[int]]:
    """Greedy-decode max_new_tokens after each prompt; returns only the new tokens, one list per prompt."""
    _check(model, prompts, max_new_tokens)
    device = next(model.parameters()).device
    if not use_cache:
        seqs = [list(p) for p in prompts]
        for _ in range(max_new_tokens):
            tokens, lengths = _pad(seqs, device)
            logits = model(tokens, logits_for=lengths - 1)              # recomputes every position again
            nxt = logits[:, -1].argmax(-1).tolist()
            for s, t in zip(seqs, nxt):
                s.append(t)
        return [s[len(p):] for s, p in zip(seqs, prompts)]

    dtype = next(model.parameters()).dtype
    max_len = max(len(p) for p in prompts) + max_new_tokens
    cache = KVCache.empty(model.config, len(prompts), max_len, device, dtype)
    tokens, lengths = _pad(prompts, device)
    logits = model(tokens, cache, n_new=lengths, logits_for=lengths - 1)  # prefill: all prompt tokens at once
    nxt = logits[:, -1].argmax(-1)
    out = [nxt]
    for _ in range(max_new_tokens - 1):
        nxt = model(nxt[:, None], cache)[:, -1].argmax(-1)               # decode: one token per sequence
        out.append(nxt)
    return torch.stack(out, 1).tolist() if max_new_tokens > 0 else [[] for _ in prompts]
