"""Chapter 2: the grader, sweep sizes, calculators by hand (variants, planted bugs: tests/test_contract.py)."""
from __future__ import annotations

import pytest

import perflab as pl
from labtests import lower_offline
from labs.ch02_hardware import book_check, calculators as calc, sweep
from labs.ch02_hardware import cache_ladder as cl


def test_grader_passes_solution_and_starter_shape():
    from labs.ch02_hardware.solutions import torch_expand_sum
    assert pl.grade("ch02.cache_ladder", torch_expand_sum).correct


def test_sweep_sizes_are_data_and_unaligned():
    assert sweep.GPU_SWEEP[0] == 64 * 1024 and sweep.GPU_SWEEP[-1] == 4 * 1024 ** 3
    for tier, sizes in (("gpu", sweep.GPU_SWEEP), ("cpu", sweep.CPU_SWEEP)):
        for b in sizes:
            n, passes = sweep.size_of(b, tier)
            assert n % 16 and passes >= 1 and n * 4 * passes >= min(b, sweep.TARGET[tier]) - 12 * passes
    assert sweep.size_of(4 * 1024 ** 3, "gpu")[1] == 1 and sweep.size_of(64 * 1024, "gpu")[1] == 16384


def test_bytes_and_passes():
    assert cl.bytes((1000, 3)) == 12_000 and cl.passes_for(100, 1000) == 10 and cl.passes_for(10**9, 1) == 1


def test_link_calculator():
    assert calc.move_seconds(64e9, "PCIe Gen5 x16") == pytest.approx(1.0)
    assert calc.move_seconds(1.8e12, "NVLink 5 (NVL72, per GPU)") == pytest.approx(1.0 + 1.5e-6)
    assert calc.move_seconds(0, "InfiniBand (per GPU, low)") == pytest.approx(7.5e-6)
    assert "1.11 µs" in calc.explain_move(1.0, "NVLink 4 (Hopper, H100)")


def test_nvl72_arithmetic():
    r = calc.nvl72()
    assert r.nvlink_per_gpu_gbps == 1800 and r.rack_nvlink_tbps == pytest.approx(129.6)
    assert r.rack_hbm_gb == 13_824                                                         # L285


class _C:
    device = "test"
    def __init__(self, tf): self.matmul_tflops = tf; self.datasheet = {}


def test_precision_table_ratios():
    t = calc.precision_table(_C({"float16": 500.0, "float8": 900.0}), None, {"float16": 989, "float8": 1979})
    row = {r[0]: r for r in t.rows}
    assert row["float8"][2] == "1.80×" and row["float8"][6] == "2.00×" and row["tf32"][1] == "—"
    assert book_check._ratio(_C({"float16": 500.0, "float8": 900.0})) == pytest.approx(1.8)


def test_l2_cliff_from_records():
    from perflab.results import Record
    recs = [Record(chapter="ch02", lab="ch02.cache_ladder", variant="triton_rotating_read", size=[b // 4 - 3, 1],
                   dtype="float32", correct=True, gbps=g)
            for b, g in ((1 << 20, 12000), (32 << 20, 10000), (128 << 20, 4000), (4 << 30, 3900))]
    assert book_check.l2_cliff(recs) == (32 << 20, 3900)


def test_book_check_table():
    text = str(book_check.table())
    assert "129.6 TB/s" in text and "500 TB/s" in text and "632" in text


TRITON_OFFLINE = r"""
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from triton.runtime.jit import JITFunction
from labs.ch02_hardware import cache_ladder as cl
fn = cl._rotating_read_kernel
fn = fn if isinstance(fn, JITFunction) else JITFunction(fn.fn)
sig = {"x_ptr": "*fp32", "part_ptr": "*fp32", "n": "i32", "nchunks": "i32", "total": "i32", "P": "i32",
       "BLOCK": "constexpr"}
for arch in (75, 90):
    k = triton.compile(ASTSource(fn=fn, signature=sig, constexprs={"BLOCK": cl.BLOCK}),
                       target=GPUTarget("cuda", arch, 32), options={"num_warps": 4})
    print(arch, k.n_regs if hasattr(k, "n_regs") else "?", "ld.global" in k.asm["ptx"])
"""


def test_triton_read_lowers_offline_for_sm75_and_sm90():
    out = lower_offline(TRITON_OFFLINE)
    assert out.count("True") == 2, out
