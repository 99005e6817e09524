"""The precision ladder for decode: weight memory, tokens/s at batch 1, and agreement with bf16, per rung.

Speed comes from the ``ch19.decode_precision`` run (one decode step, timed by perflab). Agreement is
measured here on a few greedy continuations made by the bf16 model:

- *top-1 agreement*: feed every rung the same token sequence (the bf16 continuation) and count the
  positions where its most likely next token equals bf16's (teacher forcing: one early difference does
  not spoil the rest);
- *logit error*: ‖logits − logits_bf16‖ / ‖logits_bf16‖ over those positions;
- *free run*: let each rung decode greedily on its own and count the tokens it produces before the
  first one that differs from bf16's.

The weights are random, so this measures numerics (how far each format moves the logits, and how often
that flips a near-tie), not quality: a trained model's logits have larger top-1 margins, so the same
error flips fewer tokens, and only a real evaluation can tell what a flip costs.
"""
from __future__ import annotations

from dataclasses import dataclass

import perflab as pl
import torch

from labs.ch19_adaptive_inference import engine, quant
from labs.inference.generate import generate
from perflab.validate import calculator_inputs

RUNGS = ("fp32", "bf16", "int8_torch", "int8_triton", "fp8")


@dataclass
class Agreement:
    kind: str
    top1: float                  # share of positions whose argmax equals bf16's (teacher-forced)
    logit_error: float           # relative L2 distance to bf16's logits
    free_run: float | None       # mean tokens decoded before the first difference from bf16 (None: not run)
    error: str = ""              # why this rung could not be measured here, if it could not


@dataclass
class Agreements:
    """Every rung's Agreement, and what they were measured on."""
    rungs: dict                  # kind -> Agreement
    prompts: int
    new_tokens: int
    margin: float                # median top-1 minus top-2 logit margin of bf16 over the positions


def _prompts(config, n: int, length: int, seed: int) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, config.vocab_size, (n, length), generator=g).tolist()


@torch.no_grad()
def agreement(size, kinds=RUNGS, n_prompts: int = 4, new_tokens: int = 24, seed: int = 7,
              free_run: bool | None = None) -> Agreements:
    """Agreement of every rung with bf16 on ``n_prompts`` random prompts of the lab's context length.

    free_run: also decode greedily with every rung (default: not for int8_triton on the cpu tier, where the
    Triton interpreter would take a second per token; its weights equal int8_torch's there).
    """
    b = engine.bundle(tuple(size), engine.device_key(pl.device()))
    prompts = _prompts(b.config, n_prompts, size[2], seed)
    ref_model = b.model("bf16")
    cont = generate(ref_model, prompts, new_tokens)
    tokens = torch.tensor([p + c for p, c in zip(prompts, cont)], device=b.device)
    cut = slice(size[2] - 1, -1)                                    # positions that predict the new tokens
    ref = ref_model(tokens)[:, cut].float()
    top2 = ref.topk(2, dim=-1).values
    out = Agreements({}, n_prompts, new_tokens, float((top2[..., 0] - top2[..., 1]).median()))
    for kind in kinds:
        try:
            out.rungs[kind] = _agree(b.model(kind), kind, tokens, cut, ref, prompts, cont, new_tokens, free_run)
        except Exception as exc:          # a rung this device cannot run: say why, keep the others
            out.rungs[kind] = Agreement(kind, float("nan"), float("nan"), None, f"{type(exc).__name__}: {exc}"[:160])
    return out


def _agree(model, kind, tokens, cut, ref, prompts, cont, new_tokens, free_run) -> Agreement:
    logits = model(tokens)[:, cut].float()
    top1 = float((logits.argmax(-1) == ref.argmax(-1)).float().mean())
    err = float((logits - ref).norm() / ref.norm())
    runs = free_run if free_run is not None else not (kind == "int8_triton" and pl.env().tier == "cpu")
    same = None
    if runs:
        mine = cont if kind == "bf16" else generate(model, prompts, new_tokens)
        same = sum(next((i for i, (a, c) in enumerate(zip(m, r)) if a != c), new_tokens)
                   for m, r in zip(mine, cont)) / len(prompts)
    return Agreement(kind, top1, err, same)


def table(run, agree: Agreements):
    """The ladder: one row per rung, from a ``ch19.decode_precision`` LabRun and :func:`agreement`."""
    from perflab import book
    from perflab.measure import format_time
    from perflab.table import Table
    b = engine.bundle(tuple(run.size), engine.device_key(pl.device()))
    timed = {r.name: r.measurement for r in run.rows if r.measurement}
    ref = {r.variant: r for r in book.reference_at_gpu_size("ch19.decode_precision") if r.median_s}
    base, h_base = timed.get("bf16"), ref.get("bf16")
    mem_bf16 = quant.weight_bytes(b.model("bf16"))
    rows = []
    for kind in RUNGS:
        model, m, a, h = b.model(kind), timed.get(kind), agree.rungs.get(kind), ref.get(kind)
        mem, read = quant.weight_bytes(model), quant.weight_bytes(model, per_token=True)
        why = next((r.why for r in run.rows if r.name == kind), "")
        rows.append([
            kind, f"{mem / 1e6:,.1f}", f"{mem / mem_bf16:.2f}×", f"{read / 1e6:,.1f}",
            format_time(m.median) if m else ("not timed" if why else "—"),
            f"{1 / m.median:,.0f}" if m else "—",
            f"{base.median / m.median:.2f}×" if m and base else "—",
            f"{read / m.median / 1e9:,.0f}" if m else "—",
            f"{a.top1:.1%}" if a and not a.error else "—", f"{a.logit_error:.2%}" if a and not a.error else "—",
            (f"{a.free_run:.1f} of {agree.new_tokens}" if a.free_run is not None else "not run") if a else "—",
            f"{1 / h.median_s:,.0f}" if h else "—",
            f"{h_base.median_s / h.median_s:.2f}×" if h and h_base else "—"])
    notes = [f"size {run.size} = (d_model, layers, context), batch 1, measured on {run.device}; "
             "read/token = every weight except the embedding tables (a step reads one row of each)",
             f"agreement is with bf16 on {agree.prompts} random prompts x {agree.new_tokens} new tokens; the "
             f"median top-1 minus top-2 logit margin of bf16 is {agree.margin:.3f}: random weights give "
             "near-ties, so small logit errors flip tokens — this measures numerics, not quality",
             f"fp8 numerics here: {quant.FP8_PATH['last'] or 'not run'}"]
    notes += [f"{r.name}: {r.why}" for r in run.rows if r.why and not r.measurement]
    notes += [f"{a.kind} agreement not measured: {a.error}" for a in agree.rungs.values() if a.error]
    notes.append("H200 columns: data/reference/nvidia-h200.json, size " + str(run.lab.SIZES["gpu"][0])
                 if ref else "no H200 reference recorded for ch19.decode_precision yet")
    return Table(["precision", "weights MB", "vs bf16", "read/token MB", "per token", "tokens/s",
                  "speed vs bf16", "GB/s", "top-1 = bf16", "logit err", "free run = bf16",
                  "H200 tokens/s", "H200 vs bf16"], rows,
                 title="The precision ladder: one decode step at batch 1", notes=notes)


@calculator_inputs(positive="params_b bits gbps batch")
def decode_ceiling(params_b: float = 7.0, bits: int = 16, gbps: float = 4800.0, batch: int = 1) -> str:
    """The roofline of batch-1 decode in one line: every weight is read once per step.

    >>> decode_ceiling(7.0, 8, 4800, 1)
    '7.0 B parameters at 8 bits = 7.0 GB read per step → at most 686 steps/s (686 tokens/s at batch 1) at 4,800 GB/s; arithmetic intensity 2 FLOP/B at batch 1'
    """
    step_bytes = params_b * 1e9 * bits / 8
    steps = gbps * 1e9 / step_bytes
    return (f"{params_b:.1f} B parameters at {bits} bits = {step_bytes / 1e9:.1f} GB read per step → at most "
            f"{steps:,.0f} steps/s ({steps * batch:,.0f} tokens/s at batch {batch}) at {gbps:,.0f} GB/s; "
            f"arithmetic intensity {2 * batch * 8 / bits:g} FLOP/B at batch {batch}")


@dataclass(frozen=True)
class Memory:
    """Bytes of all weights of the engine model at each rung, as memory() returns it."""
    fp32: int
    bf16: int
    int8_torch: int
    int8_triton: int
    fp8: int


def memory(size) -> Memory:
    """Bytes of all weights of the engine model of ``size`` at each rung."""
    b = engine.bundle(tuple(size), engine.device_key(pl.device()))
    return Memory(*(quant.weight_bytes(b.model(k)) for k in RUNGS))
