"""The one timing entry point: bench(fn) -> Measurement, on the GPU or the CPU."""
from __future__ import annotations

import functools
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

    - "cudagraph": ``triton.testing.do_bench_cudagraph`` — the calls are captured in a CUDA graph
      and replayed, which removes launch overhead: use it for launch-bound work.
    - "cpu" (CPU default): ``torch.utils.benchmark.Timer.blocked_autorange`` for ``rep_ms``.

    bytes / flops: what one call must move and compute, for GB/s and TFLOP/s.

    >>> m = bench(lambda: sum(range(1000)), rep_ms=20, label="sum")
    >>> m.median > 0 and m.first_call_s > 0
    True
    """
    from perflab.machine import env
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not one of {MODES}")
    if not callable(fn):
        raise TypeError(f"bench needs a zero-argument callable, got {type(fn).__name__}. "
                        f"Wrap the call: bench(lambda: f(x))")
    e = env()
    if mode == "auto":
        mode = "events" if e.tier == "gpu" else "cpu"
    if mode in ("events", "cudagraph") and e.tier != "gpu":
        raise ValueError(f"mode {mode!r} needs a CUDA GPU; this machine is the cpu tier. Use mode='auto'.")
    first = _first_call(fn, gpu=mode != "cpu")
    if mode == "events":
        from triton.testing import do_bench
        ms = do_bench(fn, warmup=warmup_ms, rep=rep_ms, return_mode="all")
        samples, method = [t * 1e-3 for t in ms], "cuda-events+l2-flush"
    elif mode == "cudagraph":
        from triton.testing import do_bench_cudagraph
        ms = do_bench_cudagraph(fn, rep=rep_ms, return_mode="all")
        samples, method = [t * 1e-3 for t in ms], "cuda-graph"
    else:
        keep_freed_memory()
        samples, method = _cpu_samples(fn, rep_ms), "cpu-timer"
    samples = [s for s in samples if s > 0] or [first]
    return Measurement(samples, label=label, device=e.device, bytes=bytes, flops=flops,
                       first_call_s=first, method=method, meta=dict(meta or {}))


def _first_call(fn, gpu: bool) -> float:
    sync = _synchronize if gpu else (lambda: None)
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - t0


def _synchronize():
    import torch
    torch.cuda.synchronize()


def _cpu_samples(fn, rep_ms: float) -> list[float]:
    """Per-call seconds from torch.utils.benchmark: blocks of calls sized to beat timer overhead."""
    import torch
    from torch.utils.benchmark import Timer
    # the caller's thread count, not Timer's default of one: code runs as it would outside the timer, and
    # torch.compile (which guards on the thread count) does not recompile inside it
    timer = Timer(stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
    samples = list(timer.blocked_autorange(min_run_time=rep_ms / 1e3).times)
    while len(samples) < 5:       # slow calls give few blocks: add single calls for a spread
        samples += timer.timeit(1).times
    return samples


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
