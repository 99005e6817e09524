"""The access visualiser counts what a warp request costs: coalesced 4 sectors, stride-32 32, tails fewer."""
import pytest
import torch
import triton
import triton.language as tl

from perflab import access_map as am


@triton.jit
def _copy(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(y_ptr + offs, tl.load(x_ptr + offs, mask=mask), mask=mask)


@triton.jit
def _strided_read(x_ptr, y_ptr, n, S: tl.constexpr, BLOCK: tl.constexpr):
    i = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)        # lane i reads x[i*S], writes y[i]
    mask = i * S < n
    tl.store(y_ptr + i, tl.load(x_ptr + i * S, mask=mask), mask=mask)


def test_coalesced_float32_copy_costs_4_sectors_per_request_both_ways():
    x = torch.randn(256)
    y = torch.empty_like(x)
    m = am.trace(_copy, (4,), x, y, 256, BLOCK=64)
    assert torch.equal(y, x), "the traced launch still does its work"
    assert m.sectors_per_request() == {("load", "x_ptr"): 4.0, ("store", "y_ptr"): 4.0}
    c = m.counts()[("load", "x_ptr")]
    assert c["requests"] == 8 and c["lanes"] == 256 and c["useful_bytes"] == 1024


def test_stride_32_float32_reads_cost_one_sector_per_lane():
    x = torch.randn(32 * 64)
    m = am.trace(_strided_read, (1,), x, torch.empty(64), 32 * 64, S=32, BLOCK=64)
    spr = m.sectors_per_request()
    assert spr[("load", "x_ptr")] == 32.0 and spr[("store", "y_ptr")] == 4.0
    m2 = am.trace(_strided_read, (1,), x, torch.empty(64), 2 * 64, S=2, BLOCK=64)
    assert m2.sectors_per_request()[("load", "x_ptr")] == 8.0     # the book's stride 2: twice the sectors


def test_a_masked_tail_issues_fewer_sectors_and_skips_empty_requests():
    n = 64 + 5                     # the second program has 5 live lanes out of 64
    m = am.trace(_copy, (2,), torch.randn(n), torch.empty(n), n, BLOCK=64)
    per_program = {a.program[0]: a.requests() for a in m.accesses if a.op == "load"}
    assert per_program[0] == [4, 4]
    assert per_program[1] == [1]                # 5 floats (20 bytes) in one sector; lanes 32..63 issue nothing
    assert m.sectors_per_request()[("load", "x_ptr")] == pytest.approx(9 / 3)


def test_the_lab_kernels_show_the_ladder():
    from labs.ch07_memory_access import copy_ladder as cl
    n = 1000
    x, y = torch.randn(n), torch.empty(n)
    m = -(-n // 32)
    strided = am.trace(cl._strided_copy_kernel, (triton.cdiv(m * 32, 256),), x, y, n, m, S=32, BLOCK=256)
    coalesced = am.trace(cl._copy_kernel, (triton.cdiv(n, 256),), x, y, n, BLOCK=256)
    assert strided.sectors_per_request()[("load", "x_ptr")] > 24        # tails make a few requests cheaper
    assert coalesced.sectors_per_request()[("load", "x_ptr")] <= 4.0


def test_views_and_bad_input():
    m = am.trace(_copy, (2,), torch.randn(69), torch.empty(69), 69, BLOCK=64)
    text = m.text()
    assert "program   1 " in text and "sectors/request" in text
    row1 = next(line for line in text.splitlines() if line.startswith("  program   1"))
    assert "B" not in row1 and set(row1.split()[-1]) <= {"L", "S", "."}
    fig = am.figure({"copy": m})
    assert {t.name for t in fig.data} == {"load", "store"}
    titles = [a.text for a in fig.layout.annotations]
    assert "copy · x_ptr · sectors/request: load 3.0" in titles      # 4 + 1 + 4 over 3 requests
    with pytest.raises(ValueError, match="grid is a tuple"):
        am.trace(_copy, (0,), torch.randn(4), torch.empty(4), 4, BLOCK=4)
    with pytest.raises(TypeError, match="@triton.jit kernel"):
        am.trace(lambda x: x, (1,), torch.randn(4))


def test_summary_puts_launches_side_by_side():
    x = torch.randn(32 * 64)
    maps = {"stride 32": am.trace(_strided_read, (1,), x, torch.empty(64), 32 * 64, S=32, BLOCK=64),
            "coalesced": am.trace(_copy, (1,), x, torch.empty(64), 64, BLOCK=64)}
    rows = {(r[0], r[1]): r for r in am.summary(maps).rows}
    assert rows[("stride 32", "load x_ptr")][5] == "32.0" and rows[("coalesced", "load x_ptr")][5] == "4.0"
    assert rows[("stride 32", "load x_ptr")][6] == "12%" and rows[("coalesced", "load x_ptr")][6] == "100%"


def _plus_one(v):
    return v + 1


_plus_one_compiled = triton.runtime.jit.JITFunction(_plus_one)    # a helper as @triton.jit makes it on a GPU


@triton.jit
def _copy_plus_one(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(y_ptr + offs, _plus_one_compiled(tl.load(x_ptr + offs, mask=mask)), mask=mask)


def test_a_kernel_calling_a_compiled_helper_is_traced_and_the_helper_put_back():
    """On a GPU the labs' helpers (ch09 _l2norm_row) are compiled JITFunctions; the trace interprets them."""
    x = torch.randn(100)
    y = torch.empty_like(x)
    m = am.trace(_copy_plus_one, (2,), x, y, 100, BLOCK=64)
    assert torch.equal(y, x + 1) and m.sectors_per_request()[("load", "x_ptr")] > 0
    assert isinstance(globals()["_plus_one_compiled"], triton.runtime.jit.JITFunction)


def test_a_lab_kernel_is_traced_as_on_a_gpu_where_triton_language_is_compiled_too():
    """On a GPU, triton.language's own @jit functions (tl.sum in ch09's row helper) are compiled as well:
    the H100 run at 231c90c failed here. The script imports everything as a GPU machine does."""
    from labtests import lower_offline
    out = lower_offline("""
import torch, triton.language as tl
from triton.runtime.jit import JITFunction
from perflab import access_map
from labs.ch09_arithmetic_intensity import l2norm
assert isinstance(tl.sum, JITFunction) and isinstance(l2norm._l2norm_row, JITFunction)
x = torch.randn(4, 37)
y = torch.empty_like(x)
m = access_map.trace(l2norm._l2norm_kernel, (4,), x, y, 4, 37, x.stride(0), 1e-6, BLOCK=64, ONE_PASS=True,
                     PERSISTENT=False)
assert torch.allclose(y, torch.nn.functional.normalize(x, dim=1), atol=1e-5)
assert isinstance(tl.sum, JITFunction) and isinstance(tl.tensor.sum, JITFunction), "put back after the trace"
print(m.sectors_per_request()[("load", "x_ptr")])
""")
    assert float(out.split()[-1]) > 0
