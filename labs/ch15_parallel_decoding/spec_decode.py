"""Speculative decoding on the engine: a small draft proposes k tokens, the target verifies them in one pass.

    out, stats = speculative_generate(target, draft, prompt, max_new_tokens=95, k=4)
    sweep = k_sweep(p=0.8)                   # measured speedup vs Leviathan et al.'s prediction, per k

Greedy verification: the target runs once over [last token, d1 … dk] and its argmax at each position is
what plain greedy decoding would have produced there. The longest prefix of drafts equal to those argmaxes
is accepted, and the target's own token at the first mismatch (or after all k) comes free. So the output is
the target's greedy output, token for token, whatever the draft proposes; only the speed depends on it.

Random weights give no meaningful draft/target agreement, so the draft here is **controlled**:
``ControlledDraft`` runs the real draft model (its full forward pass and argmax, so its cost is real) but
proposes, for each position, the target's greedy token with probability p and a different token otherwise,
from a table made beforehand by decoding the target greedily. Acceptance is then i.i.d. Bernoulli(p), exactly
the assumption behind the analytic formula, and the measured acceptance rate is an estimate of p.
"""
from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass, field

import torch

from labs.ch15_parallel_decoding import _engine
from labs.ch15_parallel_decoding import calculators as calc
from labs.inference.generate import generate
from labs.inference.kv_cache import KVCache
from labs.inference.model import cached_model


@dataclass
class SpecStats:
    """What one speculative run did: target passes (rounds), drafts accepted, rounds that hit a mismatch."""
    k: int
    rounds: int = 0
    accepted: int = 0
    rejections: int = 0
    draft_steps: int = 0
    per_round: list = field(default_factory=list)     # tokens each round added

    @property
    def alpha(self) -> float:
        """Per-token acceptance rate: accepted / (accepted + rejected). Drafts after the first mismatch of a
        round are never judged by the target, so they do not count."""
        judged = self.accepted + self.rejections
        return self.accepted / judged if judged else float("nan")

    @property
    def tokens_per_round(self) -> float:
        return (self.accepted + self.rounds) / self.rounds if self.rounds else float("nan")


class ControlledDraft:
    """A real draft model whose proposals are controlled: token i is the target's greedy token with
    probability p, else another token. ``greedy`` is the target's greedy continuation (≥ new tokens + k)."""

    def __init__(self, model, greedy: list[int], p: float, seed: int = 0):
        if not 0 <= p <= 1:
            raise ValueError(f"p (the chance a draft token matches the target) must be in [0, 1], got {p}")
        rng = random.Random(seed)
        vocab = model.config.vocab_size
        self.model, self.p = model, p
        self.tokens = [g if rng.random() < p else (g + rng.randrange(1, vocab)) % vocab for g in greedy]
        device = next(model.parameters()).device
        self.tokens_dev = torch.tensor(self.tokens, device=device)


@contextlib.contextmanager
def one_cpu_thread(device):
    """On a CPU, decode with one thread: a batch-1 step of a small model has no work worth splitting, and
    on a busy machine OpenMP threads waiting for each other cost more than the math (10× on a loaded
    2-core box). Restores the previous setting. No effect on a GPU."""
    if torch.device(device).type != "cpu":
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def speculative_generate(target, draft: ControlledDraft, prompt: list[int], max_new_tokens: int,
                         k: int) -> tuple[list[int], SpecStats]:
    """Greedy speculative decoding of one prompt; returns (new tokens, stats)."""
    with one_cpu_thread(next(target.parameters()).device), torch.no_grad():
        return _speculative(target, draft, prompt, max_new_tokens, k)


def _speculative(target, draft, prompt, max_new_tokens, k):
    if k < 1:
        raise ValueError(f"k (draft tokens per round) must be ≥ 1, got {k}")
    if len(draft.tokens) < max_new_tokens + k:
        raise ValueError(f"the draft's table has {len(draft.tokens)} tokens; it needs max_new_tokens + k = "
                         f"{max_new_tokens + k}")
    device = next(target.parameters()).device
    dtype = next(target.parameters()).dtype
    P, max_len = len(prompt), len(prompt) + max_new_tokens + k + 1
    tc = KVCache.empty(target.config, 1, max_len, device, dtype)
    dc = KVCache.empty(draft.model.config, 1, max_len, device, dtype)
    x = torch.tensor([prompt], device=device)
    last = target(x, tc)[0, -1:].argmax(-1)             # (1,) the first new token: the target's own
    draft.model(x, dc)                                 # the draft reads the prompt too
    out, pending, stats = last.tolist(), last, SpecStats(k)
    proposals = draft.tokens_dev
    while len(out) < max_new_tokens:
        n0 = len(out)
        feed = pending
        for j in range(k):                             # the draft: k cheap one-token steps
            draft.model(feed.view(1, -1), dc)[0, -1].argmax(-1)   # its own choice (ignored: controlled)
            feed = proposals[n0 + j:n0 + j + 1]
        block = torch.cat([last, proposals[n0:n0 + k]]).view(1, k + 1)
        best = target(block, tc)[0].argmax(-1)         # (k+1,) the target's greedy token at each position
        g = best.tolist()                              # the one host sync per round
        n = 0
        while n < k and draft.tokens[n0 + n] == g[n]:
            n += 1
        out += draft.tokens[n0:n0 + n] + [g[n]]
        last = best[n:n + 1]
        pending = last if n < k else torch.cat([proposals[n0 + k - 1:n0 + k], last])
        tc.rollback(P + len(out) - 1)                  # the target keeps every committed token but the last
        dc.rollback(P + n0 + min(n, k - 1))            # the draft keeps what it saw that was accepted
        stats.rounds += 1
        stats.accepted += n
        stats.rejections += n < k
        stats.draft_steps += k
        stats.per_round.append(n + 1)
    return out[:max_new_tokens], stats


def target_greedy(target, prompt: list[int], max_new_tokens: int) -> list[int]:
    """Plain greedy decoding with the KV cache: the engine's ``generate``, one token per target pass."""
    with one_cpu_thread(next(target.parameters()).device):
        return generate(target, [prompt], max_new_tokens)[0]


# ---- the k sweep: measured speedup vs the analytic prediction ----------------------------------------

NEW_TOKENS = {"gpu": 95, "cpu": 31}
PROMPT_LEN = 8


def setup(tier: str, device: str, seed: int = 0, extra: int = 8):
    """(target, draft model, prompt, the target's greedy continuation of NEW_TOKENS + extra tokens)."""
    tcfg = _engine.spec_target_config(tier)
    target = cached_model(tcfg, device)
    draft = cached_model(_engine.draft_config(tcfg), device)
    g = torch.Generator().manual_seed(seed)
    prompt = torch.randint(0, tcfg.vocab_size, (PROMPT_LEN,), generator=g).tolist()
    greedy = target_greedy(target, prompt, NEW_TOKENS[tier] + extra)
    return target, draft, prompt, greedy


def target_pass(model, new_tokens: int, context: int):
    """A zero-argument callable: one cached forward of ``new_tokens`` tokens after ``context`` cached ones
    (the cache is rolled back before each call, so it can be timed or profiled again and again)."""
    device, dtype = next(model.parameters()).device, next(model.parameters()).dtype
    cache = KVCache.empty(model.config, 1, context + new_tokens, device, dtype)
    with torch.no_grad(), one_cpu_thread(device):
        model(torch.zeros(1, context, dtype=torch.long, device=device), cache)
    tokens = torch.zeros(1, new_tokens, dtype=torch.long, device=device)

    def run():
        cache.rollback(context)
        with torch.no_grad(), one_cpu_thread(device):
            return model(tokens, cache)
    return run


def _verify_ratio(target, context: int, k: int, rep_ms: float) -> float:
    """Time of one target pass over k+1 new tokens ÷ one pass over 1 token, at ``context`` cached tokens."""
    import perflab as pl
    return (pl.bench(target_pass(target, k + 1, context), rep_ms=rep_ms).median
            / pl.bench(target_pass(target, 1, context), rep_ms=rep_ms).median)


@dataclass(frozen=True)
class SweepRow:
    """One k of k_sweep(): what speculative decoding measured there and what the formulas predict."""
    k: int
    equal: bool                 # the output equals the target's plain greedy output, token for token
    alpha: float                # α̂ measured at this k
    tokens_per_round: float     # measured
    expected: float             # E(α̂, k)
    verify: float               # (k+1)-token target pass ÷ one-token step, measured
    seconds: float              # speculative decoding (median)
    speedup: float              # plain greedy time ÷ seconds
    predicted: float            # E(α̂,k) / (k·c + 1)
    predicted_verify: float     # E(α̂,k) / (k·c + verify)


@dataclass
class KSweep:
    """One acceptance probability p, several k: measured α, tokens per round, speedup and predictions."""
    p: float
    new_tokens: int
    device: str
    target_s: float             # plain greedy decoding of new_tokens with the target (median)
    draft_s: float              # the same with the draft model
    rows: list                  # one SweepRow per k
    names: tuple = ("", "")

    @property
    def c(self) -> float:
        """Cost of a draft step in target steps, measured: draft decoding time ÷ target decoding time."""
        return self.draft_s / self.target_s

    def table(self):
        from perflab.table import Table
        rows = [[str(r.k), "✅" if r.equal else "❌", f"{r.alpha:.3f}", f"{r.tokens_per_round:.2f}",
                 f"{r.expected:.2f}", f"{r.verify:.2f}", f"{r.seconds * 1e3:,.1f}", f"{r.speedup:.2f}×",
                 f"{r.predicted:.2f}×", f"{r.speedup / r.predicted - 1:+.0%}",
                 f"{r.predicted_verify:.2f}×"] for r in self.rows]
        return Table(["k", "= greedy", "α measured", "tokens/round", "E(α,k)", "verify ÷ step", "ms", "speedup",
                      "predicted", "vs predicted", "pred. with verify"], rows,
                     title=f"Speculative decoding, k sweep · draft matches with p={self.p} · {self.new_tokens} new "
                           f"tokens · measured on {self.device}",
                     notes=[f"target {self.names[0]}: {self.target_s * 1e3:,.1f} ms greedy; draft {self.names[1]}: "
                            f"{self.draft_s * 1e3:,.1f} ms → c = {self.c:.3f} (measured)",
                            "α = accepted ÷ (accepted + rejected): drafts after a round's first mismatch are never judged",
                            "predicted = E(α,k) / (k·c + 1) (Leviathan et al.); 'with verify' replaces the 1 by the "
                            "measured cost of the (k+1)-token target pass",
                            "= greedy: the output equals the target's plain greedy output, token for token (a ❌ would "
                            "mean a near-tie in the logits broke differently in the (k+1)-token pass)"])

    def check(self, tolerance: float = 0.2) -> str:
        """One line: is every measured speedup within ``tolerance`` of the prediction?"""
        worst = max(self.rows, key=lambda r: abs(r.speedup / r.predicted - 1))
        dev = worst.speedup / worst.predicted - 1
        mark = "✅" if abs(dev) <= tolerance else "❌"
        line = (f"{mark} measured speedup within {abs(dev):.0%} of E(α̂,k)/(k·c+1) at every k (worst: k={worst.k}, "
                f"{worst.speedup:.2f}× vs {worst.predicted:.2f}×; tolerance {tolerance:.0%}) on {self.device}")
        v = max(r.verify for r in self.rows)
        if mark == "❌" and v > 1.2:
            line += (f"\n   the (k+1)-token target pass costs up to {v:.2f} one-token steps here, not the formula's 1: "
                     f"compare with the 'pred. with verify' column")
        return line

    def figure(self):
        import plotly.graph_objects as go
        ks = [r.k for r in self.rows]
        fig = go.Figure([go.Scatter(x=ks, y=[r.speedup for r in self.rows], mode="lines+markers", name="measured"),
                         go.Scatter(x=ks, y=[r.predicted for r in self.rows], mode="lines+markers",
                                    line=dict(dash="dash"), name="E(α̂,k)/(k·c+1)")])
        fig.update_layout(title=f"Speedup vs draft length k (p={self.p}, c={self.c:.2f}) on {self.device}",
                          xaxis_title="draft tokens per round k", yaxis_title="speedup over greedy", height=360)
        return fig


KS = {"gpu": (1, 2, 4, 6, 8), "cpu": (1, 2, 4, 8)}


def k_sweep(p: float = 0.8, ks: tuple | None = None, seed: int = 0, rep_ms: float | None = None) -> KSweep:
    """Measure plain greedy decoding, the draft alone (for c), and speculative decoding at each k."""
    import perflab as pl
    from perflab.machine import device, env
    e = env()
    from perflab import quick
    ks = ks or quick.pick(KS[e.tier], KS[e.tier][::2])         # quick mode: every other k
    dev = str(device())
    rep_ms = quick.rep_ms(rep_ms or (300 if e.tier == "gpu" else 100))
    n = NEW_TOKENS[e.tier]
    target, draft, prompt, greedy = setup(e.tier, dev, seed, extra=max(ks))
    # whole decodes are host-driven loops that end synchronised: the CPU timer gives >= 5 samples of them
    # where CUDA events in a 300 ms window gave one (a 95-token decode takes ~0.45 s on an H100)
    target_s = pl.bench(lambda: target_greedy(target, prompt, n), rep_ms=rep_ms, label="target greedy",
                        mode="cpu").median
    draft_s = pl.bench(lambda: target_greedy(draft, prompt, n), rep_ms=rep_ms, label="draft greedy",
                       mode="cpu").median
    rows = []
    for k in ks:
        d = ControlledDraft(draft, greedy, p, seed)
        out, st = speculative_generate(target, d, prompt, n, k)
        sec = pl.bench(lambda: speculative_generate(target, d, prompt, n, k), rep_ms=rep_ms, label=f"spec k={k}",
                       mode="cpu").median
        v = _verify_ratio(target, PROMPT_LEN + n // 2, k, rep_ms=rep_ms / 10)
        c = draft_s / target_s
        rows.append(SweepRow(k, out == greedy[:n], st.alpha, st.tokens_per_round, calc.expected_tokens(st.alpha, k),
                             v, sec, target_s / sec, calc.speculative_speedup(st.alpha, k, c),
                             calc.speculative_speedup(st.alpha, k, c, v)))
    names = tuple(f"{m.config.n_layers}L×{m.config.d_model}" for m in (target, draft))
    return KSweep(p, n, e.device, target_s, draft_s, rows, names)
