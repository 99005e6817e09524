"""The order tiles are handed out (GROUP_M bands vs row by row) and a persistent grid, on a wide matmul."""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU

from labs.ch10_pipelining._matmul import (DTYPES, bytes, flops, make_inputs, matmul,  # noqa: F401
                                          reference, torch_matmul)

TITLE = "C = A @ B in bf16, few rows × a wide B: tile order GROUP_M 1 → 16 and a persistent grid, vs torch.matmul"
# (M, N, K): 1,025 tokens times a 8,192 × 16,384 weight (an MLP up-projection). B is 268 MB, far more than
# any L2, and N spans 64 tile columns: row-by-row order makes each wave of programs read all of B.
SIZES = {"gpu": [(1_025, 16_384, 8_192), (2_049, 16_384, 4_096)],
         "cpu": [(133, 101, 75), (67, 45, 113)]}
STAGES = 3


@pl.variant(backend="triton", note="GROUP_M=1: tiles handed out row by row")
def row_major(a, b):
    return matmul(a, b, stages=STAGES, group_m=1, key="row_major")


@pl.variant(backend="triton", note="GROUP_M=4: bands of 4 tile rows, walked column by column")
def grouped_4(a, b):
    return matmul(a, b, stages=STAGES, group_m=4, key="grouped_4")


@pl.variant(backend="triton", note="GROUP_M=8: bands of 8 tile rows (stages_3's order)")
def grouped_8(a, b):
    return matmul(a, b, stages=STAGES, group_m=8, key="grouped_8")


@pl.variant(backend="triton", note="GROUP_M=16: bands of 16 tile rows")
def grouped_16(a, b):
    return matmul(a, b, stages=STAGES, group_m=16, key="grouped_16")


@pl.variant(backend="triton", note="grid = one program per SM, each loops over tiles in GROUP_M=8 order")
def persistent_8(a, b):
    return matmul(a, b, stages=STAGES, group_m=8, persistent=True, key="persistent_8")


variants = [row_major, grouped_4, grouped_8, grouped_16, persistent_8, torch_matmul]
