"""Software pipelining in a Triton matmul: the same tile with 1, 2, 3 and 4 K slices in flight, vs cuBLAS."""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU

from labs.ch10_pipelining._matmul import (DTYPES, bytes, flops, make_inputs, matmul,  # noqa: F401
                                          reference, torch_matmul)

TITLE = "C = A @ B in bf16: one Triton tile, num_stages 1 → 4 (K slices in flight), vs torch.matmul"
# (M, N, K). M is one past a tile multiple, so the last tile row is almost empty and a wrong edge fails;
# N and K stay multiples of 16 so every row is 16-byte aligned (vector loads, cp.async, cuBLAS's fast path).
SIZES = {"gpu": [(4_097, 4_096, 4_096), (2_049, 2_048, 2_048), (3_073, 3_072, 3_072)],
         "cpu": [(131, 97, 75), (67, 45, 113)]}
OPTIONS = pl.LabOptions(target=0.7)    # the exercise: reach 70% of the measured bf16 matmul ceiling (cuBLAS at 8192²)


@pl.variant(backend="triton", note="num_stages=1: load a K slice, wait, multiply (no overlap)")
def stages_1(a, b):
    return matmul(a, b, stages=1, key="stages_1")


@pl.variant(backend="triton", note="num_stages=2: double buffering, the next slice loads during the multiply")
def stages_2(a, b):
    return matmul(a, b, stages=2, key="stages_2")


@pl.variant(backend="triton", note="num_stages=3: two slices in flight while one is multiplied")
def stages_3(a, b):
    return matmul(a, b, stages=3, key="stages_3")


@pl.variant(backend="triton", note="num_stages=4: three slices in flight; more shared memory per block")
def stages_4(a, b):
    return matmul(a, b, stages=4, key="stages_4")


variants = [stages_1, stages_2, stages_3, stages_4, torch_matmul]
