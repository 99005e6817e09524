"""Chapter 15's tensor-parallel run. torchrun launches this file (``tp.launch()`` does it); never imported.

    python -m torch.distributed.run --standalone --nproc_per_node 2 labs/ch15_parallel_decoding/tp_worker.py \
        --out /tmp/tp.json

Every rank builds the same engine model (same seed), keeps its shard (``tp.shard_model``) and runs the
tensor-parallel forward with real all-reduces: NCCL when each rank has a GPU, else gloo on CPU processes.
Rank 0 checks the result against the full model in one process and writes one JSON file with, per phase
(a prefill and a batched decode step with the KV cache): the largest logit difference, whether the argmax
tokens agree, and the time per forward of one process, of TP, and of its all-reduces alone.
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.distributed as dist

from labs.ch04_distributed.dist_bench import _timed      # fixed-count loop, slowest rank per iteration
from labs.ch15_parallel_decoding import tp
from labs.inference.kv_cache import KVCache
from labs.inference.model import ModelConfig, build_model
from perflab.distributed import join, leave

PLAN = {"cpu": dict(prefill=191, batch=8, context=127, iters=6),
        "gpu": dict(prefill=511, batch=32, context=255, iters=20)}


def _compare(a: torch.Tensor, b: torch.Tensor) -> dict:
    return {"max_abs_diff": (a - b).abs().max().item(), "tokens_equal": bool(torch.equal(a.argmax(-1), b.argmax(-1)))}


def run_phase(name, model, shard, tokens, context, device, iters, world):
    """Check TP against the full model on this phase's input, then time both and the all-reduces alone."""
    cfg = model.config
    B, T = tokens.shape
    caches = None
    if context:
        full_cache = KVCache.empty(cfg, B, context + T, device)
        tp_cache = KVCache.empty(shard.config, B, context + T, device)
        g = torch.Generator().manual_seed(2)                 # the same context on every rank
        warm = torch.randint(0, cfg.vocab_size, (B, context), generator=g).to(device)
        with torch.no_grad():
            model(warm, full_cache)
        tp.forward(shard, warm, dist.all_reduce, tp_cache)
        caches = (full_cache, tp_cache)

    def single():
        if caches:
            caches[0].set_lengths([context] * B)
        with torch.no_grad():
            return model(tokens, caches[0] if caches else None)

    def parallel():
        if caches:
            caches[1].set_lengths([context] * B)
        return tp.forward(shard, tokens, dist.all_reduce, caches[1] if caches else None)

    check = _compare(parallel().float(), single().float())
    buf = torch.randn(B, T, cfg.d_model, device=device)

    def reduces_only():
        for _ in range(2 * cfg.n_layers):
            dist.all_reduce(buf)
    return {"phase": name, **check, "single_s": _timed(single, iters, device).median_s,
            "tp_s": _timed(parallel, iters, device).median_s,
            "allreduce_s": _timed(reduces_only, iters, device).median_s,
            "allreduce_bytes": tp.allreduce_bytes_per_forward(cfg, B * T)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    r = join()
    rank, world, device, use_gpu = r.rank, r.world, r.device, r.gpu
    tier = "gpu" if use_gpu else "cpu"
    plan, cfg = PLAN[tier], ModelConfig.for_tier(tier)
    t0 = time.perf_counter()
    model = build_model(cfg, device, seed=0)                 # same seed on every rank: same weights
    shard = tp.shard_model(model, rank, world)
    g = torch.Generator().manual_seed(1)                     # same tokens on every rank
    prefill = torch.randint(0, cfg.vocab_size, (1, plan["prefill"]), generator=g).to(device)
    decode = torch.randint(0, cfg.vocab_size, (plan["batch"], 1), generator=g).to(device)
    runs = [run_phase(f"prefill 1×{plan['prefill']}", model, shard, prefill, 0, device, plan["iters"], world),
            run_phase(f"decode B={plan['batch']} (context {plan['context']})", model, shard, decode,
                      plan["context"], device, plan["iters"], world)]
    result = {"backend": r.backend, "world_size": world, "torch": torch.__version__,
              "device": r.device_name if use_gpu else "CPU processes (1 thread each)",
              "config": {k: getattr(cfg, k) for k in ("vocab_size", "d_model", "n_layers", "n_heads")},
              "runs": runs, "wall_s": time.perf_counter() - t0,
              "note": ("one process uses one GPU, TP=2 uses two" if use_gpu else
                       "one process uses one CPU thread, TP=2 uses two processes of one thread each")}
    leave(r, result, a.out)


if __name__ == "__main__":
    main()
