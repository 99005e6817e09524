"""ILP on the CPU you are sitting at: a C sum with 1, 2, 4 or 8 independent accumulators, measured.

A floating-point add takes a few cycles to produce its result, but the core can start a new one
every cycle (or two per cycle). With one accumulator every add waits for the previous one: the loop
runs at the add *latency*. With k accumulators, k adds are in flight and the loop approaches the
add *throughput*. It is the GPU lesson of this chapter on one CPU core, and it runs on every tier.

The C code is compiled once with the system C compiler (``cc``), without -ffast-math (so the compiler
may not reorder the sum itself) and without auto-vectorization (so only our accumulators add ILP).
"""
from __future__ import annotations

import ctypes
import functools
import math
import os
import shutil
import subprocess
import tempfile

ACCUMULATORS = [1, 2, 4, 8]          # the sweep, as data

_BODY = """
double sum_acc{K}(const double* x, long n)
{{
    double {decl};
    long i = 0;
    for (; i + {K} <= n; i += {K}) {{   /* {K} independent dependency chains */
        {adds}
    }}
    double total = {total};
    for (; i < n; ++i) total += x[i];
    return total;
}}
"""
FLAGS = ["-O2", "-fno-tree-vectorize", "-fno-tree-slp-vectorize", "-fno-fast-math", "-shared", "-fPIC"]


def source() -> str:
    """The C text: one function per accumulator count.

    >>> "sum_acc4" in source()
    True
    """
    parts = []
    for k in ACCUMULATORS:
        parts.append(_BODY.format(K=k, decl=", ".join(f"acc{j} = 0.0" for j in range(k)),
                                  adds=" ".join(f"acc{j} += x[i + {j}];" for j in range(k)),
                                  total=" + ".join(f"acc{j}" for j in range(k))))
    return "\n".join(parts)


@functools.cache
def library():
    """(ctypes library, "") or (None, why not): compiled once per process into a temporary folder."""
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        return None, "no C compiler (cc, gcc or clang) on this machine"
    tmp = tempfile.mkdtemp(prefix="perflab-ch08-")
    src, lib = os.path.join(tmp, "acc.c"), os.path.join(tmp, "acc.so")
    with open(src, "w") as f:
        f.write(source())
    out = subprocess.run([cc, *FLAGS, "-o", lib, src], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        return None, f"{os.path.basename(cc)} failed: {out.stderr.strip()[:200]}"
    dll = ctypes.CDLL(lib)
    for k in ACCUMULATORS:
        fn = getattr(dll, f"sum_acc{k}")
        fn.restype, fn.argtypes = ctypes.c_double, [ctypes.c_void_p, ctypes.c_long]
    return dll, ""


def run(n: int = 1 << 15, rep_ms: float = 40, seed: int = 0):
    """Time each accumulator count with pl.bench (cpu mode) on ``n`` doubles that fit in the L2 cache;
    check every sum against math.fsum first. Returns a Table (or one line saying why it cannot run)."""
    import numpy as np
    import perflab as pl
    from perflab.table import Table
    dll, why = library()
    if dll is None:
        return Table(["CPU ILP demo"],
                     [[f"unavailable: {why}; it would show 1 → 4 accumulators running ~3–4× faster"]])
    x = np.random.default_rng(seed).standard_normal(n)
    ptr = x.ctypes.data
    exact = math.fsum(x.tolist())
    rows, base = [], None
    for k in ACCUMULATORS:
        fn = getattr(dll, f"sum_acc{k}")
        got = fn(ptr, n)
        if abs(got - exact) > 1e-9 * max(1.0, abs(exact)) * n:
            rows.append([str(k), f"❌ sum {got!r} vs {exact!r}", "—", "—"])
            continue
        m = pl.bench(lambda: fn(ptr, n), rep_ms=rep_ms, mode="cpu", label=f"sum_acc{k}")
        base = base or m.median
        rows.append([str(k), f"{m.median * 1e6:,.1f} µs", f"{m.median / n * 1e9:.2f} ns", f"{base / m.median:.2f}×"])
    from perflab.machine import env
    return Table(["accumulators", "median per sum", "per add", "vs 1 accumulator"], rows,
                 title=f"Sum of {n:,} doubles with k independent accumulators · measured on {env().device} (one core)",
                 notes=["C, -O2 without fast-math or auto-vectorization: the only parallelism is the k chains",
                        "one accumulator runs at the add latency; more chains let adds overlap until the core's "
                        "add units are busy every cycle"])
