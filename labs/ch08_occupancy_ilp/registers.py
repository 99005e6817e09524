"""Registers and spills, read off compiled kernels: ptxas -v (through nvcc, no GPU needed) and the driver.

Two sources, never a typed-in number:
- ``ptxas_info(name, arch)`` compiles a chapter kernel with ``nvcc -cubin -Xptxas -v`` for any
  architecture (sm_90 for the H200) and parses registers, spill stores/loads and stack frame. It needs
  the CUDA toolkit's nvcc, which many laptops and Colab CPU runtimes lack: then it returns None.
- on a GPU, ``_cuda.attributes(name)`` reads what the driver loaded (registers, local bytes per thread)
  and Triton's compiled kernels carry ``n_regs`` and ``n_spills``.
"""
from __future__ import annotations

import functools
import glob
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

from labs.ch08_occupancy_ilp import _cuda


@dataclass(frozen=True)
class PtxasInfo:
    """What ptxas -v says about one kernel for one architecture."""
    arch: str
    registers: int
    spill_stores: int              # bytes per thread written to local memory because registers ran out
    spill_loads: int
    stack: int                     # bytes of stack frame per thread


def nvcc_path() -> str | None:
    """The CUDA compiler driver, on PATH or in the usual install folders; None when absent."""
    hits = sorted(glob.glob("/usr/local/cuda*/bin/nvcc"))
    return shutil.which("nvcc") or (hits[-1] if hits else None)


@functools.cache
def ptxas_info(name: str, arch: str = "sm_90") -> PtxasInfo | None:
    """Compile kernel ``name`` for ``arch`` with nvcc and parse ptxas -v; None without nvcc."""
    nvcc = nvcc_path()
    if nvcc is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, f"{name}.cu")
        with open(src, "w") as f:
            f.write(_cuda.source(name))
        cmd = [nvcc, f"-arch={arch}", "-cubin", "-Xptxas", "-v", *_cuda.options(name), "-o",
               os.path.join(tmp, "k.cubin"), src]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"nvcc failed on {name} for {arch}: {out.stderr.strip()[-400:]}")
    return parse_ptxas(out.stderr + out.stdout, name, arch)


def parse_ptxas(text: str, name: str, arch: str = "") -> PtxasInfo:
    """Pick one kernel's numbers out of ``ptxas -v`` output that may describe several kernels.

    >>> log = '''ptxas info    : Compiling entry function 'k' for 'sm_90'
    ... ptxas info    : Function properties for k
    ...     224 bytes stack frame, 508 bytes spill stores, 608 bytes spill loads
    ... ptxas info    : Used 32 registers, used 0 barriers, 224 bytes cumulative stack size'''
    >>> parse_ptxas(log, "k", "sm_90")
    PtxasInfo(arch='sm_90', registers=32, spill_stores=508, spill_loads=608, stack=224)
    """
    start = text.find(f"Compiling entry function '{name}'")
    if start < 0:
        raise ValueError(f"ptxas output has no kernel {name!r}")
    nxt = text.find("Compiling entry function", start + 1)
    part = text[start: nxt if nxt > 0 else len(text)]
    num = lambda pattern: int(m.group(1)) if (m := re.search(pattern, part)) else 0  # noqa: E731
    return PtxasInfo(arch, num(r"Used (\d+) registers"), num(r"(\d+) bytes spill stores"),
                     num(r"(\d+) bytes spill loads"), num(r"(\d+) bytes stack frame"))


def launch_bounds_table(threads: int = 256):
    """Registers, spills and theoretical occupancy of every launch_bounds variant (a Table)."""
    from perflab.machine import env
    from perflab.table import Table
    from labs.ch08_occupancy_ilp import _triton, launch_bounds, occupancy
    e = env()
    gpu = e.has("cuda") and e.has("cupy")
    rows = []
    for variant, kname in launch_bounds.KERNELS.items():
        info = ptxas_info(kname, "sm_90")
        row = [variant, (_cuda.REG_FLAVOURS[kname.removeprefix("fma_regs_")][0] or " ".join(_cuda.options(kname))
                         or "none")]
        row += [str(info.registers), f"{info.spill_stores} / {info.spill_loads}",
                f"{occupancy.occupancy(threads, info.registers, limits=occupancy.ARCH['sm_90']).fraction:.0%}"] \
            if info else ["—", "—", "—"]
        if gpu:
            att = _cuda.attributes(kname)
            calc = occupancy.occupancy(threads, att.num_regs)
            row += [str(att.num_regs), str(att.local_size_bytes), f"{calc.fraction:.0%}",
                    f"{_cuda.max_active_blocks(kname, threads) * threads // 32 / calc.limits.max_warps_per_sm:.0%}"]
        else:
            row += ["—", "—", "—", "—"]
        rows.append(row)
    here = e.sm or "this GPU"
    notes = [f"{threads} threads per block; occupancy = resident warps / the SM's maximum"]
    notes.append("ptxas columns: nvcc -arch=sm_90 -cubin -Xptxas -v (compile only, no GPU needed)"
                 if nvcc_path() else "ptxas columns: need the CUDA toolkit's nvcc (not installed here)")
    notes.append("driver columns: the kernels as loaded on this GPU (CuPy attributes, cuOccupancyMaxActiveBlocks…)"
                 if gpu else "driver columns: need a CUDA GPU with CuPy")
    return Table(["variant", "bound / option", "ptxas sm_90: regs", "spill st / ld (B)", "occupancy",
                  f"loaded on {here}: regs", "local B/thread", "occupancy (calculator)", "occupancy (driver)"], rows,
                 title="Register pressure: what each cap costs in registers, spills and occupancy", notes=notes)


@functools.cache
def triton_ptxas(maxnreg: int | None = None, arch: int = 90) -> PtxasInfo | None:
    """Compile the launch_bounds Triton twin offline for ``sm_{arch}`` (no GPU needed) and read ptxas -v
    on its PTX with the ptxas that ships inside Triton; None where this Triton cannot do it."""
    try:
        import triton
        from triton.backends.compiler import GPUTarget
        from triton.compiler import ASTSource
        from triton.runtime.jit import JITFunction
        from labs.ch08_occupancy_ilp import _triton, launch_bounds
        fn = _triton.regs_kernel
        fn = fn if isinstance(fn, JITFunction) else JITFunction(fn.fn)        # the interpreter wraps it
        sig = {"x_ptr": "*fp32", "y_ptr": "*fp32", "a": "fp32", "b": "fp32", "n": "i32", "chain": "i32",
               "TILE": "constexpr"}
        opts = {"num_warps": launch_bounds.THREADS // 32, **({"maxnreg": maxnreg} if maxnreg else {})}
        ck = triton.compile(ASTSource(fn=fn, signature=sig, constexprs={"TILE": launch_bounds.TILE}),
                            target=GPUTarget("cuda", arch, 32), options=opts)
        ptxas = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "ptxas")
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "k.ptx")
            with open(src, "w") as f:
                f.write(ck.asm["ptx"])
            gpu = f"sm_{arch}a" if arch >= 90 else f"sm_{arch}"
            out = subprocess.run([ptxas, "-v", f"--gpu-name={gpu}", src, "-o", os.path.join(tmp, "k.o")],
                                 capture_output=True, text=True, timeout=120)
        name = re.search(r"Compiling entry function '([^']+)'", out.stderr)
        return parse_ptxas(out.stderr, name.group(1), f"sm_{arch}") if name else None
    except Exception:                      # an older/newer Triton with another compile API: say "—"
        return None


def triton_table(threads: int = 256):
    """Registers and spills of the Triton twins: from their last GPU launch, else an offline sm_90 compile."""
    from perflab.table import Table
    from labs.ch08_occupancy_ilp import _triton, occupancy
    rows, sources = [], set()
    for variant, cap in (("triton_default", None), ("triton_maxnreg_32", 32)):
        ck = _triton.COMPILED.get(f"launch_bounds.{variant}")
        if ck is not None:
            regs, spills, lim = ck.n_regs, f"{4 * ck.n_spills} B local", occupancy.device_limits()
            sources.add("n_regs / n_spills of the kernels the run above compiled on this GPU")
        elif (info := triton_ptxas(cap)) is not None:
            regs, spills, lim = info.registers, f"{info.spill_stores} / {info.spill_loads} B", occupancy.ARCH["sm_90"]
            sources.add("compiled offline for sm_90 with Triton, registers from its bundled ptxas -v")
        else:
            rows.append([variant, f"maxnreg={cap}" if cap else "none", "—", "—", "—"])
            continue
        rows.append([variant, f"maxnreg={cap}" if cap else "none", str(regs), spills,
                     f"{occupancy.occupancy(threads, regs, limits=lim).fraction:.0%} ({lim.arch})"])
    notes = sorted(sources) or ["this Triton could not compile offline, and nothing ran on a GPU"]
    return Table(["variant", "option", "registers", "spills", "occupancy (calculator)"], rows,
                 title="Triton twins: maxnreg is Triton's -maxrregcount", notes=notes)
