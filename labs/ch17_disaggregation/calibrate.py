"""Calibrate the simulator: time the course engine's prefill and decode step on this device, fit a CostModel.

    cal = calibrate.measure()       # tiny model on the cpu tier, GPT-2 small (bf16) on a GPU
    pl.show(cal.table())            # every measured point beside the fitted line
    cost = cal.cost                 # the simulator's per-operation times for this device

Prefill is timed at batch 1 for several prompt lengths: t = a + b·P + c·P² (c: attention's quadratic
term). A decode step is timed for several batch sizes at two context lengths: t = d0 + d1·B + d2·B·ctx.
Every time comes from perflab.bench (CUDA events on a GPU, torch.utils.benchmark on a CPU). The fit uses
each point's 20th percentile: on a shared machine the fast runs are the device, the slow ones are the
other processes it is sharing the cores with.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from labs.ch17_disaggregation.sim import CostModel

PLAN = {
    "cpu": dict(prompts=[16, 96, 256, 480], batches=[1, 8, 48], contexts=[64, 320], dtype="float32", rep_ms=20),
    "gpu": dict(prompts=[64, 256, 512, 768, 1000], batches=[1, 8, 32, 128], contexts=[128, 768],
                dtype="bfloat16", rep_ms=30),
}
LAB = "ch17.calibration"           # the records' lab name in results files (not a lab module)
# The KV link until a transfer is measured: one 400 Gb/s NIC, about 50 GB/s (the book's 50–100 GB/s per
# port for 400–800 Gb/s NICs, L637). The handoff lab replaces it with the bandwidth measured here.
DEFAULT_LINK_GBPS = 50.0


@dataclass
class Calibration:
    device: str
    model: str
    dtype: str
    prefill: list = field(default_factory=list)     # (prompt tokens, Measurement)
    decode: list = field(default_factory=list)      # (batch, context, Measurement)
    cost: CostModel | None = None

    def table(self):
        """Each measured point with the fitted model's value and the relative error of the fit."""
        from perflab.measure import format_time
        from perflab.table import Table
        c, rows = self.cost, []
        points = [(f"prefill, prompt {p}", m, c.prefill_s(p)) for p, m in self.prefill]
        points += [(f"decode step, batch {b}, context {ctx}", m, c.decode_s(b, b * ctx)) for b, ctx, m in self.decode]
        rows = [[name, format_time(m.median), format_time(m.p20), format_time(m.p80), format_time(fit),
                 f"{fit / m.p20 - 1:+.0%}"] for name, m, fit in points]
        return Table(["operation", "median", "p20 (fitted)", "p80", "fitted model", "fit vs p20"], rows,
                     title=f"Engine calibration · {self.model}, {self.dtype} · measured on {self.device}",
                     notes=[self.explain()])

    def explain(self) -> str:
        c = self.cost
        return (f"prefill ≈ {c.prefill_fixed_s * 1e3:.3g} ms + {c.prefill_per_token_s * 1e6:.3g} µs/token"
                f" + {c.prefill_per_token2_s * 1e9:.3g} ns/token²; decode step ≈ {c.decode_fixed_s * 1e3:.3g} ms"
                f" + {c.decode_per_seq_s * 1e6:.3g} µs/sequence + {c.decode_per_ctx_s * 1e9:.3g} ns per context"
                f" token; KV {c.kv_bytes_per_token:,} B/token")


def measure(tier: str | None = None, plan: dict | None = None, verbose: bool = False,
            record: bool = True) -> Calibration:
    """Time prefill and decode with the course engine (labs.inference) on this device and fit a CostModel.

    Like perflab.run, it adds its measurements to the results file when one is open (PERFLAB_RESULTS, set by
    the workbook), as records of ``ch17.calibration``: that is how the H200 reference gets its costs.
    """
    import perflab as pl
    from labs.inference.kv_cache import KVCache
    from labs.inference.model import ModelConfig, build_model
    e = pl.env()
    tier = tier or e.tier
    plan = dict(PLAN[tier], **(plan or {}))
    device = "cuda" if tier == "gpu" else "cpu"
    dtype = getattr(torch, plan["dtype"])
    cfg = ModelConfig.for_tier(tier)
    model = build_model(cfg, device, dtype)
    name = "GPT-2 small (124M)" if tier == "gpu" else f"tiny ({cfg.n_layers} layers, d={cfg.d_model})"
    cal = Calibration(device=e.device, model=name, dtype=plan["dtype"])
    gen = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        for p in plan["prompts"]:
            tokens = torch.randint(0, cfg.vocab_size, (1, p), generator=gen).to(device)
            cache = KVCache.empty(cfg, 1, p, device, dtype)
            m = pl.bench(lambda: _step(model, tokens, cache, 0), rep_ms=plan["rep_ms"], label=f"prefill {p}")
            cal.prefill.append((p, m))
            if verbose:
                print(f"prefill {p}: {m.median * 1e3:.3f} ms")
        for ctx in plan["contexts"]:
            for b in plan["batches"]:
                tokens = torch.randint(0, cfg.vocab_size, (b, 1), generator=gen).to(device)
                cache = KVCache.empty(cfg, b, ctx + 1, device, dtype)
                m = pl.bench(lambda: _step(model, tokens, cache, ctx), rep_ms=plan["rep_ms"],
                             label=f"decode b{b} ctx{ctx}")
                cal.decode.append((b, ctx, m))
                del cache
    cal.cost = fit(cal.prefill, cal.decode, kv_bytes_per_token=cfg.kv_bytes_per_token(dtype.itemsize),
                   source=f"{name}, {plan['dtype']}, {e.device}")
    if record:
        save(cal)
    return cal


def records(cal: Calibration) -> list:
    """The measured points as results Records (size [P] for prefill, [batch, context] for a decode step)."""
    from perflab.results import Record
    note = f"model={cal.model}; kv_bytes_per_token={cal.cost.kv_bytes_per_token}"
    out = [Record(chapter="ch17", lab=LAB, variant="prefill", size=[p], dtype=cal.dtype, correct=True,
                  median_s=m.median, p20_s=m.p20, p80_s=m.p80, note=note) for p, m in cal.prefill]
    out += [Record(chapter="ch17", lab=LAB, variant="decode_step", size=[b, ctx], dtype=cal.dtype, correct=True,
                   median_s=m.median, p20_s=m.p20, p80_s=m.p80, note=note) for b, ctx, m in cal.decode]
    return out


def save(cal: Calibration) -> None:
    """Replace this dtype's calibration records in the open results file (an earlier run's points go)."""
    from perflab import results
    path = results.sink()
    if path is None:
        return
    manifest, old = results.read(path) if path.exists() else (None, [])
    keep = [r for r in old if r.lab != LAB or r.dtype != cal.dtype]
    results.write(path, keep + records(cal), manifest)


def from_records(recs: list, source: str = "") -> CostModel | None:
    """Refit a CostModel from calibration Records (the H200 reference's, say); None when there are none."""
    import re
    from perflab.measure import Measurement
    pre = [(r.size[0], Measurement([r.p20_s or r.median_s])) for r in recs if r.variant == "prefill"]
    dec = [(r.size[0], r.size[1], Measurement([r.p20_s or r.median_s])) for r in recs if r.variant == "decode_step"]
    if len(pre) < 3 or len(dec) < 3:
        return None
    kv = re.search(r"kv_bytes_per_token=(\d+)", recs[0].note or "")
    return fit(pre, dec, kv_bytes_per_token=int(kv.group(1)) if kv else 2048, source=source)


def reference_cost() -> CostModel | None:
    """The cost model measured on the H200 (data/reference/nvidia-h200.json), or None before it is recorded."""
    from perflab import results
    recs = results.reference(LAB)
    if not recs:
        return None
    model = (recs[0].note or "").split(";")[0].replace("model=", "")
    return from_records(recs, source=f"{model}, {recs[0].dtype}, NVIDIA H200 reference")


def profile_phases(tier: str | None = None, prompt: int = 192, batch: int = 16, row_limit: int = 6) -> str:
    """torch.profiler's top operators for one prefill and one decode step of the engine, one after the other."""
    import perflab as pl
    from labs.inference.kv_cache import KVCache
    from labs.inference.model import ModelConfig, build_model
    tier = tier or pl.env().tier
    device, dtype = ("cuda", torch.bfloat16) if tier == "gpu" else ("cpu", torch.float32)
    cfg = ModelConfig.for_tier(tier)
    model = build_model(cfg, device, dtype)
    out = []
    with torch.inference_mode():
        tok = torch.randint(0, cfg.vocab_size, (1, prompt)).to(device)
        cache = KVCache.empty(cfg, 1, prompt, device, dtype)
        out.append(f"prefill of {prompt} tokens:\n" + pl.torch_profile(lambda: _step(model, tok, cache, 0), steps=2,
                                                                       row_limit=row_limit))
        tok = torch.randint(0, cfg.vocab_size, (batch, 1)).to(device)
        cache = KVCache.empty(cfg, batch, prompt + 1, device, dtype)
        out.append(f"decode step, batch {batch}, context {prompt}:\n" +
                   pl.torch_profile(lambda: _step(model, tok, cache, prompt), steps=2, row_limit=row_limit))
    return "\n".join(out)


def _step(model, tokens, cache, length: int):
    """Rewind the cache to ``length`` tokens, then run one forward pass (a prefill or a decode step)."""
    cache.rollback(length)
    return model(tokens, cache)


def fit(prefill: list, decode: list, kv_bytes_per_token: int, link_gbps: float = DEFAULT_LINK_GBPS,
        source: str = "") -> CostModel:
    """Least-squares fits of the two timing models to each point's p20 (coefficients kept non-negative)."""
    a, b, c = _nonneg_lstsq([[1.0, p, p * p] for p, _ in prefill], [m.p20 for _, m in prefill])
    d0, d1, d2 = _nonneg_lstsq([[1.0, bb, bb * ctx] for bb, ctx, _ in decode], [m.p20 for *_, m in decode])
    return CostModel(prefill_fixed_s=a, prefill_per_token_s=b, prefill_per_token2_s=c, decode_fixed_s=d0,
                     decode_per_seq_s=d1, decode_per_ctx_s=d2, kv_bytes_per_token=kv_bytes_per_token,
                     link_gbps=link_gbps, source=source)


def _nonneg_lstsq(rows: list, y: list) -> list:
    """Least squares, relative error weighted (each point divided by its own y), dropping any column whose
    coefficient comes out negative and refitting; small enough to do by hand, so it is."""
    active = list(range(len(rows[0])))
    while True:
        x = torch.tensor([[r[j] / t for j in active] for r, t in zip(rows, y)], dtype=torch.float64)
        coef = torch.linalg.lstsq(x, torch.ones(len(y), 1, dtype=torch.float64)).solution[:, 0].tolist()
        neg = [j for j, v in zip(active, coef) if v < 0]
        if not neg or len(active) == 1:
            out = [0.0] * len(rows[0])
            for j, v in zip(active, coef):
                out[j] = max(v, 0.0)
            return out
        active.remove(neg[0])
