"""ch10.tma_matmul: the lab shape, the TMA kernel correct in the Triton interpreter (CPU) or compiled (sm_90) at
sizes that leave partial tiles, TMA's rules refused with a fix, the sm_90 skip, a planted bug caught, and
the kernel compiling for sm_90 offline with TMA copies and wgmma in its PTX (every lab variant at the lab's two
sizes: tests/test_contract.py)."""
from __future__ import annotations

import pytest
import torch

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
from perflab.check import compare
from perflab.runner import availability

from labs.ch10_pipelining import tma_matmul as T
from labs.ch10_pipelining._matmul import Tile

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
HOPPER = DEVICE == "cuda" and torch.cuda.get_device_capability() >= (9, 0)
KERNEL_HERE = DEVICE == "cpu" or HOPPER          # the interpreter, or a GPU with TMA
ODD = (45, 24, 88)                               # M aligned to nothing; N, K multiples of 8 (TMA's rule), not 16


def inputs(size, seed):
    return T.make_inputs(size, DEVICE, "bfloat16", seed)


def test_lab_shape_and_sizes():
    lab = pl.load("ch10.tma_matmul")
    assert lab.variant_names() == ["stages_3", "tma_persistent", "tma_persistent_ws", "torch_matmul"]
    for m, n, k in [*lab.SIZES["gpu"], *lab.SIZES["cpu"]]:
        assert (n * 2) % 16 == 0 and (k * 2) % 16 == 0, "TMA rows must be 16-byte aligned"
        assert m % 16, "M must leave a partial tile"
    assert pl.load("ch10.stages").SIZES["gpu"][0] == lab.SIZES["gpu"][0], "same default shape as the stages lab"


def test_tma_variants_need_sm90():
    for fn in (T.tma_persistent, T.tma_persistent_ws):
        runs, _, why = availability(fn, pl.env())
        assert runs == HOPPER
        if not HOPPER:
            assert why == "needs sm_90"


@pytest.mark.skipif(not KERNEL_HERE, reason="TMA needs sm_90; this GPU is older")
@pytest.mark.parametrize("size", [(67, 40, 56), ODD, (5, 8, 8)])
@pytest.mark.parametrize("warp_specialize", [False, True])
def test_kernel_matches_reference(size, warp_specialize):
    x = inputs(size, seed=7)
    tile = Tile(32, 32, 16, 4) if DEVICE == "cpu" else None
    out = T.tma_matmul(**x, warp_specialize=warp_specialize, tile=tile)
    check = compare(out, T.reference(**x), "bfloat16")
    assert check.ok, check.reason


@pytest.mark.skipif(not KERNEL_HERE, reason="TMA needs sm_90; this GPU is older")
@pytest.mark.parametrize("programs, group_m", [(1, 1), (3, 2), (64, 8)])
def test_any_grid_covers_every_tile(programs, group_m):
    """One program doing every tile, fewer programs than tiles, more programs than tiles."""
    x = inputs((101, 56, 40), seed=3)
    tile = Tile(16, 16, 16, 4) if DEVICE == "cpu" else Tile(64, 64, 32, 4)
    out = T.tma_matmul(**x, programs=programs, group_m=group_m, tile=tile)
    assert compare(out, T.reference(**x), "bfloat16").ok


def test_tma_rules_are_errors_that_name_the_fix():
    a = torch.randn(8, 12).bfloat16()
    with pytest.raises(ValueError, match="multiple of 8"):
        T.check_operands(a, torch.randn(12, 16).bfloat16())          # K = 12: 24-byte rows
    with pytest.raises(ValueError, match="contiguous"):
        T.check_operands(torch.randn(8, 16).bfloat16(), torch.randn(24, 16).bfloat16().t())
    with pytest.raises(TypeError, match="share a dtype"):
        T.check_operands(torch.randn(8, 16).bfloat16(), torch.randn(16, 8).half())
    with pytest.raises(ValueError, match=r"\(M, K\) @ \(K, N\)"):
        T.check_operands(torch.randn(8, 16).bfloat16(), torch.randn(8, 16).bfloat16())


@pytest.mark.skipif(not KERNEL_HERE, reason="TMA needs sm_90; this GPU is older")
def test_planted_bug_is_caught():
    """The kernel run with K one short (the last K column never multiplied): the same gate rejects it."""
    x = inputs(ODD, seed=5)
    tile = Tile(32, 32, 16, 4) if DEVICE == "cpu" else None
    a, b = x["a"][:, :-8].contiguous(), x["b"][:-8].contiguous()   # drop one 8-wide K slab (keeps TMA alignment)
    assert not compare(T.tma_matmul(a, b, tile=tile), T.reference(**x), "bfloat16").ok


def test_compiles_for_sm90_offline():
    got = T.offline(90)
    if got is None:
        pytest.skip("this Triton cannot compile for sm_90 offline")
    plain, ws = got.rows
    assert plain.tma_copies > 0 and plain.wgmma > 0, "TMA loads and wgmma must be in the sm_90 PTX"
    assert plain.shared <= 232_448, "must fit an sm_90 block's 227 KB"
    assert ws.tma_copies > 0
    text = str(T.offline_table())
    assert "sm_90" in text and ("identical PTX" in text or "PTX differs" in text)
