"""Thread-block clusters: long rows split over 8 blocks, their partial sums combined through a second
kernel (global memory) or inside one cluster through distributed shared memory (sm_90)."""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch
import torch.nn.functional as F

from labs.ch10_pipelining import _cuda
# the same row normalization as ch10.persistent: its inputs, float64 reference and byte/FLOP counts
from labs.ch10_pipelining.persistent import bytes, flops, make_inputs, reference  # noqa: F401

TITLE = ("y[r] = x[r] / ‖x[r]‖ for a few very long rows: 1 block per row, 8 blocks + 2 kernels, "
         "8 blocks in a cluster")
# (rows, cols): 67 rows of a million floats: one block per row would leave half of a 132-SM GPU idle
SIZES = {"gpu": [(67, 500_009), (263, 131_071), (1_031, 32_771)], "cpu": [(13, 20_011), (37, 4_099)]}
DTYPES = ["float32"]
OPTIONS = pl.LabOptions(
    # why the best variant is under the 85% memory gate (shown by perflab report)
    gate_note=(
        'measured on an H100 (2026-12-07): torch_normalize 47% of copy, the cluster (DSMEM) kernel 43%, two '
        'kernels 42%, one block per row 33%. Every variant reads x twice (sum of squares, then scale), and 67 '
        'rows of 2 MB (134 MB) do not stay in the 50 MB L2 between the passes, so three passes move over DRAM '
        'where the gate counts two: 67% is the ceiling of this design. The cluster lesson is the gap it closes '
        'to the two-kernel version, not the gate. Nsight Compute on an H100 (labs.gate_counters, 491d8e4) '
        'confirms the third pass: the DSMEM kernel moves 1.50× the minimum DRAM bytes, at 62% DRAM throughput '
        'and 49% occupancy.'),
)


def _check(x: torch.Tensor) -> tuple[int, int]:
    if x.dim() != 2 or not x.is_contiguous() or x.dtype != torch.float32:
        raise ValueError(f"x must be a contiguous float32 (rows, cols) matrix, got {tuple(x.shape)} {x.dtype}")
    return x.shape


@pl.variant(backend="cupy", needs="cuda", note="one 256-thread block per row: no cooperation, but only `rows` blocks")
def cuda_block_per_row(x):
    rows, cols = _check(x)
    y = torch.empty_like(x)
    _cuda.launch(_cuda.kernel("row_normalize_block"), (rows,), (_cuda.THREADS,), (x, y, rows, cols))
    return y


@pl.variant(backend="cupy", needs="cuda", note="8 blocks per row; partial sums to global memory, a 2nd kernel scales")
def cuda_two_kernels(x):
    rows, cols = _check(x)
    y = torch.empty_like(x)
    partial = torch.empty(rows, _cuda.SPLIT, device=x.device, dtype=torch.float32)
    grid, block = (_cuda.SPLIT, rows), (_cuda.THREADS,)
    _cuda.launch(_cuda.kernel("row_sumsq_partial"), grid, block, (x, partial, rows, cols))
    _cuda.launch(_cuda.kernel("row_scale"), grid, block, (x, partial, y, rows, cols))
    return y


@pl.variant(backend="cupy", needs=("cuda", "sm_90"),
            note="8 blocks per row in one cluster; partial sums read over DSMEM, one kernel")
def cuda_cluster_dsmem(x):
    rows, cols = _check(x)
    y = torch.empty_like(x)
    _cuda.launch(_cuda.kernel("row_normalize_cluster"), (_cuda.SPLIT, rows), (_cuda.THREADS,), (x, y, rows, cols))
    return y


@pl.variant(backend="torch", note="F.normalize(x, dim=1): the library (norm, clamp, divide)")
def torch_normalize(x):
    return F.normalize(x, dim=1)


variants = [cuda_block_per_row, cuda_two_kernels, cuda_cluster_dsmem, torch_normalize]
