"""Chapter 7 simulators: the book's sector, bank-conflict and tile-reuse numbers (their doctests: make test's
`pytest --doctest-modules labs`)."""
from __future__ import annotations

import pytest

from labs.ch07_memory_access import simulators as sim


@pytest.mark.parametrize("pattern, kwargs, sectors", [
    ("contiguous", {}, 4),                         # aligned float32 warp: 128 B
    ("misaligned", {"offset_bytes": 4}, 5),        # shifted by one float: straddles a fifth sector
    ("misaligned", {"offset_bytes": 2}, 5),        # even a 2-byte shift
    ("strided", {"stride": 2}, 8),                 # the book's stride-2 copy
    ("strided", {"stride": 4}, 16),
    ("strided", {"stride": 8}, 32),                # lanes 32 B apart: a sector each
    ("strided", {"stride": 32}, 32),
    ("broadcast", {}, 1),
])
def test_sectors_per_request(pattern, kwargs, sectors):
    assert sim.sectors_per_request(sim.warp_addresses(pattern, **kwargs)) == sectors


def test_random_addresses_need_about_a_sector_per_lane():
    assert sim.sectors_per_request(sim.warp_addresses("random", seed=3)) >= 30


def test_float4_warp_reads_512_bytes():
    addresses = sim.warp_addresses("contiguous", elem_bytes=16)
    assert addresses[-1] + 16 == 512
    assert sim.sectors_per_request(addresses, access_bytes=16) == 16


def test_bank_conflicts():
    assert sim.bank_conflict_degree(sim.warp_addresses("contiguous")) == 1
    assert sim.bank_conflict_degree(sim.warp_addresses("broadcast")) == 1          # same word: broadcast
    assert sim.bank_conflict_degree([0, 0, 128, 128]) == 2                          # two words, one bank
    assert sim.bank_conflict_degree(sim.warp_addresses("strided", stride=32)) == 32
    assert sim.bank_conflict_degree(sim.warp_addresses("strided", stride=33)) == 1


def test_transpose_tile():
    assert sim.transpose_tile_conflicts(tile=32, pad=0) == 32
    assert sim.transpose_tile_conflicts(tile=32, pad=1) == 1


def test_matmul_tiling_cuts_loads_by_the_tile_width():
    n = 2048
    assert sim.matmul_global_loads(n, 1) == 2 * n ** 3
    assert sim.matmul_global_loads(n, 32) == 2 * n ** 3 // 32
    assert sim.matmul_global_loads(2053, 32) > 2 * 2053 ** 3 // 32        # padded edge tiles cost extra


def test_errors_name_the_value():
    with pytest.raises(ValueError, match="'diagonal'"):
        sim.warp_addresses("diagonal")
    with pytest.raises(ValueError, match="tile=0"):
        sim.matmul_global_loads(8, 0)
