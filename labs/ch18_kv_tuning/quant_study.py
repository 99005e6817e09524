"""Memory saved vs attention error for each KV storage scheme, on random KV and on a structured case.

The error is measured where it matters: the output of decode attention (4 new queries over the whole
cache) computed from the dequantized cache, against the same attention over the bf16 cache, as
relative L2 error ‖o − o_ref‖ / ‖o_ref‖. Two cases:

- random:     q, K, V ~ N(0, 1). Attention is spread over thousands of tokens, so errors average out.
- structured: what trained models tend to show, built by hand: four key channels are 8× larger than
              the rest in every token (per-token scales must stretch to cover them), one early "sink"
              token and the most recent ~100 tokens line up with the queries, so they get most of
              the attention weight, and V rows vary in size from token to token.

    >>> s = run(size=(2, 300, 64), schemes=SCHEMES[:2])
    >>> s.rows[1].label, s.rows[1].fraction < 0.6, s.rows[1].error["random"] < 0.02
    ('int8 per token', True, True)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from labs.ch18_kv_tuning import kv_quant as kq

SIZES = {"cpu": (4, 2_011, 64), "gpu": (8, 8_191, 128)}      # (heads, tokens, head_dim); batch 1
QUERIES = 4                                                   # decode steps attending to the cache
WINDOW = 128                                                  # recent tokens kept in bf16 (L8474)
CASES = ("random", "structured")


@dataclass(frozen=True)
class Scheme:
    label: str
    kind: str                 # for both K and V: "none", "int8", "fp8", "int4"
    k_axis: str = "token"     # K may use per-channel scales; V always per token
    window: int = 0


SCHEMES = [
    Scheme("bf16 (no quantization)", "none"),
    Scheme("int8 per token", "int8"),
    Scheme(f"int8 per token + {WINDOW} recent", "int8", window=WINDOW),
    Scheme(f"int8 K per channel + {WINDOW} recent", "int8", "channel", WINDOW),
    Scheme(f"fp8 e4m3 per token + {WINDOW} recent", "fp8", window=WINDOW),
    Scheme("int4 (groups of 32) per token", "int4"),
    Scheme(f"int4 (groups of 32) + {WINDOW} recent", "int4", window=WINDOW),
]


def make_case(case: str, size: tuple, device="cpu", seed: int = 0) -> tuple:
    """(q, k, v) in bf16: q is (1, H, QUERIES, D), k and v (1, H, T, D)."""
    if case not in CASES:
        raise ValueError(f"case must be one of {CASES}, got {case!r}")
    heads, tokens, dim = size
    g = torch.Generator(device=device).manual_seed(seed)
    rand = lambda *shape: torch.randn(*shape, generator=g, device=device)  # noqa: E731
    if case == "random":
        q, k, v = rand(1, heads, QUERIES, dim), rand(1, heads, tokens, dim), rand(1, heads, tokens, dim)
        return q.bfloat16(), k.bfloat16(), v.bfloat16()
    chan = torch.ones(dim, device=device)
    chan[torch.randperm(dim, generator=torch.Generator().manual_seed(seed))[:4].to(device)] = 8.0
    u = rand(1, heads, 1, dim)
    u = u / u.norm(dim=-1, keepdim=True)                         # one direction per head the queries look along
    pull = torch.zeros(tokens, device=device)                    # how far each key leans along u
    pull[0] = 10.0                                               # the sink token
    n_recent = min(96, tokens - 1)
    pull[-n_recent:] = 5.0 * torch.linspace(0.6, 1.0, n_recent, device=device)
    k = rand(1, heads, tokens, dim) * chan + pull[:, None] * u
    q = math.sqrt(dim) * u + rand(1, heads, QUERIES, dim)
    v = rand(1, heads, tokens, dim) * torch.exp(0.5 * rand(1, heads, tokens, 1))
    return q.bfloat16(), k.bfloat16(), v.bfloat16()


@dataclass
class Row:
    label: str
    nbytes: int                       # K + V as stored
    fraction: float                   # of the bf16 cache
    error: dict = field(default_factory=dict)      # case -> relative L2 error of the attention output
    skipped: str = ""


@dataclass
class Study:
    device: str
    size: tuple
    bf16_bytes: int
    rows: list = field(default_factory=list)
    bf16_rounding: float = 0.0        # error of rounding the exact output itself to bf16: the floor worth comparing with

    def row(self, label: str) -> Row:
        return next(r for r in self.rows if r.label == label)

    def table(self):
        from perflab.table import Table
        pct = lambda e: "—" if e is None else ("0 (exact)" if e == 0 else f"{e:.2%}")  # noqa: E731
        rows = [[r.label, f"{r.nbytes / 2**20:,.2f} MiB" if not r.skipped else "—",
                 f"{r.fraction:.3f}×" if not r.skipped else "—", f"{1 / r.fraction:.2f}×" if not r.skipped else "—",
                 *(pct(r.error.get(c)) for c in CASES)] for r in self.rows]
        h, t, d = self.size
        notes = [f"one layer, batch 1: {h} heads × {t:,} tokens × head_dim {d}; {QUERIES} decode queries; "
                 "error = ‖o − o_bf16‖ / ‖o_bf16‖ of the attention output",
                 "bytes are the tensors actually stored: codes + float32 scales + the recent window in bf16",
                 f"yardstick: rounding the attention output itself to bf16 costs {self.bf16_rounding:.2%} (measured here)"]
        notes += [f"{r.label}: {r.skipped}" for r in self.rows if r.skipped]
        return Table(["scheme", "K+V bytes", "vs bf16", "smaller by", "error · random", "error · structured"],
                     rows, title=f"KV storage: memory vs attention error · measured on {self.device}", notes=notes)

    def __repr__(self):
        return str(self.table())

    def figure(self):
        """Attention error (log) against memory (fraction of bf16), one trace per case."""
        import plotly.graph_objects as go
        fig = go.Figure()
        rows = [r for r in self.rows if not r.skipped and r.error.get("random")]     # bf16 (error 0) is off a log axis
        symbols = {"random": "circle", "structured": "diamond"}
        for r in rows:                          # one trace per scheme (legend), one marker per case (symbol)
            fig.add_trace(go.Scatter(x=[r.fraction] * len(CASES), y=[r.error[c] for c in CASES], mode="markers",
                                     name=r.label, marker=dict(size=11, symbol=[symbols[c] for c in CASES]),
                                     hovertext=[f"{r.label} · {c}" for c in CASES]))
        fig.update_layout(title=f"KV memory vs attention error (● random, ◆ structured) · {self.device}", yaxis_type="log",
                          xaxis_title="KV bytes as a fraction of bf16 (lower is smaller)",
                          yaxis_title="relative error of the attention output", height=460,
                          margin=dict(l=60, r=20, t=50, b=50))
        return fig


def run(device=None, size: tuple | None = None, schemes=SCHEMES, seed: int = 0) -> Study:
    """Quantize both cases with every scheme, decode-attend, and record bytes and error."""
    import perflab as pl
    device = torch.device(device or pl.device())
    size = size or SIZES[pl.env().tier]
    cases = {c: make_case(c, size, device, seed) for c in CASES}
    bf16 = 2 * cases["random"][1].numel() * 2                   # K and V, 2 bytes per value
    name = pl.env().device if device.type == torch.device(pl.device()).type else str(device)
    study = Study(name, size, bf16)
    for s in schemes:
        if s.kind == "fp8" and not kq.fp8_supported(device):
            study.rows.append(Row(s.label, 0, 0.0, skipped="float8 e4m3 storage needs sm_89+ (Ada, Hopper); "
                                  "there it stores 1 byte per value like int8, with 3 mantissa bits instead of ~7"))
            continue
        row = None
        for case, (q, k, v) in cases.items():
            qk = kq.quantize(k, s.kind, s.k_axis, s.window)
            qv = kq.quantize(v, s.kind, "token", s.window)
            ref = kq.attention(q, k, v)
            out = kq.attention(q, qk.dequantize(), qv.dequantize())
            rounding = float((ref.bfloat16().float() - ref).norm() / ref.norm())
            study.bf16_rounding = max(study.bf16_rounding, rounding)
            if row is None:
                n = qk.nbytes() + qv.nbytes()
                row = Row(s.label, n, n / bf16)
            row.error[case] = float((out - ref).norm() / ref.norm())
        study.rows.append(row)
    return study
