"""The chapter's Hopper matmul: tiles of A and B arrive through TMA (tensor descriptors), one program per SM
walks the output tiles (persistent), and on request the K loop is warp-specialized. Imports only triton
(no perflab, no torch), so :mod:`labs.ch10_pipelining.tma_matmul` can compile it for sm_90 offline.

A tensor descriptor is the TMA unit's view of a 2-D array: base address, shape, strides and the block
shape one copy moves. ``desc.load([row, col])`` asks the copy engine for a whole block, straight into
shared memory, zero-filling whatever lies past the array's edge; ``desc.store`` writes a block back and
drops the part past the edge. No per-thread address arithmetic and no masks: that is what TMA takes
off the warps. Descriptors made inside a kernel (``tl.make_tensor_descriptor``) need a little global
memory per program to hold them; the host hands Triton an allocator for it (``triton.set_allocator``).
"""
from dataclasses import asdict, dataclass

import triton
import triton.language as tl

from labs.ch10_pipelining._kernels import tile_of


@triton.jit
def matmul_tma_kernel(a_ptr, b_ptr, c_ptr, M, N, K,
                      BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                      GROUP_M: tl.constexpr, PROGRAMS: tl.constexpr, WARP_SPECIALIZE: tl.constexpr,
                      UPCAST: tl.constexpr):
    """C (M × N) = A (M × K) @ B (K × N), all row-major and contiguous. Grid = (PROGRAMS,): program p
    computes tiles p, p + PROGRAMS, ... in the GROUP_M band order of :func:`tile_of`."""
    a_desc = tl.make_tensor_descriptor(a_ptr, shape=[M, K], strides=[K, 1], block_shape=[BLOCK_M, BLOCK_K])
    b_desc = tl.make_tensor_descriptor(b_ptr, shape=[K, N], strides=[N, 1], block_shape=[BLOCK_K, BLOCK_N])
    c_desc = tl.make_tensor_descriptor(c_ptr, shape=[M, N], strides=[N, 1], block_shape=[BLOCK_M, BLOCK_N])
    grid_m, grid_n = tl.cdiv(M, BLOCK_M), tl.cdiv(N, BLOCK_N)
    k_slices = tl.cdiv(K, BLOCK_K)
    # flatten: the compiler fuses the tile loop and the K loop into one pipelined loop, so the next
    # tile's first slices load while this tile's epilogue runs; warp_specialize splits that loop into a
    # producer partition (issues the TMA copies) and consumer partitions (the wgmma math)
    for tile in tl.range(tl.program_id(0), grid_m * grid_n, PROGRAMS, flatten=True,
                         warp_specialize=WARP_SPECIALIZE):
        pid_m, pid_n = tile_of(tile, grid_m, grid_n, GROUP_M)
        row, col = pid_m * BLOCK_M, pid_n * BLOCK_N
        acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
        for ks in range(k_slices):
            a = a_desc.load([row, ks * BLOCK_K])        # BLOCK_M × BLOCK_K, zeros past M and K
            b = b_desc.load([ks * BLOCK_K, col])        # BLOCK_K × BLOCK_N, zeros past K and N
            if UPCAST:                                  # CPU interpreter only: numpy has no bf16 matmul
                a, b = a.to(tl.float32), b.to(tl.float32)
            acc = tl.dot(a, b, acc)
        c_desc.store([row, col], acc.to(c_desc.dtype))  # rows past M and columns past N are dropped


# ---- offline compile for sm_90 (run as ``python -m labs.ch10_pipelining._tma 90``: prints JSON) ----------

SIGNATURE = {"a_ptr": "*bf16", "b_ptr": "*bf16", "c_ptr": "*bf16", "M": "i32", "N": "i32", "K": "i32",
             "BLOCK_M": "constexpr", "BLOCK_N": "constexpr", "BLOCK_K": "constexpr", "GROUP_M": "constexpr",
             "PROGRAMS": "constexpr", "WARP_SPECIALIZE": "constexpr", "UPCAST": "constexpr"}
OFFLINE_TILE = (128, 256, 64, 8, 3)     # BLOCK_M, BLOCK_N, BLOCK_K, warps, stages: what an H100/H200 gets
OFFLINE_PROGRAMS = 132                  # an H100/H200 SXM's SM count (offline only; a GPU's is read from it)
PTX_COUNTS = {"tma_copies": r"cp\.async\.bulk\.tensor", "wgmma": r"wgmma\.mma_async",
              "setmaxnreg": r"setmaxnreg", "mbarrier_waits": r"mbarrier\.try_wait"}


@dataclass(frozen=True)
class TmaCompiled:
    """The TMA kernel compiled for one warp_specialize setting: shared memory per block (bytes), warps,
    instructions counted in its PTX (TMA copies, wgmma, setmaxnreg, mbarrier waits), PTX size and digest."""
    warp_specialize: bool
    shared: int
    num_warps: int
    tma_copies: int
    wgmma: int
    setmaxnreg: int
    mbarrier_waits: int
    ptx_sha1: str


@dataclass(frozen=True)
class OfflineCompile:
    """Both compiles of :func:`compile_offline` and the Triton version that made them (plain first)."""
    triton: str
    rows: tuple[TmaCompiled, ...]

    @classmethod
    def from_json(cls, d: dict) -> "OfflineCompile":
        return cls(d["triton"], tuple(TmaCompiled(**r) for r in d["rows"]))


def compile_offline(arch: int = 90) -> list[TmaCompiled]:
    """Compile the kernel without and with warp specialization for sm_{arch}; one row of PTX facts each.
    Needs TRITON_INTERPRET unset in this process (the interpreter never compiles)."""
    import hashlib
    import re
    from triton.backends.compiler import GPUTarget
    bm, bn, bk, warps, stages = OFFLINE_TILE
    aligned = ["a_ptr", "b_ptr", "c_ptr", "N", "K"]
    names = list(SIGNATURE)
    rows = []
    for ws in (False, True):
        src = triton.compiler.ASTSource(
            fn=matmul_tma_kernel, signature=SIGNATURE,
            constexprs={"BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk, "GROUP_M": 8, "PROGRAMS": OFFLINE_PROGRAMS,
                        "WARP_SPECIALIZE": ws, "UPCAST": False},
            attrs={(names.index(k),): [["tt.divisibility", 16]] for k in aligned})
        ck = triton.compile(src, target=GPUTarget("cuda", arch, 32),
                            options={"num_warps": warps, "num_stages": stages})
        ptx = ck.asm["ptx"]
        rows.append(TmaCompiled(warp_specialize=ws, shared=int(ck.metadata.shared),
                                num_warps=int(ck.metadata.num_warps),
                                **{k: len(re.findall(p, ptx)) for k, p in PTX_COUNTS.items()},
                                ptx_sha1=hashlib.sha1(ptx.encode()).hexdigest()[:12]))
    return rows


if __name__ == "__main__":
    import json
    import os
    import sys
    os.environ.pop("TRITON_INTERPRET", None)
    rows = compile_offline(int(sys.argv[1]) if len(sys.argv) > 1 else 90)
    print(json.dumps(asdict(OfflineCompile(triton.__version__, tuple(rows)))))
