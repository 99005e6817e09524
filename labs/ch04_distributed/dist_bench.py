"""Chapter 4's multi-process measurements. torchrun launches this file; the notebook reads its DistBench.

    python -m torch.distributed.run --standalone --nproc_per_node 2 labs/ch04_distributed/dist_bench.py \
        --out /tmp/ch04.json [--tier cpu|gpu]

Backend: NCCL when every rank has its own GPU, else gloo on CPU processes. Four experiments, rank 0
writes one JSON file:
- allreduce: time of one all-reduce vs message size -> algorithm and bus bandwidth;
- ddp: one training step of a small MLP: compute only / all-reduce after backward / DDP (overlapped);
- buckets: the DDP step vs ``bucket_cap_mb``;
- accum: k micro-batches per optimizer step with and without ``no_sync`` (all-reduces counted by a
  DDP communication hook).

Why a fixed-count loop instead of perflab.bench: a collective blocks until every rank calls it, so all
ranks must run exactly the same number of calls; bench picks its count adaptively per process. Each
iteration is timed between barriers (and device syncs), and we keep the slowest rank's time.
"""
from __future__ import annotations

import argparse
import os
import time
from dataclasses import asdict, dataclass, field, fields, replace

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP

from perflab.distributed import join, leave
from perflab.timer import bench_ranks

PLAN = {  # message sizes (bytes), MLP width/depth/batch, iterations, bucket sizes (MB)
    "cpu": dict(sizes=[4_096, 65_536, 1 << 20, 4 << 20], width=384, depth=6, batch=48, iters=10,
                buckets=[0.25, 1, 25], accum=4),
    "gpu": dict(sizes=[8_192, 131_072, 1 << 20, 8 << 20, 64 << 20, 256 << 20, 1 << 30], width=2048,
                depth=10, batch=256, iters=20, buckets=[1, 5, 25, 100], accum=4),
}


@dataclass(frozen=True, kw_only=True)
class Timing:
    """Seconds per iteration, each the slowest rank's: median, 20th and 80th percentiles, samples."""
    median_s: float
    p20_s: float
    p80_s: float
    n: int = 0


@dataclass(frozen=True, kw_only=True)
class AllReduceTime(Timing):
    """One all-reduce message size: its time, algorithm bandwidth (bytes / time) and bus bandwidth, GB/s."""
    bytes: int
    algbw_gbps: float
    busbw_gbps: float


@dataclass(frozen=True, kw_only=True)
class StepTime(Timing):
    """One training step of the MLP in one communication mode (compute only, after backward, DDP)."""
    mode: str


@dataclass(frozen=True, kw_only=True)
class BucketTime(Timing):
    """The DDP step at one ``bucket_cap_mb``, with the all-reduces per step a communication hook counted."""
    bucket_cap_mb: float
    allreduces_per_step: float


@dataclass(frozen=True, kw_only=True)
class AccumTime(Timing):
    """One optimizer step of ``micro_batches`` backward passes, with or without ``no_sync``."""
    no_sync: bool
    micro_batches: int
    allreduces_per_step: float


def _known(cls, row: dict) -> dict:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in row.items() if k in names}


@dataclass(frozen=True)
class DistBench:
    """What the 2-process run measured (rank 0 writes it as JSON): who ran it, the plan and four experiments."""
    backend: str
    world_size: int
    device: str
    torch: str = ""
    nvls: str | None = None
    plan: dict = field(default_factory=dict)
    params: int = 0
    grad_bytes: int = 0
    allreduce: tuple[AllReduceTime, ...] = ()
    ddp: tuple[StepTime, ...] = ()
    buckets: tuple[BucketTime, ...] = ()
    accum: tuple[AccumTime, ...] = ()
    wall_s: float | None = None

    @classmethod
    def from_json(cls, d: dict) -> "DistBench":
        """Read the JSON form (a run's file, or the reference's ``ch04`` entry); missing fields take defaults."""
        rows = {"allreduce": AllReduceTime, "ddp": StepTime, "buckets": BucketTime, "accum": AccumTime}
        kw = _known(cls, d)
        for key, row in rows.items():
            kw[key] = tuple(row(**_known(row, r)) for r in d.get(key, ()))
        return cls(**kw)

    def to_json(self) -> dict:
        return asdict(self)


def _timed(fn, iters, device, warmup=2, counter=None) -> Timing:
    """Run fn the same number of times on every rank; per-iteration time = slowest rank."""
    reset = (lambda: setattr(counter, "calls", 0)) if counter is not None else None   # steady-state steps only
    m = bench_ranks(fn, iters=iters, device=device, warmup=warmup, before_timing=reset)
    return Timing(median_s=m.median, p20_s=m.p20, p80_s=m.p80, n=m.n)


def allreduce_sweep(plan, device, world) -> list[AllReduceTime]:
    out = []
    for nbytes in plan["sizes"]:
        x = torch.rand(nbytes // 4, device=device)
        m = _timed(lambda: dist.all_reduce(x), plan["iters"], device)
        alg = nbytes / m.median_s / 1e9
        out.append(AllReduceTime(bytes=nbytes, **asdict(m), algbw_gbps=alg, busbw_gbps=alg * 2 * (world - 1) / world))
    return out


def make_model(plan, device, seed=0):
    torch.manual_seed(seed)
    w = plan["width"]
    layers = []
    for _ in range(plan["depth"]):
        layers += [nn.Linear(w, w), nn.ReLU()]
    return nn.Sequential(*layers).to(device)


class Counter:
    """DDP communication-hook state: counts the buckets all-reduced."""
    def __init__(self):
        self.calls = 0


def counting_hook(state: Counter, bucket):
    state.calls += 1
    t = bucket.buffer()
    t.div_(dist.get_world_size())
    return dist.all_reduce(t, async_op=True).get_future().then(lambda f: f.value()[0])


def train_steps(result: DistBench, plan, device, world, rank) -> DistBench:
    """``result`` with the training-step experiments added: the DDP modes, the bucket sizes, accumulation."""
    x = torch.rand(plan["batch"], plan["width"], device=device, generator=None)
    loss_fn = lambda m: m(x).square().mean()  # noqa: E731
    nparams = sum(p.numel() for p in make_model(plan, device).parameters())
    rows = []

    def timed_step(mode, fn):
        rows.append(StepTime(mode=mode, **asdict(_timed(fn, plan["iters"], device))))

    plain = make_model(plan, device)
    def compute_only():
        plain.zero_grad(set_to_none=True)
        loss_fn(plain).backward()
    timed_step("compute only (no communication)", compute_only)

    def post_backward():
        plain.zero_grad(set_to_none=True)
        loss_fn(plain).backward()
        for p in plain.parameters():        # the 'before' of Table 4-1: one all-reduce per gradient, after backward
            dist.all_reduce(p.grad)
            p.grad.div_(world)
    timed_step("one all-reduce per gradient after backward", post_backward)

    def post_backward_flat():
        plain.zero_grad(set_to_none=True)
        loss_fn(plain).backward()
        grads = [p.grad for p in plain.parameters()]
        flat = torch.cat([g.reshape(-1) for g in grads])      # one message instead of one per tensor
        dist.all_reduce(flat)
        flat.div_(world)
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()
    timed_step("one flat all-reduce after backward", post_backward_flat)

    ddp = DDP(make_model(plan, device), device_ids=[device.index] if device.type == "cuda" else None)
    def ddp_step():
        ddp.zero_grad(set_to_none=True)
        loss_fn(ddp).backward()
    timed_step("DDP (overlapped, default 25 MiB buckets)", ddp_step)

    buckets = []
    for cap in plan["buckets"]:
        state = Counter()
        m = DDP(make_model(plan, device), bucket_cap_mb=cap,
                device_ids=[device.index] if device.type == "cuda" else None)
        m.register_comm_hook(state, counting_hook)
        def step():
            m.zero_grad(set_to_none=True)
            loss_fn(m).backward()
        r = _timed(step, plan["iters"], device, counter=state)
        calls = state.calls / plan["iters"]
        buckets.append(BucketTime(bucket_cap_mb=cap, **asdict(r), allreduces_per_step=calls))

    accum = []
    k = plan["accum"]
    for use_no_sync in (False, True):
        state = Counter()
        m = DDP(make_model(plan, device), device_ids=[device.index] if device.type == "cuda" else None)
        m.register_comm_hook(state, counting_hook)
        def step():
            m.zero_grad(set_to_none=True)
            for i in range(k):
                if use_no_sync and i < k - 1:
                    with m.no_sync():
                        loss_fn(m).backward()
                else:
                    loss_fn(m).backward()
        r = _timed(step, plan["iters"], device, counter=state)
        accum.append(AccumTime(no_sync=use_no_sync, micro_batches=k, **asdict(r),
                               allreduces_per_step=state.calls / plan["iters"]))
    return replace(result, params=nparams, grad_bytes=nparams * 4, ddp=tuple(rows), buckets=tuple(buckets),
                   accum=tuple(accum))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--tier", choices=["cpu", "gpu"], default=None)
    a = ap.parse_args()
    r = join(gpu=False if a.tier == "cpu" else None)
    plan = PLAN["gpu" if r.gpu else "cpu"]
    t0 = time.perf_counter()
    allreduce = tuple(allreduce_sweep(plan, r.device, r.world))
    result = DistBench(backend=r.backend, world_size=r.world, torch=torch.__version__, device=r.device_name,
                       nvls=os.environ.get("NCCL_NVLS_ENABLE"), plan=plan, allreduce=allreduce)
    result = train_steps(result, plan, r.device, r.world, r.rank)
    leave(r, replace(result, wall_s=time.perf_counter() - t0).to_json(), a.out)


if __name__ == "__main__":
    main()
