"""Warp-level memory models for machines without a GPU: sectors per request, bank conflicts, tile reuse.

They count what the hardware would touch for one warp's request, so the chapter's numbers
(4 sectors for an aligned float32 warp, 32-way conflicts in a 32x32 tile, 32x fewer loads with
32x32 tiles) can be reproduced and varied on any laptop.

    >>> sectors_per_request(warp_addresses("contiguous"))
    4
    >>> transpose_tile_conflicts(tile=32, pad=0), transpose_tile_conflicts(tile=32, pad=1)
    (32, 1)
"""
from __future__ import annotations

import random
from perflab.validate import calculator_inputs

PATTERNS = ("contiguous", "misaligned", "strided", "random", "broadcast")


def warp_addresses(pattern: str, *, elem_bytes: int = 4, offset_bytes: int = 0, stride: int = 1,
                   lanes: int = 32, span_elems: int = 1 << 20, seed: int = 0) -> list[int]:
    """Byte addresses that the ``lanes`` threads of one warp load, for a named access pattern.

    pattern:      "contiguous"  lane i reads element i
                  "misaligned"  lane i reads element i, the whole warp shifted by offset_bytes
                                (default 4 when offset_bytes is 0)
                  "strided"     lane i reads element i * stride
                  "random"      lane i reads a random element in [0, span_elems)
                  "broadcast"   every lane reads element 0
    elem_bytes:   bytes per element (4 for float32, 16 for float4).
    offset_bytes: added to every address (the start of the array is 256-byte aligned).

    >>> warp_addresses("contiguous")[:3], warp_addresses("strided", stride=2)[:3]
    ([0, 4, 8], [0, 8, 16])
    >>> warp_addresses("misaligned")[:2]
    [4, 8]
    """
    if pattern not in PATTERNS:
        raise ValueError(f"pattern {pattern!r} is not one of {PATTERNS}")
    if pattern == "misaligned" and offset_bytes == 0:
        offset_bytes = 4
    if pattern in ("contiguous", "misaligned"):
        index = list(range(lanes))
    elif pattern == "strided":
        index = [i * stride for i in range(lanes)]
    elif pattern == "random":
        rng = random.Random(seed)
        index = [rng.randrange(span_elems) for _ in range(lanes)]
    else:
        index = [0] * lanes
    return [offset_bytes + i * elem_bytes for i in index]


def sectors_per_request(byte_addresses: list[int], sector: int = 32, access_bytes: int = 4) -> int:
    """Distinct ``sector``-byte sectors that one warp request touches (each lane reads access_bytes).

    An aligned float32 warp reads 128 bytes: 4 sectors. Shift it by 4 bytes and it straddles 5;
    stride 2 spreads it over 256 bytes: 8; lanes 32 bytes or more apart need a sector each: 32.

    >>> sectors_per_request(warp_addresses("contiguous"))
    4
    >>> sectors_per_request(warp_addresses("misaligned", offset_bytes=4))
    5
    >>> sectors_per_request(warp_addresses("strided", stride=2))
    8
    >>> sectors_per_request(warp_addresses("strided", stride=8))
    32
    >>> sectors_per_request(warp_addresses("contiguous", elem_bytes=16), access_bytes=16)   # float4
    16
    """
    touched = set()
    for a in byte_addresses:
        touched.update(range(a // sector, (a + access_bytes - 1) // sector + 1))
    return len(touched)


def bank_conflict_degree(byte_addresses: list[int], banks: int = 32, word: int = 4) -> int:
    """How many shared-memory wavefronts one warp access needs: the most distinct words in one bank.

    bank = (address // word) % banks. Lanes reading the SAME word share it (a broadcast), so only
    distinct words in one bank conflict. 1 means conflict-free. Models word-sized (4-byte) accesses.

    >>> bank_conflict_degree(warp_addresses("contiguous"))           # 32 lanes, 32 banks
    1
    >>> bank_conflict_degree(warp_addresses("broadcast"))            # one word for everyone
    1
    >>> bank_conflict_degree(warp_addresses("strided", stride=2))    # two words per bank
    2
    >>> bank_conflict_degree(warp_addresses("strided", stride=32))   # every lane in bank 0
    32
    """
    words_in_bank: dict[int, set[int]] = {}
    for a in byte_addresses:
        w = a // word
        words_in_bank.setdefault(w % banks, set()).add(w)
    return max((len(ws) for ws in words_in_bank.values()), default=0)


def transpose_tile_conflicts(tile: int = 32, pad: int = 0, lanes: int = 32) -> int:
    """Conflict degree when a warp reads one COLUMN of a float32 ``tile x (tile + pad)`` shared array.

    Lane i reads row i, so neighbouring lanes are ``tile + pad`` words apart. With tile = 32 and no
    padding that is 32 words: one bank for all lanes, a 32-way conflict. One padding word per row
    makes the stride 33, coprime with 32 banks, and every lane lands in its own bank.

    >>> transpose_tile_conflicts(32, 0), transpose_tile_conflicts(32, 1), transpose_tile_conflicts(64, 0)
    (32, 1, 32)
    """
    row_words = tile + pad
    # with fewer rows than lanes, the next lanes continue in the next column
    addresses = [((i % tile) * row_words + i // tile) * 4 for i in range(lanes)]
    return bank_conflict_degree(addresses)


def matmul_global_loads(n: int, tile: int = 1) -> int:
    """Global-memory element loads of an n x n x n matmul with ``tile x tile`` blocks of C.

    tile = 1 is the naive kernel: every output reads a row of A and a column of B, 2n^3 loads.
    A T x T tile loads each A and B element once per tile, so T threads share it: 2n^3 / T loads.
    Edge tiles are counted whole (padded), as a kernel that loads zeros there does.

    >>> matmul_global_loads(1024, 1) == 2 * 1024 ** 3
    True
    >>> matmul_global_loads(1024, 1) // matmul_global_loads(1024, 32)
    32
    """
    if n < 1 or tile < 1:
        raise ValueError(f"n and tile must be positive, got n={n}, tile={tile}")
    tiles = -(-n // tile)                       # tiles per side, the last one padded
    # tiles^2 output blocks, each walking `tiles` steps of k, each step loading a T x T tile of A and of B
    return 2 * tiles ** 3 * tile * tile


@calculator_inputs(positive="stride elem_bytes")
def explain_request(pattern: str = "contiguous", stride: int = 1, offset_bytes: int = 0,
                    elem_bytes: int = 4) -> str:
    """One line for the calculator widget: sectors touched, bytes fetched vs used, efficiency.

    >>> explain_request("strided", stride=2)
    'strided, stride 2, 4-B elements: 8 sectors (256 B fetched for 128 B used) → 50% efficiency'
    """
    addrs = warp_addresses(pattern, elem_bytes=elem_bytes, offset_bytes=offset_bytes, stride=stride)
    sectors = sectors_per_request(addrs, access_bytes=elem_bytes)
    used = len(set(addrs)) * elem_bytes
    what = f"{pattern}, stride {stride}" if pattern == "strided" else pattern
    shift = f", shifted {offset_bytes} B" if offset_bytes else ""
    return (f"{what}{shift}, {elem_bytes}-B elements: {sectors} sectors ({32 * sectors} B fetched for "
            f"{used} B used) → {used / (32 * sectors):.0%} efficiency")


def stride_table(strides=(1, 2, 4, 8, 16, 32)):
    """Sectors per warp request and efficiency for float32 lanes ``stride`` elements apart."""
    from perflab.table import Table
    rows = []
    for s in strides:
        n = sectors_per_request(warp_addresses("strided", stride=s))
        rows.append([str(s), str(n), f"{128 / (32 * n):.0%}", f"{32 * n / 128:.0f}×"])
    return Table(["stride (floats)", "sectors / request", "efficiency", "bytes fetched vs coalesced"], rows,
                 title="One warp of float32 loads, by the distance between neighbouring lanes")


@calculator_inputs(positive="tile")
def explain_tile(tile: int = 32, pad: int = 0) -> str:
    """One line: the bank-conflict degree of reading a column of a shared tile[tile][tile + pad].

    >>> explain_tile(32, 1)
    'tile[32][33]: a column read is 1-way (conflict-free): 1 shared-memory pass per warp'
    """
    degree = transpose_tile_conflicts(tile, pad)
    kind = "conflict-free" if degree == 1 else "serialized"
    return (f"tile[{tile}][{tile + pad}]: a column read is {degree}-way ({kind}): "
            f"{degree} shared-memory pass{'es' if degree > 1 else ''} per warp")
