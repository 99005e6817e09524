"""Prefill vs decode on the roofline: the matmul shapes the engine really runs, timed one by one.

    sweep = shapes.measure()             # decode at batch 1…256 and one prefill, on this device
    pl.show(sweep.table()); pl.show(sweep.figure(), fallback=str(sweep.roofline()))

``capture`` runs one forward of the engine's Transformer with a hook on every linear layer and records
the shape each one multiplied (rows × in × out); attention is added from the call's shapes (q: the new
tokens, K/V: everything in the cache), once per layer.
``measure`` times each distinct shape alone with ``pl.bench`` on fresh random tensors (bf16 on a GPU, the
serving precision; fp32 on a CPU) and adds the phases' totals to this device's measured Roofline.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

import perflab as pl
from labs.inference.kv_cache import KVCache
from labs.inference.model import ModelConfig, cached_model

# (label, batch, new tokens per sequence, tokens already in the cache)
PHASES = {"gpu": [("decode B=1", 1, 1, 255), ("decode B=8", 8, 1, 255), ("decode B=32", 32, 1, 255),
                  ("decode B=128", 128, 1, 255), ("decode B=256", 256, 1, 255), ("prefill 1×512", 1, 512, 0)],
          "cpu": [("decode B=1", 1, 1, 63), ("decode B=8", 8, 1, 63), ("decode B=32", 32, 1, 63),
                  ("decode B=128", 128, 1, 63), ("decode B=256", 256, 1, 63), ("prefill 1×320", 1, 320, 0)]}
ROLE = {"qkv": "attn qkv", "proj": "attn proj", "fc": "mlp fc", "out": "mlp out", "lm_head": "lm head"}


@dataclass(frozen=True)
class Op:
    """One matmul-like call: a linear layer (m, k, n) or attention (batch·heads, q, keys, head_dim)."""
    name: str
    kind: str                 # "linear" or "attention"
    shape: tuple
    count: int = 1            # how many times one forward runs it (once per layer)
    pairs: int = 0            # attention: (query, key) pairs that the causal mask allows

    def flops(self) -> int:
        if self.kind == "linear":
            m, k, n = self.shape
            return 2 * m * k * n
        bh, t, s, d = self.shape
        return 4 * bh * self.pairs * d          # QKᵀ and P·V: 2 FLOPs per multiply-add, over allowed pairs

    def bytes(self, elem: int) -> int:
        if self.kind == "linear":
            m, k, n = self.shape
            return elem * (m * k + k * n + m * n)       # activations in, weights, activations out
        bh, t, s, d = self.shape
        return elem * bh * d * (2 * t + 2 * s)          # q and output, all K and V in the cache


@torch.no_grad()
def capture(config: ModelConfig, batch: int, new_tokens: int, context: int, device="cpu") -> list[Op]:
    """The matmul shapes of one engine forward: ``new_tokens`` per sequence after ``context`` cached ones.

    A forward hook on every ``nn.Linear`` records (its name, the rows it multiplied, its weight's shape);
    layers with the same role and shape are merged with a count (one per block).
    """
    model = cached_model(config, str(device))
    cache = KVCache.empty(config, batch, context + new_tokens, device)
    cache.set_lengths([context] * batch)
    tokens = torch.randint(0, config.vocab_size, (batch, new_tokens), device=device)
    seen: list[tuple[str, tuple]] = []

    def hook(name):
        def record(module, args, out):
            x = args[0]
            seen.append((name, (x.numel() // x.shape[-1], module.in_features, module.out_features)))
        return record
    handles = [m.register_forward_hook(hook(ROLE.get(n.split(".")[-1], n)))
               for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    try:
        model(tokens, cache)
    finally:
        for h in handles:
            h.remove()
    counts: dict[tuple, int] = {}
    for key in seen:
        counts[key] = counts.get(key, 0) + 1
    ops = [Op(name, "linear", shape, n) for (name, shape), n in counts.items()]
    # attention: q holds the new tokens, K/V everything cached so far; once per layer
    s = context + new_tokens
    pairs = new_tokens * context + new_tokens * (new_tokens + 1) // 2          # causal: key ≤ query position
    return ops + [Op("attention", "attention", (batch * config.n_heads, new_tokens, s, config.head_dim),
                     config.n_layers, pairs)]


@dataclass
class Phase:
    label: str
    ops: list
    seconds: dict = field(default_factory=dict)        # op -> median seconds of one call

    def total(self, kind: str, elem: int) -> tuple[int, int, float]:
        """(flops, bytes, seconds) of all ops of one kind in one forward."""
        sel = [o for o in self.ops if o.kind == kind]
        return (sum(o.count * o.flops() for o in sel), sum(o.count * o.bytes(elem) for o in sel),
                sum(o.count * self.seconds[o] for o in sel))


@dataclass
class Sweep:
    """Measured phases of the engine on one device, with the ceilings they are compared against."""
    config: ModelConfig
    phases: list
    dtype: str
    device: str
    ceilings: object

    @property
    def elem(self) -> int:
        return getattr(torch, self.dtype).itemsize

    def roofline(self, kind: str = "linear"):
        """This device's measured Roofline with one point per phase (all its linears, or its attention)."""
        roof = pl.Roofline.from_ceilings(self.ceilings)
        for ph in self.phases:
            f, b, s = ph.total(kind, self.elem)
            roof.add(ph.label + (" attn" if kind == "attention" else ""), f, b, s, precision=self.dtype)
        return roof

    def figure(self):
        """Linear layers (circles) and attention of each phase on this device's roofline, H200 ceilings dotted."""
        roof = self.roofline("linear")
        roof.points += self.roofline("attention").points
        ref = pl.reference_roofline()
        return roof.figure([ref] if ref else [], title=f"Engine matmuls per phase on the roofline ({self.dtype})")

    def table(self):
        from perflab.table import Table
        peak = self.ceilings.peak_tflops(self.dtype)
        ridge = peak * 1e12 / (self.ceilings.copy_gbps * 1e9) if peak else None
        rows = []
        for ph in self.phases:
            f, b, s = ph.total("linear", self.elem)
            af, ab, as_ = ph.total("attention", self.elem)
            bound = "—" if ridge is None else ("compute" if f / b >= ridge else "memory")
            rows.append([ph.label, f"{f / b:,.1f}", bound, f"{s * 1e3:,.3f}", f"{f / s / 1e12:,.3g}",
                         f"{b / s / 1e9:,.0f}", f"{af / ab:,.2f}", f"{as_ * 1e3:,.3f}"])
        return Table(["phase", "linear FLOP/B", "bound", "linear ms", "linear TFLOP/s", "linear GB/s",
                      "attn FLOP/B", "attn ms"], rows,
                     title=f"Engine forward per phase · {self.config.n_layers} layers, d={self.config.d_model}, "
                           f"vocab {self.config.vocab_size} · {self.dtype} · measured on {self.device}",
                     notes=[f"ridge point of this device: {ridge:,.1f} FLOP/B ({self.dtype} peak over copy bandwidth)"
                            if ridge else f"no {self.dtype} matmul ceiling measured here",
                            "each distinct shape timed alone with pl.bench and multiplied by its count per forward "
                            "(one per layer); bytes = inputs + weights + outputs once (attention: q, K, V, out)"])

    def shape_table(self, label: str):
        """Every captured op of one phase: its shape, count, intensity and time."""
        from perflab.table import Table
        ph = next(p for p in self.phases if p.label == label)
        rows = [[o.name, "×".join(map(str, o.shape)), str(o.count), f"{o.flops() / o.bytes(self.elem):,.1f}",
                 f"{ph.seconds[o] * 1e6:,.1f}"] for o in ph.ops]
        return Table(["op", "shape (m×k×n or bh×q×keys×d)", "per forward", "FLOP/B", "µs per call"], rows,
                     title=f"Captured from one engine forward: {label}")


def _time_op(op: Op, device, dtype, rep_ms) -> float:
    g = torch.Generator(device=device).manual_seed(0)
    dt = getattr(torch, dtype)
    if op.kind == "linear":
        m, k, n = op.shape
        x, w = (torch.randn(*s, generator=g, device=device, dtype=dt) for s in ((m, k), (k, n)))
        bias = torch.randn(n, generator=g, device=device, dtype=dt)
        fn = lambda: torch.addmm(bias, x, w)  # noqa: E731
    else:
        bh, t, s, d = op.shape
        q = torch.randn(1, bh, t, d, generator=g, device=device, dtype=dt)
        k, v = (torch.randn(1, bh, s, d, generator=g, device=device, dtype=dt) for _ in range(2))
        mask = torch.arange(s, device=device)[None, :] <= torch.arange(s - t, s, device=device)[:, None]
        fn = lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # noqa: E731
    return pl.bench(fn, rep_ms=rep_ms, warmup_ms=5, label=f"{op.name} {op.shape}").median


def measure(config: ModelConfig | None = None, phases: list | None = None, rep_ms: float | None = None) -> Sweep:
    """Capture each phase's shapes from the engine and time every distinct one on this device."""
    from perflab.machine import device, env
    e = env()
    config = config or ModelConfig.for_tier(e.tier)
    dev = str(device())
    dtype = "bfloat16" if e.tier == "gpu" and e.capability >= (8, 0) else ("float16" if e.tier == "gpu" else "float32")
    rep_ms = rep_ms or (15 if e.tier == "gpu" else 8)
    timed: dict[tuple, float] = {}
    out = []
    for label, batch, new, ctx in phases or PHASES[e.tier]:
        ph = Phase(label, capture(config, batch, new, ctx, dev))
        for op in ph.ops:
            key = (op.kind, op.shape)
            if key not in timed:
                timed[key] = _time_op(op, dev, dtype, rep_ms)
            ph.seconds[op] = timed[key]
        out.append(ph)
    return Sweep(config, out, dtype, e.device, pl.ceilings())
