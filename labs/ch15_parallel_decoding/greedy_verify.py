"""Exercise lab: the acceptance step of greedy speculative decoding, for a batch of requests.

Input: the target's logits at the k+1 positions of each request's verification pass (B, k+1, V) and the
k draft tokens (B, k). Output (B, k+1) int64: row b holds the target's greedy tokens at positions
0 … n_b, where n_b is the number of leading drafts equal to the target's argmax, and -1 after that:
the accepted drafts plus the one token the target adds. Compared exactly.
"""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch

TITLE = "Verify k draft tokens per request: keep the longest prefix that matches the target's argmax, plus one"
# (requests B, draft tokens k, vocabulary V): GPT-2's vocabulary on a GPU (404 MB of logits at the default)
SIZES = {"gpu": [(251, 7, 50257), (61, 5, 50257), (13, 3, 50257)], "cpu": [(13, 5, 1021), (29, 7, 1021)]}
DTYPES = ["int64"]           # the answer is token ids; the logits are float32
OPTIONS = pl.LabOptions(gate_note=(
    "the vectorized verify reads the (B, k+1, V) logits once with an argmax per row: 1,757 rows of 50,257 "
    "values, about 13 rows per SM, so the last wave's tail and each row's reduction latency hold it near "
    "three quarters of the copy rate on the H100 reference (no counters taken yet)."),
    target=0.4)    # of the copy bandwidth, reading the logits once


def make_inputs(size, device="cpu", dtype="int64", seed: int = 0) -> dict:
    """Random logits; drafts that agree with the argmax for a random number of leading positions, so every
    accepted length 0 … k occurs."""
    B, k, V = size
    g = torch.Generator(device=device).manual_seed(seed)
    logits = torch.randn(B, k + 1, V, generator=g, device=device)
    best = logits[:, :k].argmax(-1)                                             # (B, k)
    n_true = torch.randint(0, k + 1, (B, 1), generator=g, device=device)
    other = (best + torch.randint(1, V, (B, k), generator=g, device=device)) % V   # never the argmax
    pos = torch.arange(k, device=device)
    draft = torch.where(pos < n_true, best, other)
    # after the first mismatch the drafts do not matter: make some of them match again by chance
    noise = torch.rand(B, k, generator=g, device=device) < 0.5
    draft = torch.where((pos > n_true) & noise, best, draft)
    return {"logits": logits, "draft": draft}


def reference(logits: torch.Tensor, draft: torch.Tensor) -> torch.Tensor:
    """The rule, written out row by row on the host."""
    best = logits.double().argmax(-1).cpu().tolist()
    rows = []
    for b, d in zip(best, draft.cpu().tolist()):
        n = 0
        while n < len(d) and d[n] == b[n]:
            n += 1
        rows.append(b[:n + 1] + [-1] * (len(d) - n))
    return torch.tensor(rows, dtype=torch.int64)


def bytes(size, dtype="int64") -> int:
    B, k, V = size
    return 4 * B * (k + 1) * V + 8 * B * k + 8 * B * (k + 1)       # read logits and drafts, write the answer


def flops(size, dtype="int64") -> int:
    return 0


@pl.variant(note="row by row, position by position, one .item() per comparison (a host sync each on a GPU)")
def row_by_row(logits, draft):
    B, k = draft.shape
    out = torch.full((B, k + 1), -1, dtype=torch.int64, device=logits.device)
    for b in range(B):
        for j in range(k + 1):
            t = logits[b, j].argmax()
            out[b, j] = t
            if j == k or draft[b, j].item() != t.item():
                break
    return out


@pl.variant(note="one argmax, a cumulative product of matches, one masked select: no host sync (the solution)")
def vectorized(logits, draft):
    best = logits.argmax(-1)                                        # (B, k+1)
    k = draft.shape[1]
    ok = (draft == best[:, :k]).long().cumprod(1)                   # 1 while every draft so far matched
    n = ok.sum(1, keepdim=True)                                     # accepted drafts per row
    keep = torch.arange(k + 1, device=best.device) <= n             # accepted + the target's own token
    return torch.where(keep, best, torch.full_like(best, -1))


variants = [row_by_row, vectorized]
