"""Chapter 8 labs: the CUDA C variants through a CPU emulator (with a planted kernel bug), the exercise grader,
and the heat-map sweep as data (shape, the other variants and plain planted bugs: tests/test_contract.py)."""
from __future__ import annotations

import atexit
import ctypes
import functools
import hashlib
import os
import shutil
import subprocess
import tempfile

import pytest
import torch

import perflab as pl
import bugs_early as bugs
from labtests import LABS, sizes_of
from perflab.check import compare
from perflab.lab import info

CHAPTER = [n for n in LABS if n.startswith("ch08.")]


# ---- the CUDA C kernels on the CPU: each thread run in turn (no shared memory, no barriers) ------------

PRELUDE = r"""
#include <math.h>
struct dim3_ { unsigned x, y, z; };
static dim3_ threadIdx, blockIdx, blockDim, gridDim;
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(...)
template <typename... A> static void grid_run(void (*k)(A...), int g, int b, A... args) {
    gridDim.x = g; blockDim.x = b;
    for (int i = 0; i < g; ++i) for (int t = 0; t < b; ++t) { blockIdx.x = i; threadIdx.x = t; k(args...); }
}
"""
SIGNATURES = {       # kernel family -> C parameter list of the launcher
    "stream": "const float* x, float* y, float a, float b, long long n",
    "fma": "const float* x, float* y, float a, float b, long long n, long long chain",
    "branch_by_lane": "const float* x, const unsigned char* f, float* y, float a, float b, float c, "
                      "long long n, long long chain",
    "branch_select": "const float* x, const unsigned char* f, float* y, float a, float b, float c, "
                     "long long n, long long chain",
    "branch_sorted": "const float* x, const unsigned char* f, const long long* o, float* y, float a, float b, float c, "
                     "long long n, long long chain",
}


def _family(name: str) -> str:
    return "stream" if name.startswith("stream") else "fma" if name.startswith("fma") else name


@functools.cache
def _emu_dir() -> str:
    path = tempfile.mkdtemp(prefix="perflab-ch08-emu-")
    atexit.register(shutil.rmtree, path, True)
    return path


@functools.cache
def emulated(name: str):
    """Compile kernel ``name`` as C++ with a sequential launcher; return the ctypes function."""
    from labs.ch08_occupancy_ilp import _cuda
    sig = SIGNATURES[_family(name)]
    args = ", ".join(p.split()[-1].lstrip("*") for p in sig.split(","))
    launcher = f'extern "C" void launch_{name}(int grid_, int block_, {sig})'
    text = PRELUDE + _cuda.source(name) + f"\n{launcher} {{ grid_run({name}, grid_, block_, {args}); }}\n"
    out_dir = _emu_dir()
    stem = f"{name}-{hashlib.sha1(text.encode()).hexdigest()[:10]}"      # a new file per text: dlopen caches by path
    src, lib = os.path.join(out_dir, f"{stem}.cpp"), os.path.join(out_dir, f"{stem}.so")
    with open(src, "w") as f:
        f.write(text)
    subprocess.run(["g++", "-O1", "-std=c++14", "-Wno-unknown-pragmas", "-shared", "-fPIC", "-o", lib, src],
                   check=True, capture_output=True, text=True)
    return getattr(ctypes.CDLL(lib), f"launch_{name}")


def emulated_launch(kern, grid, block, args, shared_mem=0):
    conv = []
    for a in args:
        if isinstance(a, torch.Tensor):
            conv.append(ctypes.c_void_p(a.data_ptr()))
        elif isinstance(a, float):
            conv.append(ctypes.c_float(a))
        else:
            conv.append(ctypes.c_longlong(a))
    emulated(kern)(ctypes.c_int(grid[0]), ctypes.c_int(block[0]), *conv)


@pytest.fixture
def cuda_on_cpu(monkeypatch):
    """Route the labs' CUDA launches to the emulator, with a pretend 3-SM GPU (so grid-stride loops wrap)."""
    if shutil.which("g++") is None:
        pytest.skip("the CUDA emulator needs g++")
    from labs.ch08_occupancy_ilp import _cuda
    monkeypatch.setattr(_cuda, "kernel", lambda name: (_cuda.source(name), name)[1])
    monkeypatch.setattr(_cuda, "launch", emulated_launch)
    monkeypatch.setattr(_cuda, "sm_count", lambda device: 3)


def test_every_lab_has_several_sizes_for_the_panel_slider():
    assert all(len(pl.load(n).SIZES[tier]) >= 2 for n in CHAPTER for tier in ("cpu", "gpu"))


def test_chain_inputs_are_exact_in_float32():
    lab = pl.load("ch08.fma_ilp")
    inputs = lab.make_inputs((10_001, 4096), "cpu", "float32", 3)
    v = inputs["x"].clone()
    for _ in range(4096):
        v = v * inputs["a"] + inputs["b"]                      # float32 steps, as the kernels do
    assert torch.equal(v.double(), lab.reference(**inputs)), "partial sums must be exact"
    with pytest.raises(ValueError, match="multiple of 8"):
        lab.make_inputs((101, 12), "cpu")


# ---- the CUDA C variants, emulated on the CPU (the contract test checks the others) ----------------------

CUDA_CASES = [(name, fn.__name__, i) for name in CHAPTER for fn in pl.load(name).variants
              if info(fn).backend == "cupy" for i in (0, 1)]


@pytest.mark.parametrize("name, variant, size_index", CUDA_CASES)
def test_cuda_variant_matches_reference_on_the_emulator(cuda_on_cpu, name, variant, size_index):
    lab = pl.load(name)
    size = sizes_of(name)[size_index]
    inputs = lab.make_inputs(size, "cpu", "float32", seed=3000 + size_index)
    check = compare(lab.get_variant(variant)(**inputs), lab.reference(**inputs))
    assert check.ok, f"{name}.{variant} (emulated) at size {size}: {check.reason}"


@pytest.mark.parametrize("threads, ilp", [(128, 1), (96, 3), (1024, 8), (64, 16)])
def test_heat_map_settings_are_correct_on_the_emulator(cuda_on_cpu, threads, ilp):
    for name in ("ch08.ilp_stream", "ch08.fma_ilp"):
        lab = pl.load(name)
        fn = lab.module.cuda_setting(threads, ilp)
        assert fn.__name__ == f"cuda_t{threads}_ilp{ilp}" and fn is lab.module.cuda_setting(threads, ilp)
        size = LABS[name][1]
        inputs = lab.make_inputs(size, "cpu", "float32", seed=ilp)
        assert compare(fn(**inputs), lab.reference(**inputs)).ok, f"{name} t{threads} ilp{ilp}"


def test_divergence_layouts_keep_the_answer(cuda_on_cpu):
    from labs.ch08_occupancy_ilp import divergence
    base = divergence.make_inputs((4_001, 16), "cpu", "float32", 5)
    for layout in divergence.LAYOUTS:
        inputs = divergence.with_layout(base, layout)
        assert compare(divergence.cuda_divergent(**inputs), divergence.reference(**inputs)).ok, layout
    uniform = divergence.with_layout(base, "warp-uniform")["flag"][:4_000].view(-1, 32)
    assert bool((uniform.all(1) | ~uniform.any(1)).all()), "warp-uniform flags must agree within each warp"
    with pytest.raises(ValueError, match="not one of"):
        divergence.with_layout(base, "diagonal")


# ---- planted bugs (the plain ones: tests/test_contract.py) -----------------------------------------

def test_emulated_kernel_with_planted_bug_is_caught(cuda_on_cpu, monkeypatch):
    """A stream kernel that drops its tail loop must fail on a non-aligned size."""
    from labs.ch08_occupancy_ilp import _cuda, ilp_stream
    broken = _cuda.STREAM.replace("for (long long i = base + t; i < n; i += stride)", "for (long long i = n; i < n; ++i)")
    monkeypatch.setattr(_cuda, "STREAM", broken)
    emulated.cache_clear()
    try:
        inputs = ilp_stream.make_inputs(4_099, "cpu", "float32", 1)
        assert not compare(ilp_stream.cuda_ilp4(**inputs), ilp_stream.reference(**inputs)).ok
    finally:
        emulated.cache_clear()


# ---- the exercise ------------------------------------------------------------------------------

def test_solution_is_the_lab_variant_and_grades_correct():
    from labs.ch08_occupancy_ilp import ilp_stream, solutions
    assert solutions.triton_ilp16 is ilp_stream.triton_ilp16
    g = pl.grade("ch08.ilp_stream", solutions.triton_ilp16)
    assert g.correct


def test_grader_fails_a_wrong_answer():
    g = pl.grade("ch08.ilp_stream", bugs.ch08_stream_skips_tail)
    assert not g.correct and not g.passed


# ---- sources and sweeps as data ------------------------------------------------------------------

def test_cuda_sources_name_their_kernels():
    from labs.ch08_occupancy_ilp import _cuda
    for name in ["stream_ilp1", "fma_ilp8"] + [f"fma_regs_{f}" for f in _cuda.REG_FLAVOURS]:
        assert f"#define NAME {name}\n" in _cuda.source(name)
    for name in _cuda.BRANCH_KERNELS:
        assert f'extern "C" __global__ void {name}(' in _cuda.source(name)
    assert "#define ILP 8" in _cuda.source("fma_ilp8")
    assert "__launch_bounds__(256, 8)" in _cuda.source("fma_regs_bounds_256_8")
    for bad in ("stream_ilp0", "copy", "fma_regs_bogus"):
        with pytest.raises(ValueError):
            _cuda.source(bad)


def test_sweeps_are_data():
    from labs.ch08_occupancy_ilp import sweep
    for lab in sweep.GRIDS:
        s = sweep.settings(lab)
        g = sweep.GRIDS[lab]
        assert len(s) == len(g["threads"]) * len(g["ilp"]) == 16
        assert [(d.threads, d.ilp) for d in s] == [(t, i) for i in g["ilp"] for t in g["threads"]]
        assert {d.blocks_per_sm for d in s} == {g["blocks_per_sm"]}
    with pytest.raises(ValueError, match="no sweep"):
        sweep.settings("ch08.nothing")


def test_heat_map_reads_the_grid():
    from labs.ch08_occupancy_ilp import sweep
    hm = sweep.HeatMap("ch08.ilp_stream", "gbps", "synthetic")
    for s in sweep.settings("ch08.ilp_stream"):
        t, i = s.threads, s.ilp
        hm.warps[(t, i)] = 2 * t // 32
        hm.values[(t, i)] = min(1000.0, hm.warps[(t, i)] * i * 10.0)    # saturates at warps × ILP = 100
    assert hm.best() == 1000.0
    assert hm.warps_to_reach(0.8) == {1: None, 2: 64, 4: 32, 8: 16}       # ILP 1 tops out at 640
    text = str(hm.table())
    assert "ILP 8" in text and "1,000" in text and "64 warps (100%)" in text
    assert len(hm.figure().data) == 1


def test_model_and_reference_heat_maps():
    from labs.ch08_occupancy_ilp import sweep
    m = sweep.model("ch08.fma_ilp")
    assert m.warps_to_reach(0.99) == {1: 16, 2: 8, 4: 4, 8: 4}          # 4 schedulers × 4-cycle latency / ILP
    s = sweep.model("ch08.ilp_stream", latency_ns=600)
    assert s.values[(128, 1)] == pytest.approx(2 * 8 * 32 * 4 * s_sms() / 600)
    assert "model" in s.source and "assumed" in s.source


def s_sms():
    from perflab import results
    return results.reference_manifest().get("sms") or 132


def test_cpu_ilp_demo_measures_or_explains():
    from labs.ch08_occupancy_ilp import cpu_ilp
    table = cpu_ilp.run(n=4_099, rep_ms=5)
    text = str(table)
    assert ("vs 1 accumulator" in text and "❌" not in text) or "unavailable" in text


# ---- the GPU-only glue, run on a pretend GPU: CPU tensors, the CUDA emulator, CPU timing ----------

@pytest.fixture
def pretend_gpu(cuda_on_cpu, monkeypatch):
    """env() says 'gpu with CuPy'; tensors stay on the CPU, CUDA kernels run on the emulator, timing is
    the CPU timer. This exercises the GPU code paths (sweeps, tables, book check) without a GPU."""
    import perflab.machine as machine
    import perflab.peaks as peaks
    import perflab.runner as runner
    import perflab.timer as timer
    from labs.ch08_occupancy_ilp import _cuda, occupancy
    real_env, cpu_ceilings = machine.env(), peaks.ceilings()
    fake = machine.Env(tier="gpu", device="Pretend GPU", device_key="pretend-gpu", capability=(9, 0), sms=3,
                       memory_gb=1.0, l2_mb=1.0, cpu_cores=real_env.cpu_cores, versions=real_env.versions,
                       tools={**real_env.tools, "cupy": "available", "ncu": "missing: pretend"})
    cpu_bench = lambda fn, **kw: timer.bench(fn, **{**kw, "mode": "cpu", "rep_ms": 2})  # noqa: E731
    monkeypatch.setattr(machine, "env", lambda: fake)
    monkeypatch.setattr(machine, "device", lambda: torch.device("cpu"))
    monkeypatch.setattr(peaks, "ceilings", lambda *a, **k: cpu_ceilings)
    monkeypatch.setattr(runner, "bench", cpu_bench)
    monkeypatch.setattr(pl, "bench", cpu_bench, raising=False)
    monkeypatch.setattr(occupancy, "device_limits", lambda: occupancy.ARCH["sm_90"])
    monkeypatch.setattr(_cuda, "attributes", lambda name: _cuda.KernelAttributes(40, 0, 1024))
    monkeypatch.setattr(_cuda, "max_active_blocks", lambda name, threads, shared_mem=0: 2048 // threads)
    return fake


def test_counter_view_is_data():
    from labs.ch08_occupancy_ilp import profile
    issue = profile.METRICS["warp-instr / scheduler / cycle"]
    cases = profile.CASES[:2]
    v = profile.CounterView(cases, profile.METRICS, "Pretend GPU",
                            {"ch08.fma_ilp.cuda_ilp1": {issue: 0.31}, "ch08.fma_ilp.cuda_ilp8": {issue: 0.96}})
    assert [r[:3] for r in v.table().rows] == [["fma_ilp.cuda_ilp1", "fma_ilp1", "0.31"],
                                               ["fma_ilp.cuda_ilp8", "fma_ilp8", "0.96"]]
    off = profile.CounterView(cases, profile.METRICS, "Pretend GPU", unavailable="no ncu")
    assert "unavailable: no ncu" in str(off)


def test_gpu_paths_on_a_pretend_gpu(pretend_gpu):
    from labs.ch08_occupancy_ilp import book_check, divergence, profile, registers, sweep
    maps = [sweep.heatmap(lab, size=LABS[lab][1]) for lab in sweep.GRIDS]
    for hm in maps:
        assert hm.source == "measured on Pretend GPU"
        assert all(v and v > 0 for v in hm.values.values()), f"{hm.lab}: a cell failed its check"
        assert hm.regs[1] == (40, "driver, sm_90") and "ILP 8 · 40 regs" in str(hm.table())
    assert "implies a loaded memory latency" in str(maps[0].table())
    runs = [pl.run(name, size=LABS[name][1], rep_ms=2) for name in ("ch08.fma_ilp", "ch08.divergence")]
    assert all(r.status == "timed" for run in runs for r in run.rows if r.name.startswith("cuda_"))
    text = str(book_check.table(runs, maps, ncu_issue=0.97))
    assert "stream " in text and "FMA " in text and "0.97 (ncu)" in text and "the sorted time" in text
    lb = str(registers.launch_bounds_table())
    assert "Pretend" not in lb and "40" in lb and "driver columns: the kernels as loaded" in lb
    assert "unavailable" in str(profile.view())                     # no ncu on the pretend GPU
    layouts = str(divergence.layouts(size=(2_003, 16), rep_ms=2))
    assert "vs lane-random" in layouts and "❌" not in layouts
