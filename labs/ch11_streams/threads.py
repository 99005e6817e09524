"""Lab: the same three-stage pipeline on CPU threads — serial vs one thread per stage (numpy).

A stream is an in-order queue served by one engine; a thread reading a ``queue.Queue`` is the same
thing on a CPU. Stage 1 copies a chunk of ``x`` into a work buffer ("copy in"), stage 2 runs the hash
steps on it in place ("compute"), stage 3 copies it into ``out`` ("copy out"). numpy releases the GIL
inside its loops, so the three threads really run at once — as far as the cores allow: with 2 cores,
three busy stages cannot beat 2x, and the copies compete for the same memory bandwidth. A GPU has a
separate engine per stage; that is why its overlap can approach 3x.

Runs on the CPU on every tier (the ``device`` argument is ignored).
"""
from __future__ import annotations

import queue
import threading
import time

import numpy as np
import torch

import perflab as pl
from labs.ch11_streams.compute import A, C, chunk_ranges, reference as _closed_form

TITLE = "The pipeline on CPU threads: serial vs a thread per stage (numpy, int32 hash)"
SIZES = {"cpu": [2_000_003, 500_009], "gpu": [8_000_009, 2_000_003]}     # int32 elements
DTYPES = ["int32"]
OPTIONS = pl.LabOptions(gate_note=(
    "host work: CPU threads hashing host memory. The GPU's copy bandwidth does not bound it; the comparison "
    "is serial against threaded on the host."),
    timing="cpu")    # host work: time it with the CPU timer on every tier
CHUNKS = 16
ITERS = 3                     # hash steps per element (two in-place passes each): compute ≈ a copy
STAGES = ("copy in", "compute", "copy out")


def make_inputs(size, device="cpu", dtype="int32", seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(-2**31, 2**31 - 1, (size,), generator=g, dtype=torch.int32)
    out = torch.randint(-2**31, 2**31 - 1, (size,), generator=g, dtype=torch.int32)
    return {"x": x, "out": out, "iters": ITERS, "chunks": CHUNKS}


def reference(x, out, iters, chunks):
    return _closed_form(x, iters)


def bytes(size, dtype="int32"):
    return 8 * size           # read x once, write out once


def flops(size, dtype="int32"):
    return 0


def copy_in(src: np.ndarray, a: int, b: int, buf: np.ndarray) -> np.ndarray:
    out = buf[:b - a]
    np.copyto(out, src[a:b])
    return out


def compute(buf: np.ndarray, iters: int) -> np.ndarray:
    a, c = np.uint32(A), np.uint32(C)
    for _ in range(iters):                    # uint32 arithmetic wraps: exactly mod 2**32
        np.multiply(buf, a, out=buf)
        np.add(buf, c, out=buf)
    return buf


def copy_out(dst: np.ndarray, a: int, b: int, buf: np.ndarray) -> None:
    np.copyto(dst[a:b], buf)


def _timed(trace, chunk, stage, fn):
    """Run one stage; with a trace, note its start and end (perf_counter seconds): a trace, not a timer."""
    if trace is None:
        return fn()
    t0 = time.perf_counter()
    result = fn()
    trace.append((chunk, stage, t0, time.perf_counter()))
    return result


def run_serial(x, out, iters, chunks, trace=None):
    src, dst = x.numpy().view(np.uint32), out.numpy().view(np.uint32)
    ranges = chunk_ranges(x.numel(), chunks)
    buf = np.empty(ranges[0][1], dtype=np.uint32)                    # one work buffer, reused
    for i, (a, b) in enumerate(ranges):
        work = _timed(trace, i, 0, lambda: copy_in(src, a, b, buf))
        _timed(trace, i, 1, lambda: compute(work, iters))
        _timed(trace, i, 2, lambda: copy_out(dst, a, b, work))
    return out


def run_threads(x, out, iters, chunks, trace=None, buffers: int = 4):
    """Three threads joined by queues. ``buffers`` work buffers circulate: copy-out hands each one back
    (the CPU twin of recording an event after the D2H copy before a buffer is refilled)."""
    src, dst = x.numpy().view(np.uint32), out.numpy().view(np.uint32)
    ranges = chunk_ranges(x.numel(), chunks)
    free, loaded, hashed = queue.Queue(), queue.Queue(), queue.Queue()
    for _ in range(buffers):
        free.put(np.empty(ranges[0][1], dtype=np.uint32))
    errors = []

    def stage_in():
        for i, (a, b) in enumerate(ranges):
            buf = free.get()                                          # wait until a buffer is free again
            loaded.put((i, a, b, _timed(trace, i, 0, lambda: copy_in(src, a, b, buf)), buf))
        loaded.put(None)

    def stage_compute():
        while (item := loaded.get()) is not None:
            i, a, b, work, buf = item
            hashed.put((i, a, b, _timed(trace, i, 1, lambda: compute(work, iters)), buf))
        hashed.put(None)

    def stage_out():
        while (item := hashed.get()) is not None:
            i, a, b, work, buf = item
            _timed(trace, i, 2, lambda: copy_out(dst, a, b, work))
            free.put(buf)

    def guard(fn):
        def run():
            try:
                fn()
            except BaseException as exc:                              # surface a worker's failure
                errors.append(exc)
                for q in (free, loaded, hashed):
                    q.put(None)
        return run

    workers = [threading.Thread(target=guard(f)) for f in (stage_in, stage_compute, stage_out)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if errors:
        raise errors[0]
    return out


@pl.variant(backend="numpy", note="one thread does copy in, compute, copy out for every chunk in turn")
def serial(x, out, iters, chunks):
    return run_serial(x, out, iters, chunks)


@pl.variant(backend="numpy", note="a thread per stage, queues between them: the CPU picture of three streams")
def threads(x, out, iters, chunks):
    return run_threads(x, out, iters, chunks)


variants = [serial, threads]


def trace(variant: str = "serial", size: int | None = None, runs: int = 5) -> list[tuple[int, int, float, float]]:
    """A traced run of a variant: (chunk, stage, start_ms, end_ms) from the run's first start. Of ``runs``
    traced runs (after one warm-up) it keeps the one with the median makespan: a busy machine is noisy."""
    size = size or SIZES[pl.env().tier][0]
    inp = make_inputs(size, seed=0)
    fn = {"serial": run_serial, "threads": run_threads}[variant]
    fn(**inp)                                                        # warm the buffers and caches
    traces = []
    for _ in range(runs):
        rows: list = []
        fn(**inp, trace=rows)
        t0 = min(r[2] for r in rows)
        traces.append([(c, s, (a - t0) * 1e3, (b - t0) * 1e3) for c, s, a, b in sorted(rows)])
    traces.sort(key=lambda rows: max(r[3] for r in rows))
    return traces[len(traces) // 2]


def stage_totals(rows) -> tuple[float, float, float]:
    """Whole-batch time of each stage (ms) in a trace: chunks x the median operation of that stage (a
    median, so one operation stretched by the OS scheduler does not count as the stage's cost)."""
    import statistics
    n = len({r[0] for r in rows})
    return tuple(n * statistics.median(b - a for _, s, a, b in rows if s == k) for k in range(3))


def prediction(run, serial_rows) -> str:
    """Measured threads speedup vs what the simulator predicts from the serial trace's stage times."""
    from labs.ch11_streams import simulators as sim
    stages_ms = stage_totals(serial_rows)
    cores = pl.env().cpu_cores
    n = len({r[0] for r in serial_rows})
    ser = sim.serial_makespan(stages_ms, n)
    ideal = ser / sim.makespan(sim.schedule(stages_ms, n, "stages"))
    pooled = ser / sim.makespan(sim.schedule(stages_ms, n, "stages", cores=cores))
    s, t = run["serial"].measurement, run["threads"].measurement
    mine = f"{s.median / t.median:.2f}×" if s and t else "—"
    if s and t and s.median / t.median > 1.15 * ideal:
        mine += (" (above any prediction: the serial run was slowed by other work on this machine, "
                 f"see its p20–p80 spread of {s.spread:.0%})")
    return (f"stage times from the serial trace (chunks x median operation): copy in {stages_ms[0]:.2f} ms, compute {stages_ms[1]:.2f} ms, "
            f"copy out {stages_ms[2]:.2f} ms\n"
            f"threads vs serial: measured {mine} on {run.device} · simulator: {ideal:.2f}× with a core per "
            f"stage, {pooled:.2f}× on this machine's {cores} cores (memory-bandwidth contention comes on top)")
