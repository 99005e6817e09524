"""Small end-to-end checks behind `perflab doctor`: does each feature actually work here?"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile


def triton_kernel() -> tuple[bool | None, str]:
    """Launch a one-block Triton kernel (compiled on a GPU, interpreted on the CPU) and check it."""
    try:
        import torch
        import triton
        import triton.language as tl
        from perflab.machine import device, env
    except ImportError as exc:
        return False, f"cannot import: {exc}"

    @triton.jit
    def _add_one(x_ptr, n, BLOCK: tl.constexpr):
        offs = tl.arange(0, BLOCK)
        mask = offs < n
        tl.store(x_ptr + offs, tl.load(x_ptr + offs, mask=mask) + 1, mask=mask)

    x = torch.arange(7, dtype=torch.float32, device=device())
    _add_one[(1,)](x, 7, BLOCK=8)
    ok = torch.equal(x.cpu(), torch.arange(1, 8, dtype=torch.float32))
    mode = env().tools["triton"].split(":")[0]
    return ok, f"{mode} kernel " + ("gave the right answer" if ok else "gave a WRONG answer")


def cupy_kernel() -> tuple[bool | None, str]:
    from perflab.machine import env
    if not env().has("cupy"):
        return None, env().tools["cupy"]
    import cupy
    k = cupy.RawKernel(r'extern "C" __global__ void f(float* x){ x[threadIdx.x] *= 2.0f; }', "f")
    x = cupy.arange(5, dtype=cupy.float32)
    k((1,), (5,), (x,))
    ok = bool((x.get() == [0, 2, 4, 6, 8]).all())
    return ok, "RawKernel compiled with NVRTC and " + ("ran correctly" if ok else "gave a WRONG answer")


def torch_compile() -> tuple[bool | None, str]:
    import torch
    from perflab.machine import device
    try:
        f = torch.compile(lambda x: torch.sin(x) * 2 + 1)
        x = torch.randn(33, device=device())
        ok = torch.allclose(f(x), torch.sin(x) * 2 + 1, atol=1e-5)
        return ok, "inductor compiled and ran a small function" + ("" if ok else " WRONGLY")
    except Exception as exc:
        return False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"


def ncu_counters() -> tuple[bool | None, str]:
    """Profile a tiny torch kernel with ncu: proves the counters are readable, not just installed."""
    from perflab.machine import env
    from perflab.nsight import find
    if env().tier != "gpu":
        return None, "no GPU: counters need one"
    exe = find("ncu")
    if exe is None:
        return None, "ncu not installed"
    code = "import torch; x=torch.ones(1<<20, device='cuda'); (x*2).sum().item()"
    with tempfile.TemporaryDirectory() as d:
        try:
            out = subprocess.run([exe, "--clock-control", "none", "--metrics", "gpu__time_duration.sum",
                                  "--csv", "-c", "1", sys.executable, "-c", code], capture_output=True,
                                 text=True, timeout=120, cwd=d)
        except subprocess.TimeoutExpired:
            return False, "ncu timed out after 120 s"
    text = out.stdout + out.stderr
    if "ERR_NVGPUCTRPERM" in text:
        return False, "installed, but this host forbids reading counters (ERR_NVGPUCTRPERM)"
    ok = "gpu__time_duration.sum" in out.stdout
    return ok, "read hardware counters" if ok else f"no counters: {text.strip().splitlines()[-1][:200]}"


def run_all(deep: bool = False) -> dict:
    checks = {"triton": triton_kernel, "cupy": cupy_kernel}
    if deep:
        checks |= {"torch.compile": torch_compile, "ncu": ncu_counters}
    out = {}
    for name, fn in checks.items():
        try:
            out[name] = fn()
        except Exception as exc:
            out[name] = (False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    if not deep:
        out["nsys"] = (None, "records traces where installed; perflab does not rely on it"
                       if shutil.which("nsys") else "not installed (optional)")
    return out
