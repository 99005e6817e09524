"""Chapter 7 labs: the solution, CUDA sources, byte counts (shape, every variant at two sizes and planted bugs:
tests/test_contract.py)."""
from __future__ import annotations

import pytest

import perflab as pl


def test_solution_is_the_lab_variant():
    from labs.ch07_memory_access import saxpy2d, solutions
    assert solutions.row_walk is saxpy2d.row_walk


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
