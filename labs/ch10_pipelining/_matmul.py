"""Host side of the chapter's Triton matmul: tile shape per device, the launch, and the lab plumbing the
two matmul labs share (inputs, reference, bytes, FLOPs).

The tile shape is chosen once per device so that a 4-stage ring of A and B slices fits in one block's
shared memory; the stage sweep then changes nothing but ``num_stages``::

    >>> Tile(128, 256, 64, 8).stage_bytes(2)          # one K slice of A (128×64) and B (64×256), bf16
    49152
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import perflab as pl  # noqa: F401  (first: sets TRITON_INTERPRET on machines without a GPU)
import torch
import triton

from labs.ch10_pipelining._kernels import matmul_kernel, matmul_persistent_kernel
from labs.matmul_shape import bytes, flops, make_inputs, reference  # noqa: F401  (shared by both matmul labs)

DTYPES = ["bfloat16"]
MAX_STAGES = 4                      # the sweep goes 1 → 4; the tile must leave room for all of them


@dataclass(frozen=True)
class Tile:
    """A Triton matmul tile: BLOCK_M × BLOCK_N outputs per program, K walked in BLOCK_K slices."""
    block_m: int
    block_n: int
    block_k: int
    num_warps: int

    def stage_bytes(self, itemsize: int = 2) -> int:
        """Shared memory one pipeline stage holds: a BLOCK_M×BLOCK_K slice of A and BLOCK_K×BLOCK_N of B."""
        return (self.block_m * self.block_k + self.block_k * self.block_n) * itemsize

    def __str__(self):
        return f"{self.block_m}×{self.block_n}×{self.block_k}, {self.num_warps} warps"


# Largest first. 128×256×64 with 8 warps is the usual Hopper choice (Triton's matmul tutorial lists it
# first); smaller GPUs get the first tile whose 4-stage ring fits their shared memory.
GPU_TILES = [Tile(128, 256, 64, 8), Tile(128, 128, 64, 8), Tile(64, 128, 32, 4), Tile(64, 64, 32, 4)]
CPU_TILE = Tile(32, 32, 16, 4)      # the interpreter: small tiles, so the test sizes cross many tile edges


def max_shared_bytes(device) -> int:
    """Shared memory one block may opt in to on this GPU (read from the driver)."""
    index = torch.device(device).index or 0
    try:
        from triton.runtime import driver
        return int(driver.active.utils.get_device_properties(index)["max_shared_mem"])
    except Exception:                    # another Triton: torch's per-SM figure minus the 1 KB it reserves
        props = torch.cuda.get_device_properties(index)
        return int(getattr(props, "shared_memory_per_block_optin", props.shared_memory_per_multiprocessor - 1024))


@functools.cache
def _gpu_tile(index: int) -> Tile:
    budget = max_shared_bytes(f"cuda:{index}")
    for t in GPU_TILES:
        if MAX_STAGES * t.stage_bytes(2) <= budget:
            return t
    return GPU_TILES[-1]


def tile_for(device) -> Tile:
    """The tile the labs use on ``device``: the largest whose 4-stage ring fits its shared memory."""
    device = torch.device(device)
    return _gpu_tile(device.index or 0) if device.type == "cuda" else CPU_TILE


def programs_for(device) -> int:
    """Programs of a persistent launch: one per SM on a GPU (read from the device), 4 in the interpreter."""
    device = torch.device(device)
    if device.type != "cuda":
        return 4
    return torch.cuda.get_device_properties(device).multi_processor_count


COMPILED: dict = {}     # variant key -> the CompiledKernel its last GPU launch returned (shared bytes, PTX)


def matmul(a: torch.Tensor, b: torch.Tensor, *, stages: int = 3, group_m: int = 8, persistent: bool = False,
           tile: Tile | None = None, key: str | None = None) -> torch.Tensor:
    """C = A @ B with the chapter's kernel: ``stages`` K slices in flight, tiles handed out in bands of
    ``group_m`` tile rows, one program per tile (or one per SM with ``persistent``)."""
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"matmul needs (M, K) @ (K, N), got {tuple(a.shape)} @ {tuple(b.shape)}")
    if a.dtype != b.dtype:
        raise TypeError(f"A and B must share a dtype, got {a.dtype} and {b.dtype}")
    m, k = a.shape
    n = b.shape[1]
    tile = tile or tile_for(a.device)
    c = torch.empty(m, n, device=a.device, dtype=a.dtype)
    tiles = triton.cdiv(m, tile.block_m) * triton.cdiv(n, tile.block_n)
    args = (a, b, c, m, n, k, a.stride(0), a.stride(1), b.stride(0), b.stride(1), c.stride(0), c.stride(1))
    meta = dict(BLOCK_M=tile.block_m, BLOCK_N=tile.block_n, BLOCK_K=tile.block_k, GROUP_M=group_m,
                UPCAST=a.device.type != "cuda", num_warps=tile.num_warps, num_stages=stages)
    if persistent:
        progs = min(programs_for(a.device), tiles)
        ck = matmul_persistent_kernel[(progs,)](*args, PROGRAMS=progs, **meta)
    else:
        ck = matmul_kernel[(tiles,)](*args, **meta)
    if key and ck is not None and hasattr(ck, "metadata"):
        COMPILED[key] = ck
    return c


# ---- what both matmul labs share ------------------------------------------------------------------

@pl.variant(backend="torch", note="torch.matmul: cuBLAS on a GPU (the CPU's BLAS here), same shape and dtype")
def torch_matmul(a, b):
    return a @ b
