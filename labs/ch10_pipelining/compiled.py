"""What ``num_stages`` does to the compiled kernel: shared memory per block, blocks per SM, and the load
instructions in the PTX (``ld.global`` into registers vs ``cp.async`` straight into shared memory).

On a GPU the facts come from the kernels the stages lab just ran (``CompiledKernel.metadata`` and
``.asm["ptx"]``). Elsewhere :func:`offline` compiles the same kernel for sm_90 in a child process with
the interpreter off (``triton.compile`` needs no GPU), with the argument properties a real launch at the
lab's GPU size would have (16-byte aligned pointers, N and K multiples of 16, unit strides).
Run as a script: ``python -m labs.ch10_pipelining.compiled 90`` prints JSON. Imports no perflab at the
top, so the child process never turns the interpreter on.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import asdict, dataclass

# sm_90 limits (CUDA C++ Programming Guide, compute capability 9.0): 228 KB of shared memory per SM,
# at most 227 KB for one block. Used only for the offline rows; a GPU's own values are read from it.
SM90_SHARED_PER_SM = 233_472
OFFLINE_TILE = (128, 256, 64, 8)        # the tile the labs pick on an H100/H200 (see _matmul.GPU_TILES)


@dataclass(frozen=True)
class PtxCounts:
    """Load and tensor-core instructions counted in PTX text (instructions written, not executed)."""
    cp_async: int
    ld_global: int
    wgmma: int
    mma_sync: int


@dataclass(frozen=True, kw_only=True)
class CompiledStages(PtxCounts):
    """One num_stages of the stages lab's kernel as compiled: shared memory per block (bytes), blocks per
    SM that memory allows, registers per thread (None where unknown) and its PTX counts."""
    stages: int
    shared: int
    blocks_per_sm: int | None
    regs: int | None


def count(ptx: str) -> PtxCounts:
    """Load and tensor-core instructions in PTX text.

    >>> count("cp.async.cg.shared.global [%r1], [%rd1], 16;\\n ld.global.v4.b32 {..}, [%rd2];\\n wgmma.mma_async.sync")
    PtxCounts(cp_async=1, ld_global=1, wgmma=1, mma_sync=0)
    """
    return PtxCounts(cp_async=len(re.findall(r"\bcp\.async\.c[ag]\.shared\.global", ptx)),
                     ld_global=len(re.findall(r"\bld\.global", ptx)),
                     wgmma=len(re.findall(r"\bwgmma\.mma_async", ptx)),
                     mma_sync=len(re.findall(r"\bmma\.sync", ptx)))


def _row(stages: int, shared: int, per_sm: int, counts: PtxCounts, regs) -> CompiledStages:
    return CompiledStages(**asdict(counts), stages=stages, shared=shared,
                          blocks_per_sm=per_sm // shared if shared else None, regs=regs)


def from_gpu(compiled: dict) -> list[CompiledStages]:
    """Rows from the kernels the stages lab ran on this GPU (``_matmul.COMPILED``)."""
    import torch
    per_sm = torch.cuda.get_device_properties(0).shared_memory_per_multiprocessor
    rows = []
    for s in range(1, 5):
        ck = compiled.get(f"stages_{s}")
        if ck is not None:
            rows.append(_row(s, int(ck.metadata.shared), per_sm, count(ck.asm["ptx"]), getattr(ck, "n_regs", None)))
    return rows


def offline(arch: int = 90, timeout_s: float = 120) -> list[CompiledStages] | None:
    """Compile stages 1-4 for sm_{arch} in a child process; None if this Triton cannot."""
    rows = offline_child("labs.ch10_pipelining.compiled", arch, timeout_s)
    return None if rows is None else [CompiledStages(**r) for r in rows]


def offline_child(module: str, arch: int, timeout_s: float):
    """Run ``python -m module arch`` with the interpreter off (compiling for sm_{arch} needs Triton's real
    backend, even on a machine without a GPU): the JSON of its last output line, or None if it failed."""
    from perflab import proctree           # here, not at the top: the child itself must not import perflab
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        out = proctree.run([sys.executable, "-m", module, str(arch)], timeout=timeout_s, env=env, cwd=root)
        return json.loads(out.stdout.strip().splitlines()[-1])
    except Exception:                       # another Triton with another compile API: the caller says so
        return None


def table(rows: list[CompiledStages] | None, source: str, tile: str):
    """The rows as a Table (or one line saying why there are none)."""
    from perflab.table import Table
    if not rows:
        return Table(["compiled kernel"], [["unavailable: this Triton could not compile the kernel offline"]])
    body = [[str(r.stages), f"{r.shared / 1024:,.0f} KB", str(r.blocks_per_sm or "—"),
             str(r.ld_global), str(r.cp_async), str(r.wgmma or r.mma_sync),
             str(r.regs) if r.regs else "—"] for r in rows]
    return Table(["num_stages", "shared memory / block", "blocks / SM (shared memory)", "ld.global",
                  "cp.async (16 B)", "MMA instructions", "registers / thread"], body,
                 title=f"The stages lab's kernel ({tile}) as compiled · {source}",
                 notes=["ld.global: loads into registers (the warps wait, then store to shared memory); "
                        "cp.async: copies straight into shared memory while the warps go on",
                        "MMA instructions: wgmma.mma_async on sm_90, mma.sync on sm_80 (each covers a large "
                        "piece of the tile)",
                        "registers / thread: from the loaded kernel on a GPU, from ptxas -v offline; 65,536 per SM "
                        "in all, so a 256-thread block using ≥ 129 each fits once per SM whatever the shared memory"])


def _compile_here(arch: int) -> list[CompiledStages]:
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource
    from labs.ch10_pipelining._kernels import MATMUL_SIGNATURE, matmul_kernel
    bm, bn, bk, warps = OFFLINE_TILE
    names = matmul_kernel.arg_names
    unit = ["sak", "sbn", "scn"]                                   # unit strides become constants at launch
    aligned = ["a_ptr", "b_ptr", "c_ptr", "N", "K", "sam", "sbk", "scm"]  # multiples of 16 at the GPU size
    sig = {k: ("constexpr" if k in unit else v) for k, v in MATMUL_SIGNATURE.items()}
    attrs = {(names.index(k),): [["tt.divisibility", 16]] for k in aligned}
    consts = {"BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk, "GROUP_M": 8, "UPCAST": False, **{k: 1 for k in unit}}
    rows = []
    for stages in range(1, 5):
        src = ASTSource(fn=matmul_kernel, signature=sig, constexprs=consts, attrs=attrs)
        ck = triton.compile(src, target=GPUTarget("cuda", arch, 32), options={"num_warps": warps, "num_stages": stages})
        rows.append(_row(stages, int(ck.metadata.shared), SM90_SHARED_PER_SM, count(ck.asm["ptx"]),
                         _ptxas_registers(ck.asm["ptx"], arch)))
    return rows


def _ptxas_registers(ptx: str, arch: int) -> int | None:
    """Registers per thread that Triton's own ptxas reports for this PTX (None if it cannot say)."""
    import tempfile
    from triton.backends.nvidia import compiler
    try:
        try:
            exe = compiler.get_ptxas(arch).path
        except TypeError:                                          # older Triton: no arch argument
            exe = compiler.get_ptxas().path
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, "k.ptx")
            with open(src, "w") as f:
                f.write(ptx)
            out = subprocess.run([exe, "-v", "--gpu-name", f"sm_{arch}a" if arch >= 90 else f"sm_{arch}", src,
                                  "-o", os.path.join(d, "k.cubin")], capture_output=True, text=True, timeout=60)
        found = re.findall(r"Used (\d+) registers", out.stderr)
        return int(found[-1]) if found else None
    except Exception:
        return None


if __name__ == "__main__":
    os.environ.pop("TRITON_INTERPRET", None)
    print(json.dumps([asdict(r) for r in _compile_here(int(sys.argv[1]) if len(sys.argv) > 1 else 90)]))
