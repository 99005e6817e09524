"""A real prefill -> decode KV handoff between two processes. torchrun launches this file; notebooks use handoff.py.

    python -m torch.distributed.run --standalone --nproc_per_node 2 labs/ch17_disaggregation/kv_handoff.py \
        --out /tmp/ch17.json --device cpu|cuda

Rank 0 is the prefill worker, rank 1 the decode worker; both build the same engine model (same seed).
For each prompt length, rank 0 prefills, packs the prompt's K and V of every layer into one contiguous
buffer (layers, 2, heads, tokens, head_dim), and sends it with torch.distributed.send: NCCL between two
GPUs, gloo between two CPU processes. Rank 1 receives it into its own cache, checks it bit for bit (a
SHA-256 of the bytes, which rank 0 also sends), and decodes on from the received KV; rank 0 decodes the same
tokens from its own cache, and the two token lists must agree.

Why a fixed-count loop instead of perflab.bench: send and recv pair up across the two processes, so both
must make exactly the same number of calls (bench picks its count adaptively per process). Each transfer
is timed between barriers (and device syncs), keeping the slower rank's time, as labs/ch04 does.
"""
from __future__ import annotations

import argparse
import hashlib
import time

import torch
import torch.distributed as dist

from perflab.distributed import join, leave
from perflab.timer import bench_ranks

PLAN = {"cpu": dict(prompts=[64, 256, 496], iters=6, decode=8),      # the tiny model (max 512 positions)
        "cuda": dict(prompts=[128, 512, 1000], iters=10, decode=8)}   # GPT-2 small, bf16 (max 1024)


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def pack(cache, length: int) -> torch.Tensor:
    """Sequence 0's first ``length`` positions of every layer's K and V -> (layers, 2, heads, length, head_dim)."""
    return torch.stack([torch.stack([k[0, :, :length], v[0, :, :length]]) for k, v in zip(cache.k, cache.v)]).contiguous()


def unpack(buf: torch.Tensor, cache) -> None:
    """The inverse of pack: write the received K and V into sequence 0 of this worker's cache."""
    length = buf.shape[3]
    for layer, (k, v) in enumerate(zip(cache.k, cache.v)):
        k[0, :, :length].copy_(buf[layer, 0])
        v[0, :, :length].copy_(buf[layer, 1])
    cache.set_lengths([length])


def digest(t: torch.Tensor) -> torch.Tensor:
    """SHA-256 of a tensor's bytes, as 32 uint8 values on the same device."""
    raw = t.detach().contiguous().cpu().view(torch.uint8).numpy().tobytes()
    return torch.tensor(list(hashlib.sha256(raw).digest()), dtype=torch.uint8, device=t.device)


def decode_from(model, cache, first: int, steps: int, device) -> list:
    """Greedy-decode ``steps`` tokens after ``first`` from an already filled cache."""
    tok, out = torch.tensor([[first]], device=device), []
    for _ in range(steps):
        tok = model(tok, cache)[:, -1].argmax(-1, keepdim=True)
        out.append(int(tok))
    return out


def one_prompt(model, cfg, p: int, plan: dict, rank: int, device, dtype) -> dict:
    from labs.inference.kv_cache import KVCache
    gen = torch.Generator().manual_seed(1000 + p)
    tokens = torch.randint(0, cfg.vocab_size, (1, p), generator=gen).to(device)
    cache = KVCache.empty(cfg, 1, p + plan["decode"] + 1, device, dtype)
    shape = (cfg.n_layers, 2, cfg.n_heads, p, cfg.head_dim)
    if rank == 0:
        first = int(model(tokens, cache)[0, -1].argmax())          # prefill: the first token comes from here
        buf = pack(cache, p)
    else:
        buf = torch.empty(shape, device=device, dtype=dtype)
    nbytes = buf.numel() * buf.element_size()
    meta = torch.tensor([first if rank == 0 else 0], device=device)
    transfer = lambda: (dist.send if rank == 0 else dist.recv)(buf, 1 - rank)  # noqa: E731
    m = bench_ranks(transfer, iters=plan["iters"], device=device, warmup=2, bytes=nbytes)
    (dist.send if rank == 0 else dist.recv)(meta, 1 - rank)
    sha = digest(buf)
    ref_sha = sha.clone()
    (dist.send if rank == 0 else dist.recv)(ref_sha, 1 - rank)    # rank 1 gets the sender's digest
    if rank == 1:
        unpack(buf, cache)
    mine = decode_from(model, cache, int(meta), plan["decode"], device)
    theirs = torch.tensor(mine, device=device)
    (dist.send if rank == 0 else dist.recv)(theirs, 1 - rank)      # rank 1 gets rank 0's local decode
    return {"prompt": p, "bytes": nbytes, "shape": list(shape), "median_s": m.median, "p20_s": m.p20,
            "p80_s": m.p80, "gbps": m.gbps, "bit_exact": bool(torch.equal(sha, ref_sha)),
            "tokens_equal": theirs.tolist() == mine, "decoded": mine}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    a = ap.parse_args(argv)
    from labs.inference.model import ModelConfig, build_model
    r = join(gpu=a.device == "cuda")
    rank, world, device, backend = r.rank, r.world, r.device, r.backend
    dtype, cfg = (torch.bfloat16, ModelConfig.gpt2()) if r.gpu else (torch.float32, ModelConfig.tiny())
    if world != 2:
        raise SystemExit(f"the handoff needs exactly 2 processes (a prefill and a decode worker), got {world}")
    plan = PLAN[a.device]
    model = build_model(cfg, device, dtype, seed=0)
    t0 = time.perf_counter()
    with torch.inference_mode():
        rows = [one_prompt(model, cfg, p, plan, rank, device, dtype) for p in plan["prompts"]]
    result = {"backend": backend, "device": r.device_name, "world_size": world, "dtype": str(dtype).split(".")[-1],
              "model": f"{cfg.n_layers} layers, {cfg.n_heads} heads × {cfg.head_dim}",
              "kv_bytes_per_token": cfg.kv_bytes_per_token(torch.tensor([], dtype=dtype).element_size()),
              "wall_s": time.perf_counter() - t0, "rows": rows}
    leave(r, result, a.out, writer=1)               # the receiver knows whether the bytes arrived intact


if __name__ == "__main__":
    main()
