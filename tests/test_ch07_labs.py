"""Chapter 7 labs: the solution, CUDA sources, byte counts (shape, every variant at two sizes and planted bugs:
tests/test_contract.py)."""
from __future__ import annotations

import pytest

import perflab as pl


def test_solution_is_the_lab_variant():
    from labs.ch07_memory_access import aos_soa, saxpy2d, solutions
    assert solutions.row_walk is saxpy2d.row_walk and solutions.triton_soa is aos_soa.triton_soa


def test_cuda_sources_declare_every_kernel():
    from labs.ch07_memory_access import _cuda
    for name, source in _cuda.SOURCES.items():
        assert f'extern "C" __global__ void {name}(' in source
    with pytest.raises(ValueError, match="no CUDA kernel"):
        _cuda.kernel("copy_nothing")


def test_bytes_and_flops_are_the_minimum():
    copy, mm, aos = pl.load("ch07.copy_ladder"), pl.load("ch07.matmul_ladder"), pl.load("ch07.aos_soa")
    assert copy.bytes(1_000_003, "float32") == 8 * 1_000_003 and copy.flops(1_000_003, "float32") == 0
    assert mm.flops(131, "float32") == 2 * 131 ** 3 and mm.bytes(131, "float32") == 3 * 131 * 131 * 4
    assert aos.bytes(100_003, "float32") == 9 * 4 * 100_003


@pytest.mark.skipif(pl.env().tier != "cpu", reason="checks the cpu tier's names (a GPU keeps the cuBLAS rows)")
def test_cpu_blas_row_says_what_ran_and_gpu_names_stay():
    from perflab import results
    lab = pl.load("ch07.matmul_ladder")
    run = pl.run(lab, size=67, variants=["cublas_fp32", "cublas_tf32", "cpu_blas_fp32"], rep_ms=5, record=False)
    timed = [r.name for r in run.rows if r.measurement]
    assert timed == ["cpu_blas_fp32"], f"a CPU row must not be named after cuBLAS: {timed}"
    assert all("needs cuda" in r.why for r in run.rows if r.name.startswith("cublas"))
    recorded = {r.variant for r in results.reference("ch07.matmul_ladder", results.reference_device())}
    assert {"cublas_fp32", "cublas_tf32"} <= recorded <= set(lab.variant_names())    # reference records still match


def test_ladder_chart_has_a_bar_per_variant_on_a_log_axis():
    from labs.ch07_memory_access import ladder_chart
    lab = pl.load("ch07.copy_ladder")
    run = pl.run(lab, size=33_331, rep_ms=5, record=False)
    bars = ladder_chart.bars(run)
    assert [b.variant for b in bars] == lab.variant_names()
    assert any(b.here for b in bars) and all(b.status for b in bars)
    assert all(b.reference for b in bars), "every copy variant has a reference GPU bar beside this machine's"
    fig = ladder_chart.figure(run)
    assert fig.layout.yaxis.type == "log" and len(fig.data) == 2
    mine = fig.data[0]
    assert list(mine.x) == lab.variant_names()
    assert all(t and t != "not timed here" for y, t in zip(mine.y, mine.text) if y), "a timed bar shows its value"
    text = ladder_chart.text(run)
    assert all(name in text for name in lab.variant_names())
    with pytest.raises(ValueError, match="metric"):
        ladder_chart.bars(run, "sectors")
