"""Read the tensor-core instructions out of a Triton kernel's PTX: wgmma on sm_90, mma.sync on sm_80.

On a GPU the PTX comes from the kernel the lab compiled and ran (``CompiledKernel.asm["ptx"]``). On the
cpu tier Triton runs in its interpreter, which cannot compile, so :func:`offline` compiles the same kernel
for a chosen architecture in a child process with the interpreter off (``triton.compile`` needs no GPU).
Run as a script: ``python -m labs.ch14_compiler.ptx 90 fp16 128 64 32 4 3`` prints JSON.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class PtxSummary:
    arch: str
    dtype: str
    config: str
    wgmma: int             # wgmma.mma_async instructions (Hopper warpgroup MMA)
    mma_sync: int          # mma.sync instructions (Ampere-style warp MMA)
    fma: int               # scalar fma instructions (no tensor cores)
    shared_bytes: int
    source: str            # "compiled offline" or "from the kernel that ran on this GPU"


def count(ptx: str) -> dict:
    """Instruction counts in PTX text.

    >>> count("wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 {..};\\n mma.sync.aligned.m16n8k16 {..};")
    {'wgmma': 1, 'mma_sync': 1, 'fma': 0}
    """
    return {"wgmma": len(re.findall(r"\bwgmma\.mma_async\b", ptx)),
            "mma_sync": len(re.findall(r"\bmma\.sync\b", ptx)),
            "fma": len(re.findall(r"\bfma\.rn\b", ptx))}


def from_compiled(ck, arch: str, dtype: str, config: str) -> PtxSummary:
    c = count(ck.asm["ptx"])
    return PtxSummary(arch, dtype, config, c["wgmma"], c["mma_sync"], c["fma"], int(ck.metadata.shared),
                      "from the kernel that ran on this GPU")


def offline(arch: int = 90, dtype: str = "fp16", config=(128, 64, 32, 4, 3)) -> PtxSummary | None:
    """Compile the lab's kernel for sm_{arch} in a child process (no GPU, no interpreter); None if it fails."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    cmd = [sys.executable, "-m", "labs.ch14_compiler.ptx", str(arch), dtype, *map(str, config)]
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env, cwd=root)
        return PtxSummary(**json.loads(out.stdout.strip().splitlines()[-1]))
    except Exception:                       # another Triton with another compile API: the caller says "—"
        return None


def table(ran=None, config: str = "", dtype: str = "float16", archs=(90, 80, 75)):
    """One row per architecture: tensor-core instructions in the PTX of the lab's kernel.

    ran: the CompiledKernel the lab launched on this GPU (None on the cpu tier); the other rows are compiled
    offline for sm_90 / sm_80 / sm_75, not run.
    """
    from perflab.table import Table
    short = {"float16": "fp16", "float32": "fp32", "bfloat16": "bf16"}.get(dtype, dtype)
    rows = []
    if ran is not None:
        import torch
        major, minor = torch.cuda.get_device_capability()
        s = from_compiled(ran, f"sm_{major}{minor}", short, config)
        rows.append([f"{s.arch} (this GPU)", s.source, s.config, str(s.wgmma), str(s.mma_sync), str(s.fma),
                     f"{s.shared_bytes:,}"])
    for arch in archs:
        s = offline(arch, short)
        if s is None:
            rows.append([f"sm_{arch}", "this Triton cannot compile offline", "—", "—", "—", "—", "—"])
            continue
        rows.append([s.arch, s.source, s.config, str(s.wgmma), str(s.mma_sync), str(s.fma), f"{s.shared_bytes:,}"])
    return Table(["target", "source", "config", "wgmma.mma_async", "mma.sync", "fma.rn", "shared B"], rows,
                 title=f"What tl.dot became: tensor-core instructions in the PTX ({short} inputs)",
                 notes=["counted with a regular expression over CompiledKernel.asm['ptx']"])


def _compile_here(arch: int, dtype: str, config) -> dict:
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource
    from labs.ch14_compiler._matmul_kernel import SIGNATURE, matmul_kernel
    bm, bn, bk, warps, stages = config
    sig = {k: v.format(t=dtype) for k, v in SIGNATURE.items()}
    src = ASTSource(fn=matmul_kernel, signature=sig, constexprs={"BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk})
    ck = triton.compile(src, target=GPUTarget("cuda", arch, 32), options={"num_warps": warps, "num_stages": stages})
    c = count(ck.asm["ptx"])
    return {"arch": f"sm_{arch}", "dtype": dtype, "config": f"{bm}×{bn}×{bk}, {warps} warps, {stages} stages",
            **c, "shared_bytes": int(ck.metadata.shared), "source": "compiled offline (not run)"}


if __name__ == "__main__":
    os.environ.pop("TRITON_INTERPRET", None)
    a = sys.argv[1:]
    print(json.dumps(_compile_here(int(a[0]), a[1], tuple(int(v) for v in a[2:7]))))
