"""The two measured knob spaces: a Triton matmul's launch knobs on a GPU, a chunked elementwise chain on a CPU.

Each objective can run any config of its space, exactly or with a planted shortcut (the wrong but faster
candidates of the verify loop), and has a float64 reference to check against.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Callable

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch

from labs import matmul_shape
from labs.ch20_tuning import _kernel
from labs.ch20_tuning._kernel import DROP_K_TAIL, EXACT, SKIP_HALF_K
from labs.ch20_tuning.space import Space, SpaceTimes

SHORTCUTS = {"exact": EXACT, "skips half of K": SKIP_HALF_K, "drops the K tail": DROP_K_TAIL}


@dataclass
class Objective:
    name: str
    what: str
    space: Space
    size: tuple                     # where configs are timed
    check_sizes: list               # where candidates are verified: aligned first, then not aligned
    make_inputs: Callable           # (size, seed) -> dict of tensors
    reference: Callable             # (**inputs) -> float64 tensor
    call: Callable                  # (config dict, shortcut, **inputs) -> tensor
    precision: str = "float32"
    notes: list = field(default_factory=list)

    def run(self, config: tuple, shortcut: int = EXACT, **inputs):
        return self.call(self.space.as_dict(config), shortcut, **inputs)

    def checked_at(self, sizes: list) -> "Objective":
        """The same objective with other verification sizes (e.g. only an aligned one: a weak verifier)."""
        return dataclasses.replace(self, check_sizes=list(sizes))


# ---- GPU: the Triton matmul's launch knobs -----------------------------------------------------------

def _matmul_call(cfg, shortcut, a, b):
    c = torch.empty(a.shape[0], b.shape[1], device=a.device, dtype=a.dtype)
    return _kernel.launch(a, b, c, cfg["BLOCK_M"], cfg["BLOCK_N"], cfg["BLOCK_K"], cfg["num_warps"],
                          cfg["num_stages"], shortcut=shortcut)


def triton_matmul(device: str = "cuda") -> Objective:
    """48 launch configs of the chapter's Triton matmul, fp16, timed at 4099 × 4097 × 4095."""
    space = Space({"BLOCK_M": (64, 128), "BLOCK_N": (64, 128, 256), "BLOCK_K": (32, 64),
                   "num_warps": (4, 8), "num_stages": (3, 4)})
    return Objective(
        "triton_matmul", "Triton matmul, fp16: tile shape, warps and pipeline depth", space,
        size=(4099, 4097, 4095), check_sizes=[(512, 512, 512), (509, 383, 1021)],
        make_inputs=lambda size, seed: matmul_shape.make_inputs(size, device, "float16", seed),
        reference=matmul_shape.reference, call=_matmul_call, precision="float16")


# ---- CPU: an elementwise chain processed in chunks ------------------------------------------------------

def _chain_inputs(size, seed):
    g = torch.Generator().manual_seed(seed)
    return {"x": torch.randn(size, generator=g)}


def _chain_reference(x):
    xd = x.double()
    return torch.exp(-xd * xd) * xd * xd


def _chain_call(cfg, shortcut, x):
    """y = exp(−x²)·x², one chunk at a time: a chunk that fits in cache keeps the temporaries there."""
    chunk, n = cfg["chunk"], x.numel()
    starts = range(0, (n // chunk) * chunk if shortcut == DROP_K_TAIL else n, chunk)
    if shortcut == SKIP_HALF_K:
        starts = starts[::2]
    # a shortcut leaves elements unwritten: they read 0, never whatever that memory held before (the allocator may
    # hand back the buffer of an earlier right answer, which would hide the skipped work from the check)
    y = torch.empty_like(x) if shortcut == EXACT else torch.zeros_like(x)
    dt = getattr(torch, cfg["compute"])
    sq_buf = torch.empty(chunk, dtype=dt) if cfg["buffers"] == "reused" else None
    for s in starts:
        c, out = x[s:s + chunk].to(dt), y[s:s + chunk]
        if sq_buf is not None:                      # one cache-resident buffer, then one write of the result
            sq = torch.mul(c, c, out=sq_buf[:c.numel()])
            out.copy_(sq.neg().exp_().mul_(sq))
        else:                                       # fresh temporaries for every chunk
            sq = c * c
            out.copy_(torch.exp(-sq) * sq)
    return y


def chunked_chain() -> Objective:
    """44 configs of a chunked elementwise chain on the CPU: chunk size, buffer reuse, compute precision."""
    space = Space({"chunk": tuple(2 ** p for p in range(10, 21)), "buffers": ("fresh", "reused"),
                   "compute": ("float32", "float64")})
    return Objective(
        "chunked_chain", "y = exp(−x²)·x² over 2 M floats, chunked: chunk size, buffer reuse, compute precision", space,
        size=2 ** 21 + 3, check_sizes=[2 ** 20, 2 ** 20 + 3], make_inputs=_chain_inputs,
        reference=_chain_reference, call=_chain_call,
        notes=["the cpu tier's stand-in: Triton interpreted on a CPU has no speed to tune"])


def for_tier(tier: str | None = None) -> Objective:
    tier = tier or pl.env().tier
    return triton_matmul() if tier == "gpu" else chunked_chain()


def measure(obj: Objective, configs=None, rep_ms: float = 20, seed: int = 0) -> SpaceTimes:
    """Median seconds of every config (all of the space by default) at obj.size; inf where a config
    cannot run here (e.g. a tile that does not fit in this GPU's shared memory)."""
    configs = list(configs or obj.space.configs())
    precompile(obj, configs)
    inputs = obj.make_inputs(obj.size, seed)
    times = {}
    for config in configs:
        try:
            times[config] = pl.bench(lambda: obj.run(config, **inputs), rep_ms=rep_ms, warmup_ms=5).median
        except Exception as exc:                    # noqa: BLE001  (out of resources, compile errors)
            if "out of resource" not in str(exc).lower() and "shared memory" not in str(exc).lower():
                raise
            times[config] = math.inf
    return SpaceTimes(f"{obj.name}: median seconds at size {obj.size} on {pl.env().device}", times)


def precompile(obj: Objective, configs: list, workers: int = 8) -> int:
    """Compile the Triton matmul of every config in worker processes, all at once, before measuring.

    Triton keeps each compiled kernel in its on-disk cache, so measure() then loads 48 kernels instead
    of compiling them one after another (about a second each; 57 s in all on an H100). Only compiling
    happens in the workers (``warmup``: no kernel runs), and nothing is timed while they work.
    Returns how many configs were compiled; 0 where this does not apply or the workers failed
    (measure() then compiles each config itself, as before)."""
    if obj.name != "triton_matmul" or pl.env().tier != "gpu" or len(configs) < 2:
        return 0
    import concurrent.futures as cf
    import multiprocessing as mp
    jobs = [(obj.size, [obj.space.as_dict(c) for c in configs[i::workers]]) for i in range(workers)]
    pool = None
    try:
        pool = cf.ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"))
        return sum(pool.map(_compile_configs, [j for j in jobs if j[1]], timeout=240))
    except Exception:                               # noqa: BLE001  (no workers here: compile in measure())
        return 0
    finally:                                        # never wait on a stuck worker
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def _compile_configs(job) -> int:
    """In a worker process: compile the matmul kernel for each config at ``size`` (fp16, contiguous)."""
    import triton
    import torch as t
    (m, n, k), cfgs = job
    done = 0
    for cfg in cfgs:
        try:
            _kernel.matmul_kernel.warmup(
                t.float16, t.float16, t.float16, m, n, k, triton.cdiv(k, cfg["BLOCK_K"]), k, 1, n, 1, n, 1,
                grid=(1,), BLOCK_M=cfg["BLOCK_M"], BLOCK_N=cfg["BLOCK_N"], BLOCK_K=cfg["BLOCK_K"], GROUP_M=8,
                K_STEP=1, num_warps=cfg["num_warps"], num_stages=cfg["num_stages"])
            done += 1
        except Exception:                           # noqa: BLE001  (out of resources: measure() says so)
            pass
    return done


# ---- the measured table: shown, kept beside the workbook's results, read back as the H200 reference ----

def _reference_path():
    from perflab import results
    return results.reference_path().with_name("ch20_space-triton_matmul-nvidia-h200.json")


def save_times(obj: Objective, times: SpaceTimes) -> "str | None":
    """Write the measured table beside the workbook's results file (PERFLAB_RESULTS), if one is set."""
    import json
    from perflab import results
    sink = results.sink()
    if sink is None:
        return None
    path = sink.with_name(f"ch20_space-{obj.name}.json")
    rows = [{**obj.space.as_dict(c), "seconds": (None if math.isinf(t) else t)} for c, t in times.seconds.items()]
    path.write_text(json.dumps({"objective": obj.name, "size": obj.size, "device": pl.env().device,
                                "knobs": list(obj.space.knobs), "rows": rows}, indent=1))
    return str(path)


def reference_times() -> "tuple[Objective, SpaceTimes] | None":
    """The H200's measured Triton-matmul table (the reference run), or None before one was recorded."""
    import json
    path = _reference_path()
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    obj = triton_matmul(device="cpu")
    times = {tuple(r[k] for k in data["knobs"]): (math.inf if r["seconds"] is None else r["seconds"])
             for r in data["rows"]}
    return obj, SpaceTimes(f"{obj.name}: median seconds at size {tuple(data['size'])} on {data['device']}", times)


def top_table(obj: Objective, times: SpaceTimes, n: int = 6):
    """The fastest and slowest configs of a measured table, against the best."""
    from perflab.measure import format_time
    from perflab.table import Table
    ranked = sorted(times.seconds.items(), key=lambda kv: kv[1])
    best = ranked[0][1]
    pick = ranked[:n] + ranked[-2:] if len(ranked) > n + 2 else ranked
    rows = [[i + 1 if i < n else len(ranked) - (len(pick) - 1 - i), obj.space.label(c),
             format_time(t) if math.isfinite(t) else "cannot run here", f"{t / best:.2f}×"]
            for i, (c, t) in enumerate(pick)]
    return Table(["rank", "config", "median", "÷ best"], rows,
                 title=f"{obj.what}: {len(times.seconds)} configs measured at size {obj.size}",
                 notes=[f"the slowest is {ranked[-1][1] / best:.1f}× the best: the knobs matter"] + obj.notes)
