"""PyTorch runtime checks: precision flags, SDPA, allocator, debug switches (ch9, ch13), DataLoader (ch5)."""
from __future__ import annotations

import ast

from perflab.audit.core import MissingFact, Result, check

PREC, CUDA = "Arithmetic and mixed precision", "GPU programming and CUDA tuning"
DEBUG = "Profiling, debugging and monitoring"
DATA, REPRO = "I/O and data pipeline", "Reproducibility and documentation"


def _flag(f, key: str, good: bool, bad_status: str, advice: str) -> Result:
    """Pass when the flag read at ``key`` equals ``good``; a fact only a CUDA device answers may be None."""
    value = f[key]
    if value is None:
        raise MissingFact(f.where(key), "needs a CUDA device")
    return Result.judge(value == good, f"{value} · {f.where(key)}", advice, bad_status)


@check("torch.tf32", "fp32 matmuls may use TF32", 9, PREC, "L4090, L9360", needs_gpu=True)
def tf32(f) -> Result:
    value = f["torch.matmul_precision"]
    ev = f"'{value}' · {f.where('torch.matmul_precision')}"
    ok = value in ("high", "medium")
    return Result("pass" if ok else "warn", ev, "TF32 (or bf16) tensor cores for fp32 matmuls on sm_80+" if ok else
                  "torch.set_float32_matmul_precision('high'): fp32 matmuls use TF32 tensor cores on sm_80+ "
                  "(10-bit mantissa: check your accuracy)")


@check("torch.cudnn_tf32", "cuDNN may use TF32", 9, PREC, "L4090, L9360", needs_gpu=True)
def cudnn_tf32(f) -> Result:
    return _flag(f, "torch.cudnn_tf32", True, "warn", "torch.backends.cudnn.allow_tf32 = True (the default)")


@check("torch.bf16", "bf16 supported", 9, PREC, "L4107, L9345", needs_gpu=True)
def bf16(f) -> Result:
    return _flag(f, "torch.bf16", True, "warn", "no bf16 tensor cores (pre-sm_80): use fp16 autocast with a GradScaler")


@check("torch.cudnn_benchmark", "cudnn.benchmark on", 13, CUDA, "L9312", needs_gpu=True)
def cudnn_benchmark(f) -> Result:
    return _flag(f, "torch.cudnn_benchmark", True, "warn", "torch.backends.cudnn.benchmark = True when "
                 "input shapes are fixed: cuDNN then times its algorithms once and keeps the fastest")


@check("torch.cudnn_deterministic", "cudnn.deterministic off", 13, CUDA, "L9312", needs_gpu=True)
def cudnn_deterministic(f) -> Result:
    return _flag(f, "torch.cudnn_deterministic", False, "warn",
                 "deterministic cuDNN is slower: keep it only where bitwise reproducibility is required")


@check("torch.deterministic", "deterministic algorithms off", 13, CUDA, "L9312")
def deterministic(f) -> Result:
    return _flag(f, "torch.deterministic", False, "warn",
                 "torch.use_deterministic_algorithms(True) costs speed: keep it for debugging runs")


@check("debug.anomaly", "autograd anomaly detection off", 13, DEBUG, "L9324")
def anomaly(f) -> Result:
    return _flag(f, "torch.anomaly", False, "fail",
                 "autograd anomaly detection checks every backward op: turn it off outside debugging")


@check("debug.launch_blocking", "CUDA_LAUNCH_BLOCKING off", 13, DEBUG, "L9324")
def launch_blocking(f) -> Result:
    value = f["env"].get("CUDA_LAUNCH_BLOCKING")
    ev = f"CUDA_LAUNCH_BLOCKING={value or 'unset'} · environment"
    return Result.judge(value != "1", ev, "unset CUDA_LAUNCH_BLOCKING: it waits for every kernel, so the CPU can "
                        "never run ahead of the GPU", "fail")


@check("debug.module_loading", "CUDA modules load lazily", 12, DEBUG, "")
def module_loading(f) -> Result:
    value = f["env"].get("CUDA_MODULE_LOADING")
    ev = f"CUDA_MODULE_LOADING={value or 'unset (LAZY since CUDA 11.7)'} · environment"
    return Result.judge(not (value and value.upper() == "EAGER"), ev,
                        "EAGER loads every kernel at start-up: slower start and more memory")


@check("debug.compile_logs", "no compiler debug logging", 14, DEBUG, "")
def compile_debug(f) -> Result:
    env = f["env"]
    on = {k: env[k] for k in ("TORCH_COMPILE_DEBUG", "TORCHDYNAMO_VERBOSE", "TORCH_LOGS") if env.get(k)}
    ev = (", ".join(f"{k}={v}" for k, v in on.items()) or "no compiler debug variables") + " · environment"
    return Result.judge(not on, ev, "compiler logging slows compilation and fills logs: unset after debugging")


@check("torch.alloc_conf", "allocator configured (expandable segments)", 13, CUDA, "L1380, L5338, L9263")
def alloc_conf(f) -> Result:
    env = f["env"]
    found = {k: env[k] for k in ("PYTORCH_ALLOC_CONF", "PYTORCH_CUDA_ALLOC_CONF") if env.get(k)}
    if not found:
        return Result("warn", "PYTORCH_ALLOC_CONF and PYTORCH_CUDA_ALLOC_CONF unset · environment",
                      "try PYTORCH_ALLOC_CONF=expandable_segments:True when memory fragments (reserved ≫ "
                      "allocated); older torch reads PYTORCH_CUDA_ALLOC_CONF")
    ev = ", ".join(f"{k}={v}" for k, v in found.items()) + " · environment"
    return Result.judge(len(set(found.values())) <= 1, ev,
                        "both names are set and differ: keep one (newer torch reads PYTORCH_ALLOC_CONF)")


@check("torch.sdpa", "flash and mem-efficient SDPA enabled", 9, CUDA, "L4056, L9387", needs_gpu=True)
def sdpa(f) -> Result:
    b = f["torch.sdpa"]
    ev = ", ".join(f"{k}={v}" for k, v in b.items()) + f" · {f.where('torch.sdpa')}"
    return Result.judge(b.get("flash") and b.get("mem_efficient"), ev,
                        "re-enable the fused attention kernels: torch.backends.cuda.enable_flash_sdp(True) "
                        "and enable_mem_efficient_sdp(True)")


@check("torch.fp8", "fp8 tensor cores (sm_89+)", 2, PREC, "L9354", needs_gpu=True)
def fp8(f) -> Result:
    cap = f["torch.capability"]
    if cap is None:
        raise MissingFact("compute capability", "no CUDA device")
    te = f.get("modules", {}).get("transformer_engine")
    ev = f"sm_{cap[0]}{cap[1]}, transformer_engine {'found' if te else 'not installed'} · torch, find_spec"
    if tuple(cap) >= (8, 9):
        return Result("pass", ev, "fp8 tensor cores available (torch._scaled_mm, Transformer Engine)")
    return Result("warn", ev, "fp8 tensor cores need sm_89+ (Ada, Hopper): stay with bf16/fp16 here")


@check("torch.pinned", "pinned host memory can be allocated", 3, CUDA, "L1129, L9130", needs_gpu=True)
def pinned(f) -> Result:
    return _flag(f, "torch.pinned_ok", True, "fail", "cannot pin host memory: raise ulimit -l (memlock)")


@check("torch.threads", "torch threads ≤ usable cores", 3, CUDA, "L9052, L9112")
def torch_threads(f) -> Result:
    n, cores = f["torch.threads"], len(f["affinity"])
    ev = f"{n} intra-op threads, {cores} usable cores · torch.get_num_threads, sched_getaffinity"
    return Result.judge(n <= cores, ev, f"torch.set_num_threads({cores}) or OMP_NUM_THREADS: more threads than "
                        "cores thrash")


def _loader(f, name: str):
    return f["loader"][name]


def _loader_setting(f, shown: str, ok: bool, advice: str, *, no_workers: str = "") -> Result:
    """One DataLoader setting, ``shown`` as 'pin_memory=True'; with ``no_workers`` (why it needs
    workers) a loader without workers warns first."""
    if no_workers and _loader(f, "num_workers") == 0:
        return Result("warn", f"num_workers=0: {no_workers} · {f.where('loader')}", "add workers first")
    return Result.judge(ok, f"{shown} · {f.where('loader')}", advice)


@check("data.num_workers", "DataLoader num_workers > 0", 5, DATA, "L2064, L9127")
def loader_workers(f) -> Result:
    n = _loader(f, "num_workers")
    return _loader_setting(f, f"num_workers={n}", n > 0,
                           "num_workers > 0 so decoding overlaps the GPU step (start near one per core)")


@check("data.pin_memory", "DataLoader pin_memory=True", 5, DATA, "L1129, L9130")
def loader_pin(f) -> Result:
    v = _loader(f, "pin_memory")
    return _loader_setting(f, f"pin_memory={v}", v, "pin_memory=True, then .to(device, non_blocking=True) "
                           "overlaps the copy")


@check("data.persistent_workers", "DataLoader persistent_workers=True", 5, DATA, "L2064, L9182")
def loader_persistent(f) -> Result:
    v = _loader(f, "persistent_workers")
    return _loader_setting(f, f"persistent_workers={v}", v, "persistent_workers=True: workers survive between "
                           "epochs (no restart stall)", no_workers="no workers to keep")


@check("data.prefetch", "DataLoader prefetch_factor ≥ 2", 5, DATA, "L2299, L9182")
def loader_prefetch(f) -> Result:
    n, p = _loader(f, "num_workers"), _loader(f, "prefetch_factor")
    return _loader_setting(f, f"prefetch_factor={p}: {n * (p or 0)} batches queued", n > 0 and p >= 2,
                           "prefetch_factor ≥ 2 (2 is the default)", no_workers="nothing prefetches")


@check("data.sampler", "DistributedSampler under DDP", 13, DATA, "L9182")
def loader_sampler(f) -> Result:
    sampler, world = _loader(f, "sampler"), int(f["env"].get("WORLD_SIZE", "1"))
    ev = f"{sampler}, WORLD_SIZE={world} · {f.where('loader')}, environment"
    return Result.judge(world <= 1 or sampler == "DistributedSampler", ev,
                        "under DDP use DistributedSampler: otherwise every rank reads the same samples", "fail")


@check("data.non_blocking", "host→device copies non_blocking", 5, DATA, "L1125, L9133")
def non_blocking(f) -> Result:
    tree = ast.parse(f["script"])
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
             and n.func.attr in ("to", "cuda")]
    if not calls:
        return Result("pass", f"no .to()/.cuda() calls · {f.where('script')}")
    blocking = [n.lineno for n in calls if not any(k.arg == "non_blocking" and isinstance(k.value, ast.Constant)
                                                   and k.value.value is True for k in n.keywords)]
    ev = f"{len(calls) - len(blocking)}/{len(calls)} device copies non_blocking · {f.where('script')}"
    if blocking:
        return Result("warn", ev + f" (blocking at lines {blocking[:8]})",
                      "non_blocking=True with pinned batches lets the copy overlap compute "
                      "(.to(dtype) lines are false alarms)")
    return Result("pass", ev)


@check("repro.git_clean", "code committed before measuring", 1, REPRO, "L8926")
def git_clean(f) -> Result:
    lines = [x for x in f["git_status"].splitlines() if x.strip()]
    ev = f"{len(lines)} changed files · {f.where('git_status')}"
    return Result.judge(not lines, ev, "commit before you benchmark so the numbers name the code that made them")


CHECKS = [tf32, cudnn_tf32, bf16, fp8, sdpa, cudnn_benchmark, cudnn_deterministic, deterministic, alloc_conf,
          pinned, torch_threads, launch_blocking, anomaly, module_loading, compile_debug, loader_workers,
          loader_pin, loader_persistent, loader_prefetch, loader_sampler, non_blocking, git_clean]
