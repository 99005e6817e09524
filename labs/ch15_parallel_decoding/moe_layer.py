"""Lab: one real MoE layer on one device: top-k routing, sort tokens by expert, the experts' FFNs, combine.

    r = pl.run("ch15.moe_layer")                 # loop of per-expert matmuls vs one padded bmm vs grouped GEMM
    sweep = imbalance_sweep()                    # uniform → skewed routing: where the time goes, per phase

The layer, in the order the data flows (T tokens of width d, E experts, each token to its top k):

    route      logits = x·W_gate + bias (T, E); keep the k largest per token; gates = softmax of those k
    permute    sort the T·k (token, expert) assignments by expert; gather their rows: x_sorted (T·k, d)
    experts    each expert's contiguous group of rows through its FFN: gelu(rows·W1[e])·W2[e]
    unpermute  put every result row back at its (token, slot) and sum a token's k rows weighted by its gates

The variants differ only in the experts step. ``expert_loop`` launches two matmuls per expert (and reads the
group sizes on the host to slice); ``padded_bmm`` pads every group to the busiest expert's size and runs one
batched matmul (no host loop, but wasted rows); ``grouped_mm`` hands the jagged groups and their offsets to
torch's grouped-GEMM primitive (one launch, no padding), listed only where the installed torch has it.

The imbalance knob is ``skew``: the router adds log(1/(e+1)^skew) to expert e's logit (the Zipf popularity of
the routing simulator in ``moe.py``; 0 = uniform). A load-balancing bias does the opposite: it lowers the
logits of hot experts. Routing runs in float32 with the same code in every variant and the reference, so all
of them pick the same experts; the reference then computes the experts in float64.
"""
from __future__ import annotations

from dataclasses import dataclass

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch
import torch.nn.functional as F

from labs.ch15_parallel_decoding.moe import zipf_weights
from perflab.claims import Faster, Holds

TITLE = "MoE layer: top-k route, sort by expert, expert FFNs (per-expert loop / padded bmm / grouped GEMM), combine"
# (tokens, d_model, d_ff, experts, top_k, skew). Widths are multiples of 8 (the grouped GEMM wants 16-byte
# strides); token and expert counts are odd so that a wrong group boundary shows. GPU: a DeepSeek-V2-Lite-like
# layer (64 experts, top-6, d 2048, expert width 1408).
SIZES = {"gpu": [(4099, 2048, 1408, 64, 6, 0.0), (4099, 2048, 1408, 64, 6, 1.0), (1021, 2048, 1408, 64, 6, 0.5)],
         "cpu": [(131, 72, 136, 7, 2, 0.0), (131, 72, 136, 7, 2, 1.0), (67, 40, 88, 13, 3, 0.5)]}
DTYPES = ["bfloat16", "float32"]


def _check_size(size) -> tuple:
    if not (isinstance(size, (tuple, list)) and len(size) == 6):
        raise ValueError(f"an MoE size is (tokens, d_model, d_ff, experts, top_k, skew), got {size!r}")
    tokens, d, f, experts, top_k, skew = size
    if not 1 <= top_k <= experts:
        raise ValueError(f"top_k must be in 1 … experts={experts}, got {top_k}")
    if d % 8 or f % 8:
        raise ValueError(f"d_model={d} and d_ff={f} must be multiples of 8 (16-byte rows for the grouped GEMM)")
    if skew < 0:
        raise ValueError(f"skew is a Zipf exponent ≥ 0 (0 = uniform routing), got {skew}")
    return tuple(size)


def make_inputs(size, device="cpu", dtype="bfloat16", seed: int = 0) -> dict:
    """Activations x (T, d) and the layer's weights: router (d, E), W1 (E, d, f), W2 (E, f, d)."""
    tokens, d, f, experts, top_k, skew = _check_size(size)
    g = torch.Generator(device=device).manual_seed(seed)
    dt = getattr(torch, dtype)

    def randn(*shape, scale=1.0):
        return (torch.randn(*shape, generator=g, device=device) * scale).to(dt)
    return {"x": randn(tokens, d), "w_gate": randn(d, experts, scale=d ** -0.5),
            "w1": randn(experts, d, f, scale=d ** -0.5), "w2": randn(experts, f, d, scale=d ** -0.5),
            "top_k": top_k, "skew": float(skew)}


# ---- the four steps ----------------------------------------------------------------------------------

def route(x, w_gate, top_k: int, skew: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(expert ids (T, k) int64, gates (T, k) float32): top-k of the biased logits, softmax over those k."""
    bias = zipf_weights(w_gate.shape[1], skew).log().to(device=x.device, dtype=torch.float32)
    logits = x.float() @ w_gate.float() + bias                      # (T, E)
    top, ids = logits.topk(top_k, dim=1)
    return ids, top.softmax(dim=1)


@dataclass
class Permuted:
    """The assignments sorted by expert: row i of ``x`` is assignment ``order[i]`` (= token·k + slot)."""
    x: torch.Tensor          # (T·k, d) token rows, grouped by expert
    order: torch.Tensor      # (T·k,) flat assignment index of each sorted row
    expert: torch.Tensor     # (T·k,) expert of each sorted row, non-decreasing
    counts: torch.Tensor     # (E,) rows per expert

    @property
    def offsets(self) -> torch.Tensor:
        """(E,) int32 end of each expert's group: the grouped GEMM's ``offs``."""
        return self.counts.cumsum(0).to(torch.int32)


def permute(x, ids, experts: int) -> Permuted:
    """Sort the (token, slot) assignments by expert (stable: token order inside a group) and gather rows."""
    flat = ids.reshape(-1)
    expert, order = torch.sort(flat, stable=True)
    return Permuted(x[order // ids.shape[1]], order, expert, torch.bincount(flat, minlength=experts))


def _ffn(rows, w1, w2):
    return F.gelu(rows @ w1, approximate="tanh") @ w2


def experts_loop(p: Permuted, w1, w2) -> torch.Tensor:
    """Two matmuls per expert on its slice of rows; the slice bounds come to the host (one sync)."""
    out = torch.empty(p.x.shape[0], w2.shape[2], device=p.x.device, dtype=p.x.dtype)
    start = 0
    for e, n in enumerate(p.counts.tolist()):
        if n:
            out[start:start + n] = _ffn(p.x[start:start + n], w1[e], w2[e])
            start += n
    return out


def experts_padded_bmm(p: Permuted, w1, w2) -> torch.Tensor:
    """Every group padded to the busiest expert's row count, then one bmm per weight matrix."""
    experts, rows = w1.shape[0], p.x.shape[0]
    cap = int(p.counts.max())                                        # the padded group size (one sync)
    slot = torch.arange(rows, device=p.x.device) - (p.counts.cumsum(0) - p.counts)[p.expert]
    padded = p.x.new_zeros(experts, cap, p.x.shape[1])
    padded[p.expert, slot] = p.x                                     # (E, cap, d)
    y = torch.bmm(F.gelu(torch.bmm(padded, w1), approximate="tanh"), w2)
    return y[p.expert, slot]


def _grouped_mm_fn():
    """torch's grouped GEMM (``F.grouped_mm``, or ``torch._grouped_mm`` in older releases), or None."""
    fn = getattr(F, "grouped_mm", None) or getattr(torch, "_grouped_mm", None)
    if fn is None:
        return None
    if torch.cuda.is_available() and torch.cuda.get_device_capability() < (8, 0):
        return None                                                  # its CUDA kernels need sm_80+
    return fn


GROUPED_MM = _grouped_mm_fn()


def experts_grouped_mm(p: Permuted, w1, w2) -> torch.Tensor:
    """One grouped GEMM per weight matrix over the jagged groups; their ends (``offs``) stay on the device."""
    if GROUPED_MM is None:
        raise RuntimeError(f"this torch ({torch.__version__}) has no grouped GEMM (F.grouped_mm / torch._grouped_mm) "
                           "for this device; use experts_loop or experts_padded_bmm")
    offs = p.offsets
    h = F.gelu(GROUPED_MM(p.x, w1, offs=offs), approximate="tanh")
    return GROUPED_MM(h, w2, offs=offs)


def unpermute(y_sorted, p: Permuted, gates) -> torch.Tensor:
    """Scatter the rows back to (token, slot) order, then sum each token's k rows weighted by its gates:
    one (1 × k)·(k × d) product per token, a bmm that accumulates in float32 and never writes a float32
    copy of the T·k rows."""
    tokens, k = gates.shape
    y = torch.empty_like(y_sorted)
    y[p.order] = y_sorted
    return torch.bmm(gates.to(y.dtype).unsqueeze(1), y.view(tokens, k, -1)).squeeze(1)    # (T, d)


def moe_forward(x, w_gate, w1, w2, top_k, skew, experts_fn, unpermute_fn=unpermute) -> torch.Tensor:
    """The whole layer with a choice of experts step (and of un-permute: the notebook's exercise)."""
    ids, gates = route(x, w_gate, top_k, skew)
    p = permute(x, ids, w1.shape[0])
    return unpermute_fn(experts_fn(p, w1, w2), p, gates)


def fastest_experts():
    """The experts step a learner's variant should use: the grouped GEMM where this torch has one."""
    return experts_grouped_mm if GROUPED_MM is not None else experts_padded_bmm


# ---- the lab -----------------------------------------------------------------------------------------

def reference(x, w_gate, w1, w2, top_k, skew) -> torch.Tensor:
    """y_t = Σ_j gate_tj · FFN_{e_tj}(x_t) in float64, with the shared routing but no sort: each expert
    finds its tokens with a mask and adds its weighted output to them."""
    ids, gates = route(x, w_gate, top_k, skew)
    xd = x.double()
    out = torch.zeros(x.shape, dtype=torch.float64, device=x.device)
    for e in range(w1.shape[0]):
        tok, slot = (ids == e).nonzero(as_tuple=True)
        if len(tok):
            y = _ffn(xd[tok], w1[e].double(), w2[e].double())
            out.index_add_(0, tok, gates[tok, slot, None].double() * y)
    return out


def _itemsize(dtype: str) -> int:
    return getattr(torch, dtype).itemsize


def bytes(size, dtype="bfloat16") -> int:
    """Read x and every expert's two matrices once (each expert gets some tokens), write y."""
    tokens, d, f, experts, top_k, skew = _check_size(size)
    return _itemsize(dtype) * (2 * tokens * d + d * experts + 2 * experts * d * f)


def flops(size, dtype="bfloat16") -> int:
    """Router (2·T·d·E) plus two matmuls per assignment (2·T·k·2·d·f); padding and the loop add none."""
    tokens, d, f, experts, top_k, skew = _check_size(size)
    return 2 * tokens * d * experts + 4 * tokens * top_k * d * f


@pl.variant(note="route, sort, then 2 matmuls per expert in a Python loop (group sizes read on the host)")
def expert_loop(x, w_gate, w1, w2, top_k, skew):
    return moe_forward(x, w_gate, w1, w2, top_k, skew, experts_loop)


@pl.variant(note="every expert's group padded to the busiest one: one bmm per matrix, wasted rows grow with skew")
def padded_bmm(x, w_gate, w1, w2, top_k, skew):
    return moe_forward(x, w_gate, w1, w2, top_k, skew, experts_padded_bmm)


@pl.variant(note="torch's grouped GEMM over the jagged groups: one launch per matrix, no padding, no host sync")
def grouped_mm(x, w_gate, w1, w2, top_k, skew):
    return moe_forward(x, w_gate, w1, w2, top_k, skew, experts_grouped_mm)


variants = [expert_loop, padded_bmm] + ([grouped_mm] if GROUPED_MM is not None else [])
EXPERTS = {"expert_loop": experts_loop, "padded_bmm": experts_padded_bmm, "grouped_mm": experts_grouped_mm}


# ---- the imbalance sweep: where the time goes, uniform → skewed --------------------------------------

@dataclass(frozen=True)
class PhaseTimes:
    """One routing skew: the load it produced and the median seconds of each phase of the layer."""
    skew: float
    busiest: float              # busiest expert's rows ÷ the mean (T·k / E): also the padded bmm's rows ÷ real rows
    idle: int                   # experts that got no token at all
    route_s: float              # router matmul, top-k, softmax of the k
    permute_s: float            # sort by expert and gather the rows
    unpermute_s: float          # scatter back and the gate-weighted sum
    loop_s: float               # the experts' FFNs as a per-expert loop
    padded_s: float             # … as one padded bmm per matrix
    grouped_s: float | None     # … as one grouped GEMM per matrix (None: this torch has none)

    def experts_s(self, variant: str) -> float | None:
        return {"expert_loop": self.loop_s, "padded_bmm": self.padded_s, "grouped_mm": self.grouped_s}[variant]

    def total(self, variant: str) -> float | None:
        """The layer's time with ``variant``'s expert step: the sum of its phases, each timed alone."""
        e = self.experts_s(variant)
        return None if e is None else self.route_s + self.permute_s + e + self.unpermute_s


@dataclass
class ImbalanceSweep:
    """PhaseTimes per skew at one layer size, measured on one device."""
    size: tuple                 # (tokens, d_model, d_ff, experts, top_k) — skew varies per row
    dtype: str
    device: str
    rows: list

    def table(self):
        from perflab.table import Table
        ms = lambda s: "—" if s is None else f"{s * 1e3:,.3f}"          # noqa: E731
        rows = [[f"{r.skew:g}", f"{r.busiest:.2f}×", str(r.idle), ms(r.route_s), ms(r.permute_s),
                 ms(r.unpermute_s), ms(r.loop_s), ms(r.padded_s), ms(r.grouped_s),
                 "—" if r.grouped_s is None else f"{(r.permute_s + r.unpermute_s) / r.total('grouped_mm'):.0%}"]
                for r in self.rows]
        t, d, f, e, k = self.size
        return Table(["skew", "busiest expert", "idle experts", "route ms", "permute ms", "unpermute ms",
                      "FFN loop ms", "FFN padded ms", "FFN grouped ms", "(un)permute share"], rows,
                     title=f"MoE layer by phase: {t} tokens, d {d}, expert width {f}, {e} experts, top-{k}, "
                           f"{self.dtype} · measured on {self.device}",
                     notes=["busiest expert = its rows ÷ the mean rows per expert; the padded bmm multiplies that "
                            "many times the real rows (every group padded to the busiest)",
                            "each phase timed alone (median); (un)permute share = permute + unpermute over the "
                            "layer's total with the grouped GEMM"])

    def figure(self):
        import plotly.graph_objects as go
        xs = [r.skew for r in self.rows]
        lines = [go.Scatter(x=xs, y=[r.experts_s(v) * 1e3 if r.experts_s(v) is not None else None for r in self.rows],
                            mode="lines+markers", name=f"experts: {v}") for v in EXPERTS]
        lines.append(go.Scatter(x=xs, y=[(r.route_s + r.permute_s + r.unpermute_s) * 1e3 for r in self.rows],
                                mode="lines+markers", line=dict(dash="dot"), name="route + permute + unpermute"))
        fig = go.Figure(lines)
        fig.update_layout(title=f"MoE layer time vs routing skew on {self.device}", xaxis_title="Zipf skew of the "
                          "router bias (0 = uniform)", yaxis_title="ms (median)", height=360)
        return fig


def imbalance_sweep(skews=(0.0, 0.5, 1.0, 1.5), size=None, dtype: str | None = None,
                    rep_ms: float | None = None, seed: int = 0) -> ImbalanceSweep:
    """Time each phase of the layer (route, permute, experts per variant, unpermute) at each skew.

    size: (tokens, d_model, d_ff, experts, top_k) or a lab size (its skew is ignored); default: this tier's.
    dtype: default bfloat16 on a GPU (tensor cores) and float32 on a CPU, where bfloat16 matmuls without
    AMX units run tens of times slower than float32 and would only measure that. On a CPU it runs on one
    thread: at these sizes OpenMP threads waiting for each other on a shared machine are most of the noise.
    """
    from labs.ch15_parallel_decoding.spec_decode import one_cpu_thread
    e = pl.env()
    base = tuple((size or SIZES[e.tier][0])[:5])
    dtype = dtype or ("bfloat16" if e.tier == "gpu" else "float32")
    rep_ms = rep_ms or (40 if e.tier == "gpu" else 15)
    device = str(pl.device())
    with one_cpu_thread(device):
        rows = [_phase_times(base, skew, device, dtype, rep_ms, seed) for skew in skews]
    return ImbalanceSweep(base, dtype, e.device, rows)


def _phase_times(base, skew, device, dtype, rep_ms, seed) -> PhaseTimes:
    """One skew: route once to get the intermediates, then time every phase alone on them."""
    inp = make_inputs((*base, skew), device, dtype, seed)
    x, w_gate, w1, w2, k = inp["x"], inp["w_gate"], inp["w1"], inp["w2"], inp["top_k"]
    ids, gates = route(x, w_gate, k, skew)
    p = permute(x, ids, w1.shape[0])
    y = experts_loop(p, w1, w2)
    bench = lambda fn, label: pl.bench(fn, rep_ms=rep_ms, label=label).median        # noqa: E731
    experts = {name: bench(lambda fn=fn: fn(p, w1, w2), f"experts {name}")
               for name, fn in EXPERTS.items() if name != "grouped_mm" or GROUPED_MM is not None}
    mean = base[0] * k / w1.shape[0]
    return PhaseTimes(skew=skew, busiest=float(p.counts.max()) / mean, idle=int((p.counts == 0).sum()),
                      route_s=bench(lambda: route(x, w_gate, k, skew), "route"),
                      permute_s=bench(lambda: permute(x, ids, w1.shape[0]), "permute"),
                      unpermute_s=bench(lambda: unpermute(y, p, gates), "unpermute"),
                      loop_s=experts["expert_loop"], padded_s=experts["padded_bmm"],
                      grouped_s=experts.get("grouped_mm"))


# ---- the lessons, as checked claims ------------------------------------------------------------------

def _growth(variant_field: str):
    """A measure on an ImbalanceSweep: that experts time at the largest skew ÷ at the smallest."""
    def measure(sweep):
        rows = sorted(sweep.rows, key=lambda r: r.skew)
        lo, hi = getattr(rows[0], variant_field), getattr(rows[-1], variant_field)
        return None if lo is None or hi is None or len(rows) < 2 else hi / lo
    return measure


CLAIMS = [
    Faster("ch15.moe_layer", "grouped_mm", than="expert_loop", by=1.3, tier="sm_90",
           text="one grouped GEMM beats the loop of per-expert matmuls by ≥ 1.3× on a Hopper GPU"),
    Holds("ch15.moe_layer", "the padded bmm's expert time grows ≥ 2× from uniform to the most skewed routing",
          _growth("padded_s"), at_least=2.0, tier="gpu"),
    Holds("ch15.moe_layer", "the grouped GEMM's expert time grows < 1.5× over the same skews (same arithmetic)",
          _growth("grouped_s"), at_most=1.5, tier="gpu"),
]
