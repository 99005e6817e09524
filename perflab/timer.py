"""The one timing entry point: bench(fn) -> Measurement, on the GPU or the CPU; bench_ranks(fn) across ranks."""
from __future__ import annotations

import contextlib
import functools
import os
import time
from typing import Callable

from perflab.measure import Measurement

MODES = ("auto", "events", "cudagraph", "cpu")


def bench(fn: Callable[[], object], *, warmup_ms: float = 25, rep_ms: float = 100,
          bytes: float | None = None, flops: float | None = None, mode: str = "auto",
          label: str = "", meta: dict | None = None) -> Measurement:
    """Time a zero-argument callable; return its Measurement (seconds per call).

    The first call is timed alone (compile, autotune, module load) and reported as
    ``first_call_s``; it never enters the samples. Then, by mode:

    - "events" (GPU default): ``triton.testing.do_bench`` — warm up for ``warmup_ms``, then for
      about ``rep_ms`` each call runs between two CUDA events after the L2 cache is flushed::

          for i in range(n): flush_l2(); start[i].record(); fn(); end[i].record()
          synchronize(); samples = [s.elapsed_time(e) for s, e in zip(start, end)]

    - "cudagraph": after an eager warm-up, n back-to-back calls are captured in one CUDA graph, the
      graph is replayed for ``warmup_ms``, then 10 timed replays give 10 samples of n calls each
      (``calls_per_sample``). No launch overhead: use it for launch-bound work.
    - "cpu" (CPU default; a lab's TIMING="cpu"): ``torch.utils.benchmark.Timer.blocked_autorange`` for
      ``rep_ms``: blocks of the same number of calls (``calls_per_sample``). The torch thread count is
      chosen (``choose_threads``) and recorded, and ``busy`` says when other processes held cores.

    bytes / flops: what one call must move and compute, for GB/s and TFLOP/s (finite, >= 0).
    Raises ValueError/TypeError for a bad argument (rep_ms NaN, inf, <= 0 or over ten minutes, say) and
    TimingError when no sample is > 0 s. The first call is synchronised whenever a GPU is present.

    >>> m = bench(lambda: sum(range(1000)), rep_ms=20, label="sum")
    >>> m.median > 0 and m.first_call_s > 0
    True
    """
    from perflab.machine import env
    from perflab import validate
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not one of {MODES}")
    if not callable(fn):
        raise TypeError(f"bench needs a zero-argument callable, got {type(fn).__name__}. "
                        f"Wrap the call: bench(lambda: f(x))")
    validate.timing(rep_ms, warmup_ms, bytes, flops)
    validate.number("rep_ms", rep_ms, maximum=MAX_REP_MS)
    if meta is not None and not isinstance(meta, dict):
        raise TypeError(f"meta is a dict of notes, got {type(meta).__name__}")
    e = env()
    if mode == "auto":
        mode = "events" if e.tier == "gpu" else "cpu"
    if mode in ("events", "cudagraph") and e.tier != "gpu":
        raise ValueError(f"mode {mode!r} needs a CUDA GPU; this machine is the cpu tier. Use mode='auto'.")
    on_gpu = e.tier == "gpu"                  # a TIMING="cpu" lab on a GPU still synchronises its first call
    threads, busy, calls = None, "", 1
    if mode == "cpu":
        threads, busy = choose_threads()
    with _torch_threads(threads):
        first = _first_call(fn, gpu=on_gpu)
        if mode == "events":
            from triton.testing import do_bench
            ms = do_bench(fn, warmup=warmup_ms, rep=rep_ms, return_mode="all")
            samples, method = [t * 1e-3 for t in ms], "cuda-events+l2-flush"
        elif mode == "cudagraph":
            samples, calls = _graph_samples(fn, warmup_ms, rep_ms)
            method = "cuda-graph"
        else:
            keep_freed_memory()
            window = CpuWindow()
            samples, calls = _cpu_samples(fn, rep_ms, threads)
            busy = window.verdict(threads, before=busy)
            method = "cpu-timer"
    dropped = sum(1 for s in samples if s <= 0)
    samples = [s for s in samples if s > 0]
    if not samples:
        raise TimingError(f"every one of {dropped} samples of {label or 'this call'} was <= 0 s: the timer cannot "
                          f"resolve it. Time more work per call (a larger size) or a longer rep_ms.")
    meta = dict(meta or {})
    if dropped:
        meta["dropped_nonpositive_samples"] = dropped
    return Measurement(samples, label=label, device=e.device, bytes=bytes, flops=flops, first_call_s=first,
                       method=method, meta=meta, calls_per_sample=calls, threads=threads, busy=busy)


MAX_REP_MS = 600_000          # ten minutes: anything longer is a typo, and would look like a hang


def bench_ranks(fn: Callable[[], object], *, iters: int, device, warmup: int = 2, label: str = "",
                bytes: float | None = None, before_timing: Callable[[], object] | None = None) -> Measurement:
    """Time ``fn`` on every rank of a torch.distributed group; each sample is the slowest rank's call.

    Every rank calls this with the same ``iters``. Per sample::

        barrier(); sync(device); t0 = clock(); fn(); sync(device); t = clock() - t0
        all_reduce(t, MAX)              # a collective step lasts as long as its slowest rank

    ``warmup`` untimed calls run first, then ``before_timing()`` (e.g. reset a counter). The same
    Measurement (wall clock, synchronised) comes back on every rank.
    """
    import torch
    import torch.distributed as dist
    from perflab.validate import number
    number("iters", iters, positive=True, integer=True, where="bench_ranks")
    number("warmup", warmup, integer=True, where="bench_ranks")
    sync = (lambda: torch.cuda.synchronize(device)) if torch.device(device).type == "cuda" else (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    if before_timing is not None:
        before_timing()
    times = []
    for _ in range(iters):
        dist.barrier()
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    t = torch.tensor(times, dtype=torch.float64, device=device)    # NCCL reduces device tensors only
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return Measurement(t.cpu().tolist(), label=label, device=str(device), bytes=bytes,
                       method=f"max over {dist.get_world_size()} ranks, wall clock",
                       meta={"ranks": dist.get_world_size()})


class TimingError(RuntimeError):
    """The timer could not measure the call (every sample <= 0 s)."""


def _first_call(fn, gpu: bool) -> float:
    sync = _synchronize if gpu else (lambda: None)
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - t0


def _synchronize():
    import torch
    if torch.cuda.is_available():             # a CPU-only torch (tests that pretend a GPU) has nothing to wait for
        torch.cuda.synchronize()


def _graph_samples(fn, warmup_ms: float, rep_ms: float) -> tuple[list[float], int]:
    """(seconds per call, calls per sample) from a CUDA graph of n back-to-back calls, replayed 10 times.

    Warm-up first, eagerly on a side stream (lazy init, autotuning and the allocator settle before the
    capture), then whole-graph replays for ``warmup_ms`` (the first replay uploads the graph)."""
    import torch
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        for _ in range(3):
            fn()
        start.record()
        for _ in range(5):
            fn()
        end.record()
        torch.cuda.synchronize()
        per_call_ms = max(start.elapsed_time(end) / 5, 1e-4)
        calls = max(1, min(1000, int(rep_ms / 10 / per_call_ms)))      # ten replays fill about rep_ms
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            for _ in range(calls):
                fn()
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()
    t_end = time.perf_counter() + warmup_ms / 1e3
    graph.replay()
    while time.perf_counter() < t_end:
        graph.replay()
        torch.cuda.synchronize()
    samples = []
    for _ in range(10):
        start.record()
        graph.replay()
        end.record()
        torch.cuda.synchronize()
        samples.append(start.elapsed_time(end) * 1e-3 / calls)
    return samples, calls


def _cpu_samples(fn, rep_ms: float, threads: int | None = None) -> tuple[list[float], int]:
    """(seconds per call, calls per sample) from torch.utils.benchmark: blocks of the same number of calls,
    sized to beat timer overhead; at least 5 blocks, so a spread exists even for slow calls."""
    import torch
    from torch.utils.benchmark import Timer
    # one thread count for the whole timing (chosen by choose_threads, normally the caller's), not Timer's
    # default of one: code runs as it would outside the timer, and torch.compile (which guards on the
    # thread count) does not recompile inside it
    timer = Timer(stmt="fn()", globals={"fn": fn}, num_threads=threads or torch.get_num_threads())
    m = timer.blocked_autorange(min_run_time=rep_ms / 1e3)
    calls, raw = m.number_per_run, list(m.raw_times)
    while len(raw) < 5:                   # slow calls give few blocks: more blocks of the same size
        raw += timer.timeit(calls).raw_times
    return [t / calls for t in raw], calls


# ---- a busy machine -------------------------------------------------------------------------------
BUSY_CORES = 0.5        # other processes using this many cores or more during a cpu timing: flag it


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _host_busy_s() -> tuple[float, int] | None:
    """(CPU seconds all processes have used, CPUs counted) from /proc/stat; None where it is unreadable."""
    try:
        with open("/proc/stat") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    fields = [int(x) for x in lines[0].split()[1:]]
    busy = sum(fields[:8]) - fields[3] - fields[4]        # user nice system [idle iowait] irq softirq steal
    cpus = sum(1 for line in lines if line.startswith("cpu") and line[3:4].isdigit())
    return busy / os.sysconf("SC_CLK_TCK"), cpus


def _own_cpu_s() -> float:
    """CPU seconds this process and its live children (loader workers, say) have used."""
    t = os.times()
    total = t.user + t.system
    tick = os.sysconf("SC_CLK_TCK")
    try:
        kids = [c for task in os.listdir("/proc/self/task")
                for c in open(f"/proc/self/task/{task}/children").read().split()]
    except OSError:
        kids = []
    for pid in kids:
        try:
            stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += (int(stat[11]) + int(stat[12])) / tick
        except (OSError, IndexError, ValueError):
            continue
    return total


class CpuWindow:
    """How many cores other processes used while this process timed something."""

    def __init__(self):
        self.t0, self.host0, self.own0 = time.perf_counter(), _host_busy_s(), _own_cpu_s()

    def others_cores(self) -> float | None:
        """Cores' worth of CPU that other processes used since the window opened; None where unknown
        (no /proc/stat, or a container whose /proc/stat counts more CPUs than this process may use)."""
        host, wall = _host_busy_s(), time.perf_counter() - self.t0
        if host is None or self.host0 is None or wall <= 0 or host[1] != _cores():
            return None
        return max(0.0, (host[0] - self.host0[0] - (_own_cpu_s() - self.own0)) / wall)

    def verdict(self, threads: int | None, before: str = "") -> str:
        """'' when the timing ran on a quiet machine, else one line saying what else was running."""
        others, cores = self.others_cores(), _cores()
        if others is None:
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
            return before or (f"load average {load:.1f} on {cores} cores" if load > cores + 0.5 else "")
        if others >= BUSY_CORES:
            reduced = before.split("; ", 1)[1] if "; " in before else ""
            return (f"other processes used {others:.1f} of {cores} cores while timing"
                    + (f"; {reduced}" if reduced else ""))
        return before


def choose_threads() -> tuple[int, str]:
    """(torch threads for a cpu timing, why the machine looks busy or ''): the caller's torch thread count,
    or PERFLAB_THREADS; fewer when other processes hold cores, because parallel loops with more threads
    than free cores stall on the slowest thread (a 170 µs copy took 6-12 ms beside one busy process)."""
    import torch
    wanted = os.environ.get("PERFLAB_THREADS")
    if wanted:
        from perflab import validate
        try:
            return validate.number("PERFLAB_THREADS", int(wanted), positive=True, integer=True), ""
        except ValueError:
            raise ValueError(f"PERFLAB_THREADS must be a positive int, got {wanted!r}") from None
    threads, cores = torch.get_num_threads(), _cores()
    window = CpuWindow()
    time.sleep(0.05)
    others = window.others_cores()
    if others is None or others < BUSY_CORES:
        return threads, ""
    free = max(1, int(cores - others + 0.5))
    why = f"other processes used {others:.1f} of {cores} cores before timing"
    if free >= threads:
        return threads, why
    return free, f"{why}; timed with {free} torch thread{'s' if free > 1 else ''} instead of {threads}"


@contextlib.contextmanager
def _torch_threads(n: int | None):
    import torch
    before = torch.get_num_threads()
    if n and n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


@functools.cache
def keep_freed_memory() -> bool:
    """On the cpu tier, ask glibc to keep freed blocks (up to 512 MB) instead of returning them to the OS.

    Eager PyTorch on a CPU allocates a fresh full-size temporary per op. glibc hands blocks of a few MB
    back to the OS when they are freed, so the next op's temporary page-faults on every 4 KB page: on
    the 2-core test machine that made the eager chains 10× slower, at random, from one process to the
    next. A GPU's caching allocator never does this, so the CPU timings would compare page faults, not
    memory traffic. Returns True when the setting was applied (Linux with glibc only).
    """
    import ctypes
    import sys
    from perflab.machine import env
    if env().tier != "cpu" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3           # from <malloc.h>
    return bool(libc.mallopt(m_trim_threshold, 512 << 20)) and bool(libc.mallopt(m_mmap_threshold, 32 << 20))
