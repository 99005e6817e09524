"""Speculative decoding with a trained draft: it proposes its own greedy tokens; acceptance counted per position.

    target, draft, meta = _spec_train.load(device)
    out, st = speculative_generate(target, draft, prompt, max_new_tokens=80, k=4)   # out == target's greedy
    st.rates                                   # acceptance at draft positions 1 … k
    sweep = k_sweep(target, draft)             # measured speedup vs E(α̂,k)/(k·c + v), per k

The loop is the one in ``spec_decode`` with the controlled draft's table replaced by the draft model's own
argmax: k one-token draft steps (no host sync between them), one (k+1)-token target pass, one host sync to
compare. Acceptance is then whatever the two models agree on, and it is not i.i.d.: position j is judged
only when drafts 1 … j−1 were accepted, so ``rates[j]`` is the conditional rate P(accept j | 1 … j−1
accepted). The per-position expectation 1 + Σ_j Π_{i≤j} rates[i] is exact for tokens per round; the
Leviathan et al. formula E(α̂,k) assumes every rate equals α̂. The controlled draft of ``spec_decode`` at
p = α̂ is the calibration control: its acceptance is i.i.d. by construction.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from labs.ch15_parallel_decoding import calculators as calc
from labs.ch15_parallel_decoding import spec_decode as sd
from labs.inference.kv_cache import KVCache


@dataclass
class PositionStats(sd.SpecStats):
    """SpecStats plus, for each draft position 1 … k, how often the target judged it and accepted it."""
    judged_at: list = field(default_factory=list)
    accepted_at: list = field(default_factory=list)

    def __post_init__(self):
        self.judged_at = self.judged_at or [0] * self.k
        self.accepted_at = self.accepted_at or [0] * self.k

    @property
    def rates(self) -> list[float]:
        """P(draft j accepted | drafts before it accepted), j = 1 … k (nan where never judged)."""
        return [a / j if j else float("nan") for a, j in zip(self.accepted_at, self.judged_at)]

    def add(self, other: "PositionStats") -> None:
        for name in ("rounds", "accepted", "rejections", "draft_steps"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.per_round += other.per_round
        self.judged_at = [a + b for a, b in zip(self.judged_at, other.judged_at)]
        self.accepted_at = [a + b for a, b in zip(self.accepted_at, other.accepted_at)]


def expected_from_positions(rates: list[float]) -> float:
    """Mean tokens per round from conditional per-position rates: 1 + Σ_j Π_{i≤j} rates[i] (nan rates
    count as 0: a position never reached adds nothing).

    >>> expected_from_positions([0.5, 0.5]) == 1 + 0.5 + 0.25
    True
    """
    total, survive = 1.0, 1.0
    for r in rates:
        survive *= 0.0 if r != r else r
        total += survive
    return total


def speculative_generate(target, draft, prompt: list[int], max_new_tokens: int, k: int):
    """Greedy speculative decoding with a real draft model; returns (new tokens, PositionStats)."""
    if k < 1:
        raise ValueError(f"k (draft tokens per round) must be ≥ 1, got {k}")
    with sd.one_cpu_thread(next(target.parameters()).device), torch.no_grad():
        return _speculative(target, draft, prompt, max_new_tokens, k)


def _speculative(target, draft, prompt, max_new_tokens, k):
    device, dtype = next(target.parameters()).device, next(target.parameters()).dtype
    P, max_len = len(prompt), len(prompt) + max_new_tokens + k + 1
    tc = KVCache.empty(target.config, 1, max_len, device, dtype)
    dc = KVCache.empty(draft.config, 1, max_len, device, dtype)
    x = torch.tensor([prompt], device=device)
    last = target(x, tc)[0, -1:].argmax(-1)                 # (1,) the first new token: the target's own
    draft(x, dc)
    out, pending, st = last.tolist(), last, PositionStats(k)
    while len(out) < max_new_tokens:
        n0, feed, props = len(out), pending.view(1, -1), []
        for _ in range(k):                                 # k draft steps, each fed its own last proposal
            nxt = draft(feed, dc)[0, -1:].argmax(-1)
            props.append(nxt)
            feed = nxt.view(1, 1)
        drafts = torch.cat(props)                          # (k,)
        best = target(torch.cat([last, drafts]).view(1, k + 1), tc)[0].argmax(-1)   # (k+1,)
        both = torch.cat([drafts, best]).tolist()           # the one host sync per round
        d, g = both[:k], both[k:]
        n = 0
        while n < k and d[n] == g[n]:
            n += 1
        out += d[:n] + [g[n]]
        last = best[n:n + 1]
        pending = last if n < k else torch.cat([drafts[k - 1:], last])
        tc.rollback(P + len(out) - 1)                      # the target keeps every committed token but the last
        dc.rollback(P + n0 + min(n, k - 1))                # the draft keeps what it saw that was accepted
        st.rounds += 1
        st.accepted += n
        st.rejections += n < k
        st.draft_steps += k
        st.per_round.append(n + 1)
        for j in range(min(n + 1, k)):
            st.judged_at[j] += 1
            st.accepted_at[j] += j < n
    return out[:max_new_tokens], st


# ---- prompts and a quick acceptance measurement -------------------------------------------------------

PROMPT_LEN = 32
NEW_TOKENS = {"gpu": 48, "cpu": 32}
PROMPTS = {"gpu": 2, "cpu": 1}


def prompts(count: int = 3, length: int = PROMPT_LEN, seed: int = 0) -> list[list[int]]:
    """``count`` prompts of ``length`` characters from the held-out text, each starting after a space."""
    from labs.ch15_parallel_decoding._spec_train import VOCAB, corpus
    ids = corpus("held_out")
    g = torch.Generator().manual_seed(seed)
    space, out = VOCAB.index(" "), []
    while len(out) < count:
        i = int(torch.randint(0, len(ids) - length - 1, (1,), generator=g))
        while int(ids[i]) != space and i < len(ids) - length - 1:
            i += 1
        out.append(ids[i + 1:i + 1 + length].tolist())
    return out


@dataclass
class Acceptance:
    """Acceptance of one draft against one target at one k, over several held-out prompts."""
    k: int
    prompts: int
    new_tokens: int
    alpha: float                # accepted ÷ judged drafts
    rates: list                 # conditional acceptance at draft positions 1 … k
    tokens_per_round: float
    equal: bool                 # every output equals the target's plain greedy output

    def as_meta(self) -> dict:
        return {"k": self.k, "prompts": self.prompts, "new_tokens": self.new_tokens, "alpha": round(self.alpha, 4),
                "rates": [round(r, 4) for r in self.rates], "tokens_per_round": round(self.tokens_per_round, 4)}

    def __str__(self):
        return (f"{'✅' if self.equal else '❌'} k={self.k}: α̂ = {self.alpha:.3f} over {self.prompts} prompts × "
                f"{self.new_tokens} tokens; by position " + ", ".join(f"{r:.2f}" for r in self.rates) +
                f"; {self.tokens_per_round:.2f} tokens per target pass")


def run_prompts(target, draft, prompt_list, new_tokens: int, k: int) -> tuple[list, PositionStats]:
    outs, total = [], PositionStats(k)
    for p in prompt_list:
        out, st = speculative_generate(target, draft, p, new_tokens, k)
        outs.append(out)
        total.add(st)
    return outs, total


def acceptance(target, draft, k: int = 4, count: int = 4, new_tokens: int = 48, seed: int = 0) -> Acceptance:
    """Run speculative decoding over ``count`` held-out prompts; check it equals greedy; count acceptance."""
    ps = prompts(count, seed=seed)
    outs, st = run_prompts(target, draft, ps, new_tokens, k)
    equal = all(o == sd.target_greedy(target, p, new_tokens) for o, p in zip(outs, ps))
    return Acceptance(k, count, new_tokens, st.alpha, st.rates, st.tokens_per_round, equal)


# ---- the k sweep: measured speedup vs the analytic expectation ------------------------------------------

KS = {"gpu": (1, 2, 4, 8), "cpu": (1, 2, 4)}


@dataclass
class KRow:
    k: int
    equal: bool                 # output == the target's greedy output, every prompt
    alpha: float                # α̂ at this k
    rates: list                 # conditional acceptance per draft position
    tokens_per_round: float     # measured
    expected_iid: float         # E(α̂, k): every position accepted with α̂, independently
    control_tpr: float          # tokens per round of the controlled draft at p = α̂ (i.i.d. by construction)
    verify: float               # (k+1)-token target pass ÷ one-token step, measured
    seconds: float              # speculative decoding of every prompt (median)
    speedup: float              # plain greedy time ÷ seconds
    predicted: float            # E(α̂,k) / (k·c + 1)
    predicted_verify: float     # E(α̂,k) / (k·c + verify)


@dataclass
class TrainedSweep:
    """The trained pair over several k: acceptance, tokens per round, speedup and the predictions."""
    device: str
    prompts: int
    new_tokens: int
    target_s: float             # plain greedy decoding of every prompt with the target (median)
    draft_s: float              # the same with the draft
    rows: list

    @property
    def c(self) -> float:
        """A draft step's cost in target steps: draft greedy time ÷ target greedy time (both measured)."""
        return self.draft_s / self.target_s

    def row(self, k: int) -> KRow:
        return next(r for r in self.rows if r.k == k)

    def best(self) -> KRow:
        return max(self.rows, key=lambda r: r.speedup)

    def table(self):
        from perflab.table import Table
        rows = [[str(r.k), "✅" if r.equal else "❌", f"{r.alpha:.3f}", f"{r.tokens_per_round:.2f}",
                 f"{r.expected_iid:.2f}", f"{r.control_tpr:.2f}", f"{r.verify:.2f}",
                 f"{r.seconds * 1e3:,.1f}", f"{r.speedup:.2f}×", f"{r.predicted:.2f}×", f"{r.predicted_verify:.2f}×",
                 f"{r.speedup / r.predicted_verify - 1:+.0%}"] for r in self.rows]
        return Table(["k", "= greedy", "α̂", "tokens/round", "E(α̂,k)", "control", "verify ÷ step",
                      "ms", "speedup", "E/(kc+1)", "E/(kc+v)", "vs E/(kc+v)"], rows,
                     title=f"Trained draft vs target, k sweep: {self.prompts} held-out prompts × {self.new_tokens} "
                           f"characters · measured on {self.device}",
                     notes=[f"plain greedy: target {self.target_s * 1e3:,.1f} ms, draft {self.draft_s * 1e3:,.1f} ms "
                            f"→ c = {self.c:.3f} (measured)",
                            "E(α̂,k) = (1 − α̂^(k+1)) / (1 − α̂): every position accepted with the pooled α̂, "
                            "independently",
                            "control = tokens/round of the controlled draft at p = α̂ (i.i.d. acceptance by "
                            "construction): the formula's own case",
                            "E/(kc+v) uses the measured cost v of the (k+1)-token verification pass"])

    def positions_table(self, k: int | None = None):
        from perflab.table import Table
        r = self.row(k or max(x.k for x in self.rows))
        cells = [f"{x:.2f}" if x == x else "—" for x in r.rates]
        return Table(["draft position"] + [str(j + 1) for j in range(r.k)], [["P(accept | all before accepted)"] + cells],
                     title=f"Acceptance by draft position at k = {r.k} (α̂ = {r.alpha:.3f}) · measured on {self.device}",
                     notes=["an i.i.d. draft would show α̂ at every position; a real one does not",
                            f"1 + Σ_j Π_(i≤j) rate_i = {expected_from_positions(r.rates):.2f} = the measured tokens "
                            f"per round; E(α̂,k) with the pooled α̂ gives {r.expected_iid:.2f}"])

    def check(self, tolerance: float = 0.25) -> str:
        """One line: is every measured speedup within ``tolerance`` of E(α̂,k)/(k·c + v)?"""
        worst = max(self.rows, key=lambda r: abs(r.speedup / r.predicted_verify - 1))
        dev = worst.speedup / worst.predicted_verify - 1
        return (f"{'✅' if abs(dev) <= tolerance else '❌'} measured speedup within {abs(dev):.0%} of E(α̂,k)/(k·c+v) "
                f"at every k (worst k={worst.k}: {worst.speedup:.2f}× vs {worst.predicted_verify:.2f}×; tolerance "
                f"{tolerance:.0%}) on {self.device}; best k = {self.best().k} ({self.best().speedup:.2f}×)")

    def figure(self):
        import plotly.graph_objects as go
        ks = [r.k for r in self.rows]
        fig = go.Figure([go.Scatter(x=ks, y=[r.speedup for r in self.rows], mode="lines+markers", name="measured"),
                         go.Scatter(x=ks, y=[r.predicted_verify for r in self.rows], mode="lines+markers",
                                    line=dict(dash="dash"), name="E(α̂,k)/(k·c+v)"),
                         go.Scatter(x=ks, y=[r.predicted for r in self.rows], mode="lines+markers",
                                    line=dict(dash="dot"), name="E(α̂,k)/(k·c+1)")])
        fig.update_layout(title=f"Trained draft: speedup vs k (c = {self.c:.2f}) on {self.device}",
                          xaxis_title="draft tokens per round k", yaxis_title="speedup over greedy", height=360)
        return fig


def _verify_cost(target, context: int, k: int, rep_ms: float) -> float:
    import perflab as pl
    one = pl.bench(sd.target_pass(target, 1, context), rep_ms=rep_ms, label="target 1-token pass").median
    return pl.bench(sd.target_pass(target, k + 1, context), rep_ms=rep_ms, label=f"target {k + 1}-token pass").median / one


def k_sweep(target, draft, ks: tuple | None = None, count: int | None = None, new_tokens: int | None = None,
            rep_ms: float | None = None, seed: int = 0) -> TrainedSweep:
    """Plain greedy with each model (for c), then speculative decoding at each k over the same prompts."""
    import perflab as pl
    e = pl.env()
    ks, count = ks or KS[e.tier], count or PROMPTS[e.tier]
    n, rep_ms = new_tokens or NEW_TOKENS[e.tier], rep_ms or (200 if e.tier == "gpu" else 60)
    ps = prompts(count, seed=seed)
    greedy = lambda model: [sd.target_greedy(model, p, n) for p in ps]                  # noqa: E731
    target_s = pl.bench(lambda: greedy(target), rep_ms=rep_ms, label="target greedy").median
    draft_s = pl.bench(lambda: greedy(draft), rep_ms=rep_ms, label="draft greedy").median
    c = draft_s / target_s
    tables = [sd.target_greedy(target, p, n + max(ks)) for p in ps]     # what the controlled draft copies
    rows = []
    for k in ks:
        seen = []                                       # the runs are deterministic: keep the first's stats
        sec = pl.bench(lambda: seen.append(run_prompts(target, draft, ps, n, k)), rep_ms=rep_ms,
                       label=f"spec k={k}").median
        outs, st = seen[0]
        control = sd.SpecStats(k)
        for p, tab in zip(ps, tables):
            _, cst = sd.speculative_generate(target, sd.ControlledDraft(draft, tab, st.alpha, seed), p, n, k)
            control.rounds, control.accepted = control.rounds + cst.rounds, control.accepted + cst.accepted
        v = _verify_cost(target, PROMPT_LEN + n // 2, k, rep_ms / 4)
        e_iid = calc.expected_tokens(st.alpha, k)
        rows.append(KRow(k, all(o == t[:n] for o, t in zip(outs, tables)), st.alpha, st.rates, st.tokens_per_round,
                         e_iid, control.tokens_per_round, v, sec, target_s / sec,
                         calc.speculative_speedup(st.alpha, k, c), calc.speculative_speedup(st.alpha, k, c, v)))
    return TrainedSweep(e.device, count, n, target_s, draft_s, rows)
