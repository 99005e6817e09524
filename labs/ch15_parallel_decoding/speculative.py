"""Lab: greedy decoding with the engine's target model alone vs with a controlled draft proposing k tokens.

Every variant must return the target's greedy continuation exactly (token ids, compared exactly); the
speculative ones only change how many target passes it takes. The draft is a real 1-layer model of the
engine whose proposals match the target's token with probability p (see ``spec_decode``).
"""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch

from labs.ch15_parallel_decoding import _engine
from labs.ch15_parallel_decoding import spec_decode as sd
from labs.inference.model import tier_of

TITLE = "Speculative decoding: target alone vs a 1-layer draft proposing k tokens (draft match rate p)"
# (k draft tokens per round, new tokens); the panel's slider moves k
SIZES = {"gpu": [(4, sd.NEW_TOKENS["gpu"]), (2, sd.NEW_TOKENS["gpu"]), (6, sd.NEW_TOKENS["gpu"]),
                 (8, sd.NEW_TOKENS["gpu"])],
         "cpu": [(4, sd.NEW_TOKENS["cpu"]), (2, sd.NEW_TOKENS["cpu"]), (6, sd.NEW_TOKENS["cpu"])]}
DTYPES = ["int64"]          # the answer is token ids, compared exactly; the models run in float32
# A call is a host-driven loop that ends synchronised (each round reads the target's tokens back), about
# 0.45 s on an H100: CUDA events with a 100 ms window timed ONE call per variant there (p20 = p80), so
# ratios were one noisy sample each. The CPU timer takes at least 5 samples of whole calls in about the
# same time (a first call, one to size the block, then five).
OPTIONS = pl.LabOptions(gate_note=(
    "a host-driven decode loop (GPT-2 small at batch 1 on a GPU): each step launches a few hundred small "
    "kernels from Python, so the time is launches and host work, not HBM; the bytes column counts the weights"
    " read per token."),
    timing="cpu")


def make_inputs(size, device="cpu", dtype="int64", seed: int = 0) -> dict:
    """A random 8-token prompt (seeded), the engine's target and draft (fixed random weights), and the
    target's greedy continuation that the controlled draft copies from."""
    k, n = size
    target, draft, prompt, greedy = sd.setup(tier_of(device), str(device), seed, extra=k)
    return {"prompt": torch.tensor(prompt), "target": target, "draft": draft, "greedy": greedy,
            "k": k, "new_tokens": n, "seed": seed}


def reference(prompt, target, draft, greedy, k, new_tokens, seed) -> torch.Tensor:
    """Plain greedy decoding with the engine's generate (one target pass per token)."""
    return torch.tensor(sd.target_greedy(target, prompt.tolist(), new_tokens))


def bytes(size, dtype="int64") -> int:
    """Plain decoding reads the target's float32 weights once per new token: every block and the LM head
    (the embeddings only one row each). So GB/s here = how close decoding comes to streaming the weights."""
    k, n = size
    cfg = _engine.spec_target_config(pl.env().tier)
    return n * 4 * (cfg.n_params() - (cfg.vocab_size + cfg.max_seq_len) * cfg.d_model)


def flops(size, dtype="int64") -> int:
    return 0          # compared by time and by bytes streamed, not placed on the roofline


@pl.variant(note="the engine's generate: one target pass per token (the baseline)")
def target_only(prompt, target, draft, greedy, k, new_tokens, seed):
    return torch.tensor(sd.target_greedy(target, prompt.tolist(), new_tokens))


def _spec(p: float):
    def run(prompt, target, draft, greedy, k, new_tokens, seed):
        d = sd.ControlledDraft(draft, greedy, p, seed)
        return torch.tensor(sd.speculative_generate(target, d, prompt.tolist(), new_tokens, k)[0])
    return run


spec_p60 = pl.variant(note="draft matches the target with p=0.6; k drafts, one (k+1)-token target pass")(_spec(0.6))
spec_p80 = pl.variant(note="draft matches with p=0.8")(_spec(0.8))
spec_p95 = pl.variant(note="draft matches with p=0.95 (a very good draft)")(_spec(0.95))
for _fn, _name in ((spec_p60, "spec_p60"), (spec_p80, "spec_p80"), (spec_p95, "spec_p95")):
    _fn.__name__ = _fn.__qualname__ = _name

variants = [target_only, spec_p60, spec_p80, spec_p95]
