"""Chapter 13's DDP vs FSDP run on the chapter's own tiny transformer. torchrun launches this file; the
notebook starts it through ``dist_launch``, which reads its JSON back as a :class:`DistTrain`.

    python -m torch.distributed.run --standalone --nproc_per_node 2 labs/ch13_profiling_pytorch/dist_train.py \
        --out /tmp/ch13.json [--tier cpu|gpu] [--bug seed]

Backend: NCCL when every rank has its own GPU, else gloo on CPU processes. Three runs of the same training
(same initial weights from ``torch.manual_seed``, same global batches from ``model.make_data``, AdamW, fp32),
one after the other:

- ``single``: every rank trains on the whole global batch alone, no communication (the reference);
- ``ddp``: DistributedDataParallel, each rank half of every batch, gradients all-reduced in buckets;
- ``fsdp``: FSDP2 (``torch.distributed.fsdp.fully_shard``) on each block and on the root: every parameter,
  its gradient and its AdamW state are split on dim 0 across the ranks; all-gathers rebuild a block's
  weights for its forward and backward, and a reduce-scatter leaves each rank its slice of the gradient.

Per run, rank 0 writes: the loss of every step (mean over the global batch: the ranks' losses averaged once
at the end, no sync inside the loop), the median step time (slowest rank, ch04's fixed-count loop), the
bytes of parameters, gradients and optimizer state each rank holds (a walk over its local shards, any
device), the CUDA peak per rank (``torch.cuda.max_memory_allocated``, GPU only), and the collectives of
one step (counted by torch.profiler: one ``c10d::`` op per call, with its message size where it records one).

``--bug seed`` plants a bug for the tests: rank 1 seeds its weights and its data with seed + 1.
"""
from __future__ import annotations

import argparse
import gc
import os
import time
import warnings
from dataclasses import asdict, dataclass, field, fields, replace

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

from labs.ch04_distributed.dist_bench import _timed      # same-count loop on every rank, slowest rank kept
from labs.ch13_profiling_pytorch import model as M
from perflab.distributed import join, leave

PLAN = {  # model and run shape per tier; the global batch must split evenly over the ranks
    "cpu": M.Config(steps=8),                                       # the lab's default model: 71 k parameters
    "gpu": M.Config(vocab=8191, d_model=1000, heads=8, layers=6, seq=509, batch=8, steps=10, lr=1e-3),  # 89 M
}
WARMUP = 3          # untimed first steps (DDP rebuilds its buckets at the start of step 1); step 2 is profiled
SEED = 0

# FSDP2's root returns the logits as a view; loss_fn only reshapes them (no in-place op), so the hook it
# warns about stays intact
warnings.filterwarnings("ignore", message=".*returned a view tensor.*")


@dataclass(frozen=True)
class StateBytes:
    """Bytes one rank holds in parameters, gradients and optimizer state (a walk of its local tensors)."""
    params: int
    grads: int
    optimizer: int

    @property
    def total(self) -> int:
        return self.params + self.grads + self.optimizer


@dataclass(frozen=True)
class Collective:
    """One kind of collective in one profiled step: how many calls, and the bytes of their messages."""
    calls: int
    bytes: int


@dataclass(frozen=True)
class StrategyRun:
    """One strategy's run (single, ddp or fsdp): the loss of every step, the slowest rank's step time,
    state bytes and CUDA peak per rank (peak None off a GPU) and the collectives of one step by kind;
    or, with ``error`` set, why it did not run."""
    strategy: str
    error: str = ""
    ranks: int = 0
    batch_per_rank: int = 0
    losses: tuple[float, ...] = ()
    median_s: float | None = None
    p20_s: float | None = None
    p80_s: float | None = None
    n: int = 0
    state_bytes: tuple[StateBytes, ...] = ()
    peak_bytes: tuple[int, ...] | None = None
    collectives: dict = field(default_factory=dict)      # kind ("all-reduce", ...) -> Collective

    @classmethod
    def from_json(cls, d: dict) -> "StrategyRun":
        kw = {k: v for k, v in d.items() if k in {f.name for f in fields(cls)}}
        kw["losses"] = tuple(d.get("losses", ()))
        kw["state_bytes"] = tuple(StateBytes(**s) for s in d.get("state_bytes", ()))
        kw["peak_bytes"] = tuple(d["peak_bytes"]) if d.get("peak_bytes") is not None else None
        kw["collectives"] = {k: Collective(**c) for k, c in d.get("collectives", {}).items()}
        return cls(**kw)


@dataclass(frozen=True)
class DistTrain:
    """What the 2-process DDP vs FSDP run measured (rank 0 writes it as JSON): who ran it, the model's
    Config and parameter count, whether FSDP2 was there, a planted bug if any, one StrategyRun per
    strategy, and the machine's manifest where it is a recorded reference."""
    backend: str
    world_size: int
    device: str = ""
    torch: str = ""
    nvls: str | None = None
    bug: str = "none"
    config: M.Config = field(default_factory=M.Config)
    params: int = 0
    fsdp: str = ""
    runs: tuple[StrategyRun, ...] = ()
    wall_s: float | None = None
    manifest: dict | None = None

    def by_strategy(self) -> dict[str, StrategyRun]:
        return {r.strategy: r for r in self.runs}

    @classmethod
    def from_json(cls, d: dict) -> "DistTrain":
        """Read the JSON form (a run's file, or the reference's entry); missing fields take defaults."""
        kw = {k: v for k, v in d.items() if k in {f.name for f in fields(cls)}}
        kw["config"] = M.Config(**d.get("config", {}))
        kw["runs"] = tuple(StrategyRun.from_json(r) for r in d.get("runs", ()))
        return cls(**kw)

    def to_json(self) -> dict:
        return asdict(self)


def fsdp_api():
    """(fully_shard, init_device_mesh), or the reason FSDP2 is missing in this torch."""
    try:
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard
        return fully_shard, init_device_mesh
    except ImportError as exc:        # torch < 2.6 has it only as torch.distributed._composable.fsdp
        return f"torch {torch.__version__} has no torch.distributed.fsdp.fully_shard (FSDP2, torch ≥ 2.6): {exc}"


def _local(t: torch.Tensor) -> torch.Tensor:
    """The part of a tensor this rank stores: a DTensor's local shard, or the tensor itself."""
    return t.to_local() if hasattr(t, "to_local") else t


def state_bytes(model: torch.nn.Module, opt: torch.optim.Optimizer) -> StateBytes:
    """Bytes this rank holds in parameters, gradients and optimizer state (walk of the local tensors)."""
    size = lambda t: _local(t).numel() * _local(t).element_size()   # noqa: E731
    params = list(model.parameters())
    return StateBytes(params=sum(size(p) for p in params),
                      grads=sum(size(p.grad) for p in params if p.grad is not None),
                      optimizer=sum(size(v) for s in opt.state.values() for v in s.values() if torch.is_tensor(v)))


_NAMES = (("allreduce", "all-reduce"), ("allgather", "all-gather"), ("all_gather", "all-gather"),
          ("reduce_scatter", "reduce-scatter"), ("broadcast", "broadcast"))


def collectives(prof, elem_size: int) -> dict[str, Collective]:
    """{kind: Collective} for one profiled step: c10d ops by name; bytes of the larger tensor of each call
    where the profiler records shapes (all-gather, reduce-scatter; not DDP's bucket list)."""
    out: dict = {}
    for e in prof.events():
        if not e.name.startswith("c10d::"):
            continue
        kind = next((k for key, k in _NAMES if key in e.name), e.name[6:])
        shapes = [s for s in (e.input_shapes or []) if s]
        numel = max((int(torch.Size(s).numel()) for s in shapes), default=0)
        c = out.setdefault(kind, {"calls": 0, "elements": 0})
        c["calls"] += 1
        c["elements"] += numel
    return {kind: Collective(c["calls"], c["elements"] * elem_size) for kind, c in out.items()}


def build(strategy: str, c: M.Config, device, world: int, seed: int):
    """The model of one run, wrapped for its strategy, and its AdamW."""
    torch.manual_seed(seed)
    model = M.TinyLM(c).to(device)
    if strategy == "ddp":       # gradients live in DDP's buckets: no second copy to leave out of the count
        model = DDP(model, device_ids=[device.index] if device.type == "cuda" else None,
                    gradient_as_bucket_view=True)
    elif strategy == "fsdp":
        api = fsdp_api()
        if isinstance(api, str):
            raise RuntimeError(api)
        fully_shard, init_device_mesh = api
        mesh = init_device_mesh(device.type, (world,))
        for block in model.blocks:          # one all-gather unit per block, the rest (embeddings, head) in the root
            fully_shard(block, mesh=mesh)
        fully_shard(model, mesh=mesh)
    return model, torch.optim.AdamW(model.parameters(), lr=c.lr)


def _count_params(c: M.Config) -> int:
    with torch.device("meta"):                            # shapes only: nothing allocated
        return sum(p.numel() for p in M.TinyLM(c).parameters())


def train(strategy: str, c: M.Config, device, rank: int, world: int, seed: int) -> StrategyRun:
    """One run: N steps from the same seed; losses, step time, state bytes, CUDA peak, collectives."""
    cuda = device.type == "cuda"
    if cuda:
        gc.collect()                                       # the previous run's model and optimizer, freed
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    x, y = M.make_data(c, seed, device)                    # (steps, batch, seq), the same on every rank
    if strategy != "single":                               # each rank: its contiguous slice of every batch
        per = c.batch // world
        x, y = x[:, rank * per:(rank + 1) * per], y[:, rank * per:(rank + 1) * per]
    model, opt = build(strategy, c, device, world, seed)
    losses = torch.zeros(c.steps, device=device)
    prof, i = None, 0

    def step():
        nonlocal i, prof
        opt.zero_grad(set_to_none=True)                    # at the start: the last step's gradients stay to be counted
        if i == WARMUP - 1 and strategy != "single":      # one steady-state step, profiled
            from torch.profiler import ProfilerActivity, profile
            with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
                loss = M.loss_fn(model, x[i], y[i])
                loss.backward()
                opt.step()
        else:
            loss = M.loss_fn(model, x[i], y[i])
            loss.backward()
            opt.step()
        losses[i] = loss.detach()
        i += 1

    timing = _timed(step, c.steps - WARMUP, device, warmup=WARMUP)
    if strategy != "single":
        dist.all_reduce(losses)                            # equal slices: the batch mean is the mean of the means
        losses /= world
    held = state_bytes(model, opt)
    peak = torch.cuda.max_memory_allocated(device) - base if cuda else -1
    mine = torch.tensor([held.params, held.grads, held.optimizer, peak], dtype=torch.float64, device=device)
    every = [torch.zeros_like(mine) for _ in range(world)]
    dist.all_gather(every, mine)
    elem = next(model.parameters()).element_size()
    comm = collectives(prof, elem) if prof is not None else {}
    if "all-reduce" in comm and strategy == "ddp":         # DDP passes its buckets as a list (no shape recorded);
        comm["all-reduce"] = replace(comm["all-reduce"], bytes=held.grads)   # together: every gradient once
    del model, opt
    return StrategyRun(strategy=strategy, ranks=1 if strategy == "single" else world,
                       batch_per_rank=c.batch if strategy == "single" else c.batch // world,
                       losses=tuple(losses.cpu().tolist()), **asdict(timing),
                       state_bytes=tuple(StateBytes(int(t[0]), int(t[1]), int(t[2])) for t in every),
                       peak_bytes=tuple(int(t[3]) for t in every) if cuda else None, collectives=comm)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--tier", choices=["cpu", "gpu"], default=None)
    ap.add_argument("--bug", choices=["none", "seed"], default="none", help="plant a bug (tests)")
    a = ap.parse_args()
    # a rank stuck in a collective fails after 2 minutes instead of the default 10
    r = join(gpu=False if a.tier == "cpu" else None, timeout_s=120)
    rank, world, device, backend, use_gpu = r.rank, r.world, r.device, r.backend, r.gpu
    c = PLAN["gpu" if use_gpu else "cpu"]
    if c.batch % world:
        raise ValueError(f"global batch {c.batch} does not split over {world} ranks; use a multiple of {world}")
    seed = SEED + (1 if a.bug == "seed" and rank == 1 else 0)
    t0 = time.perf_counter()
    api = fsdp_api()
    runs = []
    for strategy in ("single", "ddp", "fsdp"):
        if strategy == "fsdp" and isinstance(api, str):
            runs.append(StrategyRun(strategy="fsdp", error=api))
            continue
        try:
            runs.append(train(strategy, c, device, rank, world, seed))
        except RuntimeError as exc:          # both ranks fail alike (same code, same torch): report and go on
            runs.append(StrategyRun(strategy=strategy, error=f"{type(exc).__name__}: {exc}"[:300]))
    result = DistTrain(backend=backend, world_size=world, device=r.device_name, torch=torch.__version__,
                       nvls=os.environ.get("NCCL_NVLS_ENABLE"), bug=a.bug, config=c, params=_count_params(c),
                       fsdp="fully_shard" if not isinstance(api, str) else api, runs=tuple(runs),
                       wall_s=time.perf_counter() - t0)
    leave(r, result.to_json(), a.out)


if __name__ == "__main__":
    main()
