"""Batched atomics: how many items one grab of the work counter hands out, from 1 to 32,768."""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU

from labs.ch12_graphs_scheduling import skewed_queue as sq

TITLE = "Batched atomics: items per grab of one work counter, 1 (a lane at a time) to 32,768 (32 tiles)"
# the skewed lab's inputs; the default GPU size has light items, so grabbing work is a visible share
SIZES = {"gpu": [(4_194_319, 9, 32), (2_097_169, 257, 32)], "cpu": [(5_003, 3, 1), (2_053, 2, 1)]}
DTYPES = ["float32"]
make_inputs, reference, bytes, flops = sq.make_inputs, sq.reference, sq.bytes, sq.flops


@pl.variant(backend="triton", note="every lane takes 1 item per atomic: one atomic per item, all on one address")
def lane_1(x, cost, a, b, unit):
    return sq.lane_queue(x, cost, a, b, unit, items=1)


@pl.variant(backend="triton", note="every lane takes 4 neighbouring items per atomic")
def lane_4(x, cost, a, b, unit):
    return sq.lane_queue(x, cost, a, b, unit, items=4)


@pl.variant(backend="triton", note="every lane takes 16 items per atomic (the book's 'batch of 8 or 16')")
def lane_16(x, cost, a, b, unit):
    return sq.lane_queue(x, cost, a, b, unit, items=16)


@pl.variant(backend="triton", note="a program takes one 1,024-item tile per atomic (the dynamic_queue variant)")
def tile_1(x, cost, a, b, unit):
    return sq.dynamic(x, cost, a, b, unit, chunk=1)


@pl.variant(backend="triton", note="a program takes 4 tiles (4,096 items) per atomic")
def tiles_4(x, cost, a, b, unit):
    return sq.dynamic(x, cost, a, b, unit, chunk=4)


@pl.variant(backend="triton", note="a program takes 32 tiles (32,768 items) per atomic: few grabs, a coarse tail")
def tiles_32(x, cost, a, b, unit):
    return sq.dynamic(x, cost, a, b, unit, chunk=32)


variants = [lane_1, lane_4, lane_16, tile_1, tiles_4, tiles_32]
