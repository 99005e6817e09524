"""Decide the tier (gpu or cpu) cheaply, before triton is imported, and set TRITON_INTERPRET on cpu.

Triton reads TRITON_INTERPRET when it is imported, so this must run before anything imports
triton. We ask the CUDA driver directly through ctypes (no torch import, a few milliseconds).
PERFLAB_TIER=cpu forces the cpu tier (useful to test the fallback path on a GPU machine).
"""
from __future__ import annotations

import ctypes
import os
import sys
import warnings

_FORCED = os.environ.get("PERFLAB_TIER", "").strip().lower()


def _driver_device_count() -> int:
    for name in ("libcuda.so.1", "libcuda.so", "nvcuda.dll"):
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        if lib.cuInit(0) != 0:
            return 0
        count = ctypes.c_int(0)
        if lib.cuDeviceGetCount(ctypes.byref(count)) != 0:
            return 0
        return count.value
    return 0


def detect() -> str:
    """'gpu' when a CUDA device is usable (and not forced off), else 'cpu'."""
    if _FORCED in ("cpu", "gpu"):
        return _FORCED
    if "torch" in sys.modules:           # torch already loaded: ask it, it knows best
        return "gpu" if sys.modules["torch"].cuda.is_available() else "cpu"
    return "gpu" if _driver_device_count() > 0 else "cpu"


TIER = detect()

if TIER == "cpu":
    if "triton" in sys.modules and os.environ.get("TRITON_INTERPRET") != "1":
        warnings.warn("triton was imported before perflab on a machine without a GPU, so its kernels "
                      "cannot run. Import perflab first (or set TRITON_INTERPRET=1 before triton).")
    os.environ["TRITON_INTERPRET"] = "1"
    if _FORCED == "cpu":
        os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")   # make torch agree with the forced tier
