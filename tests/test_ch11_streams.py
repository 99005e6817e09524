"""Chapter 11: every plan equals the serialized result (variants and planted bugs: tests/test_contract.py),
the simulator matches hand-computed makespans, the grader fails a wrong answer, GPU-only parts degrade
to one line on the cpu tier."""
from __future__ import annotations

import importlib.util
import random

import pytest
import torch

import perflab as pl
import bugs_late as bugs
from labtests import DEVICE
from labs.ch11_streams import compute, simulators as sim, solutions, threads, timeline

HAS_CUPY = DEVICE == "cuda" and importlib.util.find_spec("cupy") is not None
GPU = pytest.mark.skipif(DEVICE != "cuda", reason="needs a CUDA GPU")


# ---- every plan gives the same answer (every variant at two sizes: tests/test_contract.py) --------------

@pytest.mark.parametrize("plan", ["serial", "streams:2", "streams:3", "stages", "sync"])
@pytest.mark.parametrize("chunks", [1, 3, 8, 64])
def test_every_plan_equals_the_serialized_result(plan, chunks):
    from labs.ch11_streams import overlap
    inp = overlap.make_inputs(1_501, DEVICE, seed=5)
    inp["chunks"] = chunks
    want = overlap.pipeline(**{**inp, "out": inp["out"].clone()}, plan="serial").clone()
    got = overlap.pipeline(**inp, plan=plan)
    assert torch.equal(got, want)


def test_threads_with_one_buffer_and_many_chunks():
    inp = threads.make_inputs(10_007, seed=3)
    out = threads.run_threads(inp["x"], inp["out"], 2, chunks=50, buffers=1)
    assert torch.equal(out, compute.reference(inp["x"], 2))


def test_solution_is_correct():
    from labs.ch11_streams import overlap
    for size in (30_011, 777):
        inp = overlap.make_inputs(size, DEVICE, seed=size)
        assert torch.equal(solutions.three_streams(**inp), overlap.reference(**inp))


# ---- the compute and its closed form --------------------------------------------------------------

@pytest.mark.parametrize("iters", [0, 1, 2, 7, 64, 1000])
def test_hash_jump_equals_iterating(iters):
    v = 0x1234567
    for _ in range(iters):
        v = (v * compute.A + compute.C) & compute.MASK
    a, c = compute.hash_jump(iters)
    assert (a * 0x1234567 + c) & compute.MASK == v


def test_triton_hash_kernel_matches_closed_form_on_a_view():
    g = torch.Generator().manual_seed(9)
    x = torch.randint(-2**31, 2**31 - 1, (5_003,), generator=g, dtype=torch.int32).to(DEVICE)
    y = torch.zeros_like(x)
    compute.hash_steps(x[3:], y[3:], 13)                       # an unaligned view
    assert torch.equal(y[3:].cpu(), compute.reference(x[3:].cpu(), 13)) and not y[:3].any()


@pytest.mark.parametrize("n", [1, 63, 64, 65, 1000, 5_003, 30_011])
@pytest.mark.parametrize("chunks", [1, 2, 8, 100])
def test_chunk_ranges_tile_the_range(n, chunks):
    r = compute.chunk_ranges(n, chunks)
    assert r[0][0] == 0 and r[-1][1] == n and len(r) <= chunks
    assert all(a < b for a, b in r) and all(b == a2 for (_, b), (a2, _) in zip(r, r[1:]))
    assert all(a % compute.ALIGN == 0 for a, _ in r)


def test_calibration_on_the_cpu_tier_is_the_fixed_count():
    if pl.env().tier == "gpu":
        pytest.skip("the cpu-tier path")
    cal = compute.calibrate()
    assert cal.iters == compute.CPU_ITERS and cal.stage_ms() is None and "cpu tier" in repr(cal)


# ---- the simulator against hand-computed makespans -------------------------------------------------

def test_serial_and_pipelined_by_hand():
    assert sim.serial_makespan((3.0, 6.0, 3.0), 3) == 12.0                 # 3 chunks x (1 + 2 + 1)
    assert sim.pipelined_makespan((3.0, 6.0, 3.0), 3) == 8.0               # 4 + 2 x 2
    assert sim.pipelined_makespan((3.0, 3.0, 3.0), 3, overhead_ms=0.5) == 7.5   # 4.5 + 2 x 1.5


def test_schedule_by_hand():
    # per chunk 1, 2, 1: H 0-1 1-2 2-3; compute 1-3 3-5 5-7; D 3-4 5-6 7-8
    ops = sim.schedule((3.0, 6.0, 3.0), 3, "stages")
    assert [(o.start, o.end) for o in ops if o.stage == 1] == [(1.0, 3.0), (3.0, 5.0), (5.0, 7.0)]
    assert sim.makespan(ops) == 8.0
    assert sim.makespan(sim.schedule((3.0, 6.0, 3.0), 3, "serial")) == 12.0
    # two streams, 4 equal chunks of 1: chunk 2's copy-in waits for chunk 0's copy-out (t=3)
    ops = sim.schedule((4.0, 4.0, 4.0), 4, "streams", streams=2)
    assert [o.start for o in ops if o.stage == 0] == [0.0, 1.0, 3.0, 4.0] and sim.makespan(ops) == 7.0
    # two shared cores, 2 equal chunks: 0-1 | 1-2 (two ops) | 2-3 (two ops) | 3-4
    assert sim.makespan(sim.schedule((2.0, 2.0, 2.0), 2, "stages", cores=2)) == 4.0


def test_schedule_respects_dependencies_and_engines():
    rng = random.Random(0)
    for _ in range(30):
        stage = tuple(rng.uniform(0.1, 5.0) for _ in range(3))
        n, streams = rng.randint(1, 12), rng.randint(1, 5)
        for plan in ("serial", "streams", "stages"):
            ops = sim.schedule(stage, n, plan, streams=streams)
            by = {(o.chunk, o.stage): o for o in ops}
            assert all(by[(o.chunk, o.stage - 1)].end <= o.start + 1e-12 for o in ops if o.stage)
            for s in range(3):
                spans = sorted((o.start, o.end) for o in ops if o.stage == s)
                assert all(b <= a2 + 1e-12 for (_, b), (a2, _) in zip(spans, spans[1:])), "engine used twice at once"
        closed = sim.pipelined_makespan(stage, n)
        assert sim.makespan(sim.schedule(stage, n, "stages")) == pytest.approx(closed)
        assert sim.makespan(sim.schedule(stage, n, "streams", streams=streams)) >= closed - 1e-9
        assert sim.makespan(sim.schedule(stage, n, "serial")) == pytest.approx(sim.serial_makespan(stage, n))


def test_overlap_is_at_most_three_and_three_only_when_equal():
    rng = random.Random(1)
    for _ in range(100):
        stage = tuple(rng.uniform(0.1, 5.0) for _ in range(3))
        assert sim.overlap_bound(stage) < 3.0
        for n in (1, 4, 100):
            assert sim.serial_makespan(stage, n) / sim.pipelined_makespan(stage, n) <= sim.overlap_bound(stage) + 1e-12
    assert sim.overlap_bound((2.0, 2.0, 2.0)) == 3.0
    assert sim.serial_makespan((1, 1, 1), 8) / sim.pipelined_makespan((1, 1, 1), 8) == pytest.approx(2.4)


def test_calculator_text():
    text = sim.explain(3.0, 3.0, 3.0, chunks=3, streams=2, overhead_us=0)
    assert "9.000 ms" in text and "5.000 ms   (1.80x)" in text and "3.00x" in text
    with pytest.raises(ValueError, match="three times"):
        sim.explain(1.0, -1.0, 1.0)


# ---- timelines -----------------------------------------------------------------------------------

def test_timeline_busy_and_text():
    t = timeline.from_schedule(sim.schedule((3.0, 3.0, 3.0), 3, "stages"), "stages")
    assert t.makespan == 5.0 and t.busy() == [pytest.approx(0.6)] * 3
    lines = t.text(width=10).splitlines()
    assert lines[1].split()[2] == "001122" and len(lines) == 4          # 0.5 ms per character


def test_gantt_figure_has_a_panel_per_timeline():
    a = timeline.from_schedule(sim.schedule((1.0, 1.0, 1.0), 4, "serial"), "serial")
    b = timeline.from_schedule(sim.schedule((1.0, 1.0, 1.0), 4, "stages"), "stages")
    fig = timeline.gantt(a, b)
    assert len(fig.data) == 2 and len(fig.data[0].x) == 12


def test_profiler_trace_parsing_orders_chunks_per_engine():
    ev = [{"cat": "kernel", "name": "_hash_kernel", "ts": 30, "dur": 10},
          {"cat": "gpu_memcpy", "name": "Memcpy HtoD (Pinned -> Device)", "ts": 0, "dur": 10},
          {"cat": "gpu_memcpy", "name": "Memcpy HtoD (Pinned -> Device)", "ts": 10, "dur": 10},
          {"cat": "kernel", "name": "_hash_kernel", "ts": 10, "dur": 10},
          {"cat": "cuda_runtime", "name": "cudaLaunchKernel", "ts": 0, "dur": 1}]
    rows = timeline._device_rows(ev)
    assert rows == [(0, 0, 0.0, 0.01), (0, 1, 0.01, 0.02), (1, 0, 0.01, 0.02), (1, 1, 0.03, 0.04)]
    with pytest.raises(RuntimeError, match="no GPU copies"):
        timeline._device_rows(ev[-1:])


# ---- threads: stage times and prediction ------------------------------------------------------------

def test_stage_totals_use_the_median_operation():
    rows = [(0, 0, 0.0, 1.0), (1, 0, 5.0, 6.0), (2, 0, 7.0, 57.0),          # one op stretched by the OS
            (0, 1, 1.0, 3.0), (1, 1, 6.0, 8.0), (2, 1, 57.0, 59.0),
            (0, 2, 3.0, 4.0), (1, 2, 8.0, 9.0), (2, 2, 59.0, 60.0)]
    assert threads.stage_totals(rows) == (3.0, 6.0, 3.0)


# ---- grading -------------------------------------------------------------------------------------

def starter(x, out, iters, chunks):                      # the notebook's committed starter
    dev = pl.device()
    dm = torch.get_device_module(dev)
    xd = torch.empty(x.shape, dtype=x.dtype, device=dev)
    yd = torch.empty_like(xd)
    for a, b in compute.chunk_ranges(x.numel(), chunks):
        xd[a:b].copy_(x[a:b], non_blocking=True)
        compute.hash_steps(xd[a:b], yd[a:b], iters)
        out[a:b].copy_(yd[a:b], non_blocking=True)
    dm.synchronize()
    return out


def test_grader_passes_the_starter_and_fails_wrong_answers():
    assert pl.grade("ch11.overlap", starter).correct
    assert not pl.grade("ch11.overlap", bugs.ch11_overlap_off_by_one_step)
    assert not pl.grade("ch11.overlap", lambda x, out, iters, chunks: out)       # never writes out


# ---- GPU-only parts print one line on the cpu tier ------------------------------------------------

def test_gpu_only_parts_explain_themselves_on_the_cpu_tier():
    if pl.env().tier == "gpu":
        pytest.skip("the cpu-tier messages")
    from labs.ch11_streams import allocator, sync_points
    for line in (allocator.reuse_race(), allocator.per_stream_pools(), allocator.backend_switch(),
                 sync_points.default_stream(), sync_points.allocation()):
        assert isinstance(line, str) and line.startswith("needs") and "\n" not in line


def test_pair_probe_reads_its_cases():
    """A probe is data: ratios to the first case, and a table that says overlap or serialized per case."""
    from labs.ch11_streams import book_check, sync_points
    cases = (sync_points.PairCase("nothing", 1.0e-3, 0.9e-3, 1.1e-3),
             sync_points.PairCase("cudaMalloc", 1.1e-3, 1.0e-3, 1.2e-3),
             sync_points.PairCase("cudaFree (of a block allocated before)", 2.0e-3, 1.9e-3, 2.1e-3))
    probe = sync_points.PairProbe("Allocation calls", 1.0, "Pretend GPU", cases)
    assert probe.ratios == {"nothing": 1.0, "cudaMalloc": pytest.approx(1.1),
                            "cudaFree (of a block allocated before)": 2.0}
    assert [r[-1] for r in probe.table().rows] == ["overlap", "overlap", "serialized"]
    assert "cudaMalloc left them overlapping and cudaFree serialized" in book_check._malloc_why(probe)


def test_reuse_race_is_read_by_its_claims():
    from labs.ch11_streams import _claims, allocator
    race = allocator.ReuseRace(1_000, 2.0, "Pretend GPU", (allocator.RaceCase("none", True, 600, 1_000),
                                                           allocator.RaceCase("record_stream", False, 0, 1_000)))
    assert _claims._wrong_share("none")(race) == 0.6 and _claims._wrong_share("record_stream")(race) == 0.0
    assert _claims._wrong_share("wait_stream")(race) is None and _claims._wrong_share("none")("needs a GPU") is None
    assert race.table().rows[0][1:3] == ["yes", "600 of 1,000"]
    pools = allocator.StreamPools(64, 4, "Pretend GPU", 4 << 26, 1 << 26, "— (no CuPy)")
    assert _claims._pool_growth(pools) == 4.0 and _claims._pool_growth("needs a GPU") is None
    assert [r[2] for r in pools.table().rows] == ["256 MB", "64 MB", "— (no CuPy)"]


def test_book_check_renders_without_runs():
    from labs.ch11_streams import book_check
    t = book_check.table()
    assert len(t.rows) == 8 and all(len(r) == 5 for r in t.rows)
    assert all("L4" in r[0] for r in t.rows)


# ---- on a GPU -------------------------------------------------------------------------------------

@GPU
def test_cuda_event_timeline_covers_every_operation():
    t = timeline.cuda_events("stages", size=1_000_003)
    assert len(t.rows) == 3 * len(compute.chunk_ranges(1_000_003, compute.CHUNKS)) and t.makespan > 0


@GPU
@pytest.mark.skipif(not HAS_CUPY, reason="needs CuPy")
def test_record_stream_prevents_the_race():
    from labs.ch11_streams import allocator
    race = allocator.reuse_race(size=4_000_037)
    assert race.case("record_stream").wrong == 0 and race.case("wait_stream").wrong == 0
    assert race.case("none").reused and not race.case("record_stream").reused
    assert race.table().rows[1][2].startswith("0 of")
