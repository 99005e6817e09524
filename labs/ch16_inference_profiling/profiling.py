"""Profiler views of the engine: one decode step's operators, and where a serving run's time goes
(the engine marks admit / prefill / decode with named ranges; NVTX would show the same ranges in nsys)."""
from __future__ import annotations

import torch

from perflab.table import Table

from labs.ch16_inference_profiling import _common as C
from labs.inference.kv_cache import KVCache
from labs.inference.scheduler import EngineConfig, serve
from labs.inference.workload import skewed


def decode_step(device: str, batch: int = 8, context: int = 200):
    """A zero-argument callable: one cached decode step at (batch, context), rewound each call."""
    model = C.model_for(device)
    cfg = model.config
    cache = KVCache.empty(cfg, batch, context + 1, device, dtype=next(model.parameters()).dtype)
    with torch.no_grad():
        model(C.random_tokens((batch, context), cfg.vocab_size, 3).to(device), cache, logits_for=[0] * batch)
    tok = C.random_tokens((batch, 1), cfg.vocab_size, 4).to(device)

    @torch.no_grad()
    def step():
        cache.set_lengths([context] * batch)
        return model(tok, cache)
    return step


def phase_table(device: str) -> Table:
    """Profile a short continuous-batching run; report each engine phase's share of the time."""
    from torch.profiler import ProfilerActivity, profile
    model = C.model_for(device)
    reqs = skewed(16, model.config.vocab_size, 40, seed=4)
    cfg = EngineConfig(max_batch=8)
    serve(model, reqs[:4], cfg)                                    # warm-up outside the trace
    gpu = torch.device(device).type == "cuda"
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if gpu else [])
    with profile(activities=acts) as prof:
        serve(model, reqs, cfg)
    rows, total = [], 0.0
    events = {}     # on a GPU each range is listed twice: on the host, and as a GPU annotation (host time 0)
    for e in prof.key_averages():
        if e.key.startswith("engine.") and (e.key not in events or e.cpu_time_total > events[e.key].cpu_time_total):
            events[e.key] = e
    for name in ("engine.admit", "engine.prefill", "engine.decode"):
        e = events.get(name)
        if e is not None:
            total += e.cpu_time_total
    for name in ("engine.admit", "engine.prefill", "engine.decode"):
        e = events.get(name)
        if e is None:
            continue
        rows.append([name, e.count, f"{e.cpu_time_total / 1e3:,.1f}", f"{e.cpu_time_total / total:.0%}" if total else "—"])
    return Table(["range", "calls", "host ms (incl. waits)", "share"], rows,
                 f"Where a continuous-batching run spends its time (16 requests, 8 slots) · {device}",
                 ["the ranges are torch.profiler.record_function blocks in labs/inference/scheduler.py",
                  "on a GPU the decode range also waits for the device when its tokens are read"])
