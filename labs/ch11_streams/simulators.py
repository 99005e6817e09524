"""A three-stage pipeline simulator (pure Python): chunks, streams, engines -> a schedule and its makespan.

Each chunk goes through H2D copy, compute and D2H copy. An operation starts when (1) the previous
stage of its chunk has finished (data), (2) the previous operation issued to its stream has finished
(a stream is a queue that runs in order) and (3) its engine is free. A GPU has one engine per stage
(a copy engine per direction and the SMs); a CPU has a pool of identical cores. The simulator places
operations greedily, earliest possible start first, issue order breaking ties.

For identical chunks with one engine per stage and enough streams (the flow-shop case), the makespan
has a closed form: ``sum(stage) + (N - 1) * max(stage)`` for per-chunk stage times. Serialized it is
``N * sum(stage)``, so the speedup tends to ``sum / max`` as N grows: 3x at most, reached when the
three stages are equal.

    >>> serial_makespan((3.0, 3.0, 3.0), 3), pipelined_makespan((3.0, 3.0, 3.0), 3)
    (9.0, 5.0)
    >>> makespan(schedule((3.0, 3.0, 3.0), chunks=3, plan="stages"))
    5.0
"""
from __future__ import annotations

from dataclasses import dataclass
from perflab.validate import calculator_inputs

STAGES = ("H2D copy", "compute", "D2H copy")


@dataclass(frozen=True)
class Op:
    """One operation of the schedule: chunk, stage (0..2), the stream and engine it ran on, times (ms)."""
    chunk: int
    stage: int
    stream: int
    engine: int
    start: float
    end: float


def _per_chunk(stage_ms, chunks: int, overhead_ms: float) -> list[float]:
    if len(stage_ms) != 3 or min(stage_ms) < 0:
        raise ValueError(f"stage_ms must be three times >= 0 (H2D, compute, D2H), got {stage_ms}")
    if chunks < 1:
        raise ValueError(f"chunks must be >= 1, got {chunks}")
    return [t / chunks + overhead_ms for t in stage_ms]


def serial_makespan(stage_ms, chunks: int, overhead_ms: float = 0.0) -> float:
    """Everything on one stream: the batch takes the sum of every operation."""
    return chunks * sum(_per_chunk(stage_ms, chunks, overhead_ms))


def pipelined_makespan(stage_ms, chunks: int, overhead_ms: float = 0.0) -> float:
    """One engine per stage, a stream per stage (or >= 3 round-robin streams): fill + (N-1) x slowest + drain.

    >>> pipelined_makespan((1.0, 2.0, 1.0), 4)      # per chunk 0.25, 0.5, 0.25: 1.0 + 3 * 0.5
    2.5
    """
    per = _per_chunk(stage_ms, chunks, overhead_ms)
    return sum(per) + (chunks - 1) * max(per)


def overlap_bound(stage_ms) -> float:
    """The speedup as chunks -> infinity: sum / max of the stage times (3 for three equal stages).

    >>> overlap_bound((2.0, 2.0, 2.0)), overlap_bound((1.0, 4.0, 1.0))
    (3.0, 1.5)
    """
    return sum(stage_ms) / max(stage_ms)


def schedule(stage_ms, chunks: int, plan: str = "stages", streams: int = 3, cores: int | None = None,
             overhead_ms: float = 0.0) -> list[Op]:
    """Simulate the batch. stage_ms: whole-batch time of each stage (split evenly over the chunks).

    plan:   "serial"  one stream for everything
            "streams" chunk i on stream i % streams, its three operations in order
            "stages"  one stream per stage (events carry each chunk to the next stage)
    cores:  None = one engine per stage (a GPU); k = a pool of k identical workers (CPU cores).
    overhead_ms: fixed cost added to every operation (launch, DMA setup).

    >>> ops = schedule((4.0, 4.0, 4.0), chunks=4, plan="streams", streams=2)
    >>> makespan(ops)        # two streams: a stream's next copy-in waits for its last copy-out
    7.0
    """
    per = _per_chunk(stage_ms, chunks, overhead_ms)
    if plan not in ("serial", "streams", "stages"):
        raise ValueError(f"plan {plan!r} is not 'serial', 'streams' or 'stages'")
    n_streams = 1 if plan == "serial" else 3 if plan == "stages" else streams
    if n_streams < 1:
        raise ValueError(f"streams must be >= 1, got {streams}")
    issued = []                                   # (chunk, stage, stream) in the order the host issues them
    for i in range(chunks):
        for s in range(3):
            issued.append((i, s, s if plan == "stages" else i % n_streams))
    n_engines = 3 if cores is None else cores
    engine_free = [0.0] * n_engines
    stream_last: dict[int, int] = {}              # stream -> index (in issued) of its previous operation
    deps = []
    for k, (i, s, st) in enumerate(issued):
        d = [stream_last[st]] if st in stream_last else []
        if s > 0:
            d.append(k - 1)                       # the chunk's previous stage (issued just before)
        deps.append(d)
        stream_last[st] = k
    done: dict[int, Op] = {}
    while len(done) < len(issued):
        best = None
        for k, (i, s, st) in enumerate(issued):
            if k in done or any(d not in done for d in deps[k]):
                continue
            ready = max((done[d].end for d in deps[k]), default=0.0)
            engines = [s] if cores is None else range(n_engines)
            eng = min(engines, key=lambda e: (max(ready, engine_free[e]), e))
            start = max(ready, engine_free[eng])
            if best is None or start < best[0]:
                best = (start, k, eng)
        start, k, eng = best
        i, s, st = issued[k]
        done[k] = Op(i, s, st, eng, start, start + per[s])
        engine_free[eng] = start + per[s]
    return [done[k] for k in range(len(issued))]


def makespan(ops: list[Op]) -> float:
    return max(op.end for op in ops) - min(op.start for op in ops)


def best_chunks(stage_ms, overhead_ms: float, max_chunks: int = 256) -> int:
    """The chunk count with the shortest pipelined makespan when every operation costs overhead_ms extra.

    >>> best_chunks((3.0, 3.0, 3.0), overhead_ms=0.0, max_chunks=64)
    64
    >>> best_chunks((3.0, 3.0, 3.0), overhead_ms=0.05)     # (n+2)(3/n + 0.05): least near sqrt(120)
    11
    """
    return min(range(1, max_chunks + 1), key=lambda n: (pipelined_makespan(stage_ms, n, overhead_ms), n))


@calculator_inputs(positive="chunks streams", signed="h2d_ms compute_ms d2h_ms")
def explain(h2d_ms: float = 2.5, compute_ms: float = 2.5, d2h_ms: float = 2.5, chunks: int = 8,
            streams: int = 3, overhead_us: float = 10.0) -> str:
    """Calculator text: serialized vs overlapped makespan for these whole-batch stage times.

    >>> print(explain(3.0, 3.0, 3.0, chunks=3, streams=3, overhead_us=0).splitlines()[1])
      serialized on one stream         9.000 ms
    """
    stage = (h2d_ms, compute_ms, d2h_ms)
    o = overhead_us / 1e3
    ser = serial_makespan(stage, chunks, o)
    rr = makespan(schedule(stage, chunks, "streams", streams=streams, overhead_ms=o))
    st = makespan(schedule(stage, chunks, "stages", overhead_ms=o))
    best = best_chunks(stage, o)
    return "\n".join([
        f"{chunks} chunks; per chunk: H2D {h2d_ms / chunks:.3f} ms, compute {compute_ms / chunks:.3f} ms, "
        f"D2H {d2h_ms / chunks:.3f} ms, + {overhead_us:g} us per operation",
        f"  {'serialized on one stream':<30}{ser:8.3f} ms",
        f"  {f'{streams} round-robin streams':<30}{rr:8.3f} ms   ({ser / rr:.2f}x)",
        f"  {'a stream per stage + events':<30}{st:8.3f} ms   ({ser / st:.2f}x)",
        f"  bound as chunks grow: sum/max = {overlap_bound(stage):.2f}x (3x only when the stages are equal); "
        f"with this overhead the best chunk count is {best}"])
