"""Lab: copy in, compute, copy out, chunk by chunk: one stream (serialized) vs several streams and events.

A batch ``x`` sits in pinned host memory. Each chunk is copied to the GPU (H2D), hashed (``iters`` steps
per element, see ``compute``) and copied back into the pinned host tensor ``out`` (D2H). A GPU has
separate engines for the three steps: a copy engine per direction and the SMs. On ONE stream every
operation waits for the previous one, so only one engine works at a time. Spread over streams, chunk
i+1's copy-in runs while chunk i computes and chunk i-1 copies out: with three equal stages the batch
can finish up to 3x sooner (less the fill and drain of the pipeline).

Every variant allocates its device buffers on the current stream, makes its side streams wait for
that stream first and makes the current stream wait for them at the end: the pattern that keeps the
caching allocator safe (see ``allocator``). On the cpu tier ``torch.get_device_module`` hands back
``torch.cpu``, whose streams and events are stand-ins that do nothing, so the same code runs there
(serially) and is checked under the Triton interpreter.

% ceiling is of the measured pinned H2D rate (``BANDWIDTH``) over the 4 bytes per element that must
cross the link each way: a perfectly overlapped, copy-bound pipeline approaches 100 %, a serialized one
with three equal stages sits near 33 %.
"""
from __future__ import annotations

import torch

import perflab as pl
from labs.ch11_streams.compute import CHUNKS, calibrate, chunk_ranges, hash_steps, reference as _closed_form

TITLE = "Copy in, hash, copy out in chunks: one stream vs streams and events (pinned memory, int32)"
SIZES = {"cpu": [30_011, 12_007], "gpu": [33_554_467, 8_388_617, 16_777_259]}    # int32 elements
DTYPES = ["int32"]
OPTIONS = pl.LabOptions(
    bandwidth="h2d_pinned",
    target=0.65,    # of the pinned H2D rate: serialized equal stages reach 1/3, two streams ~0.6, full overlap ~0.8
)
STAGES = ("H2D copy", "compute", "D2H copy")


def make_inputs(size, device, dtype="int32", seed=0):
    """x: the batch in pinned host memory; out: where the answer lands (pinned, filled with noise so
    an unwritten chunk is caught); iters: hash steps per element (calibrated on a GPU); chunks."""
    g = torch.Generator().manual_seed(seed)
    pinned = torch.device(device).type == "cuda"             # filled in place: no pageable copy to pin
    x = torch.empty(size, dtype=torch.int32, pin_memory=pinned).random_(-2**31, 2**31 - 1, generator=g)
    out = torch.empty(size, dtype=torch.int32, pin_memory=pinned).random_(-2**31, 2**31 - 1, generator=g)
    return {"x": x, "out": out, "iters": calibrate().iters, "chunks": CHUNKS}


def reference(x, out, iters, chunks):
    return _closed_form(x, iters)


def bytes(size, dtype="int32"):
    return 4 * size          # what crosses the H2D link (the same again crosses back, in the other direction)


def flops(size, dtype="int32"):
    return 0                 # integer hashing: no floating-point work to put on a roofline


def _op(trace, chunk, stage, fn):
    """Run one pipeline operation on the current stream; with a trace, bracket it in timing events."""
    if trace is None:
        return fn()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    fn()
    end.record()
    trace.append((chunk, stage, start, end))


def pipeline(x, out, iters, chunks, plan="serial", trace=None):
    """The three stages over the chunks of ``x``, scheduled by ``plan``:

    "serial"         everything on the current stream, in order
    "streams:N"      chunk i's three operations on stream i % N (depth-first issue)
    "stages"         one stream per stage; per-chunk events hand each chunk to the next stage
    "sync"           one stream per stage, but the host waits for the device after every operation

    trace: a list to receive (chunk, stage, start_event, end_event) per operation (GPU only).
    """
    dev = pl.device()
    dm = torch.get_device_module(dev)
    main = dm.current_stream()
    xd = torch.empty(x.shape, dtype=x.dtype, device=dev)        # allocated on the current stream
    yd = torch.empty_like(xd)
    ranges = chunk_ranges(x.numel(), chunks)
    if plan == "serial":
        streams = [main]
    elif plan.startswith("streams:"):
        streams = [dm.Stream() for _ in range(int(plan.split(":")[1]))]
    elif plan in ("stages", "sync"):
        streams = [dm.Stream() for _ in STAGES]
    else:
        raise ValueError(f"plan {plan!r} is not 'serial', 'streams:N', 'stages' or 'sync'")
    for s in streams:
        s.wait_stream(main)                     # the buffers exist (in stream order) before anyone uses them
    for i, (a, b) in enumerate(ranges):
        ops = (lambda: xd[a:b].copy_(x[a:b], non_blocking=True),
               lambda: hash_steps(xd[a:b], yd[a:b], iters),
               lambda: out[a:b].copy_(yd[a:b], non_blocking=True))
        if plan == "serial" or plan.startswith("streams:"):
            with dm.stream(streams[i % len(streams)]):
                for stage, fn in enumerate(ops):
                    _op(trace, i, stage, fn)
            continue
        ready = None                            # the event that marks this chunk's previous stage done
        for stage, fn in enumerate(ops):
            s = streams[stage]
            if plan == "stages" and stage > 0:
                s.wait_event(ready)             # only this stream waits; the host and the others go on
            with dm.stream(s):
                _op(trace, i, stage, fn)
                ready = s.record_event() if plan == "stages" else None
            if plan == "sync":
                dm.synchronize()                # the host blocks until the whole device is idle
    for s in streams:
        main.wait_stream(s)
    if dev.type == "cuda":
        main.synchronize()                      # out is read by the host next: wait for the last D2H
    return out


@pl.variant(backend="triton", note="every copy and kernel on one stream: one engine busy at a time")
def serial(x, out, iters, chunks):
    return pipeline(x, out, iters, chunks, "serial")


@pl.variant(backend="triton", note="chunk i on stream i % 2: at most two chunks in flight")
def streams_2(x, out, iters, chunks):
    return pipeline(x, out, iters, chunks, "streams:2")


@pl.variant(backend="triton", note="chunk i on stream i % 3: copy in, compute and copy out overlap")
def streams_3(x, out, iters, chunks):
    return pipeline(x, out, iters, chunks, "streams:3")


@pl.variant(backend="triton", note="a stream per stage, events hand each chunk on (cudaStreamWaitEvent)")
def stage_events(x, out, iters, chunks):
    return pipeline(x, out, iters, chunks, "stages")


@pl.variant(backend="triton", note="a stream per stage, but a device-wide sync after every operation")
def sync_each_stage(x, out, iters, chunks):
    return pipeline(x, out, iters, chunks, "sync")


variants = [serial, streams_2, streams_3, stage_events, sync_each_stage]


def ratio_line(run, overlapped: str = "stage_events") -> str:
    """One line: serialized time / overlapped time, here and in the H200 reference, vs the simulator."""
    from perflab import book, results
    from labs.ch11_streams import simulators as sim
    cal = calibrate()
    stages = cal.stage_ms() or (1.0, 1.0, 1.0)
    predicted = sim.serial_makespan(stages, CHUNKS) / sim.pipelined_makespan(stages, CHUNKS)
    href = book.ratio(results.reference(run.lab.name), run.lab.name, "serial", overlapped)
    href = f"{href:.2f}×" if href else "not recorded yet"
    base, best = run["serial"].measurement, run[overlapped].measurement
    if base is None or best is None:
        mine = f"not timed on this tier ({run[overlapped].why or run[overlapped].status})"
    else:
        mine = f"{base.median / best.median:.2f}× on {run.device}"
    return (f"serialized / overlapped ({overlapped}): {mine} · H200 reference: {href} · "
            f"simulator for these stage times and {CHUNKS} chunks: {predicted:.2f}× · "
            f"bound for three equal stages: 3×")
