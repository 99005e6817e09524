"""Unified (managed) memory: the GPU's first touch of host-resident pages, on demand vs prefetched."""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch
import triton

from labs.ch06_gpu_architecture import _cuda

TITLE = "Host data to the GPU: managed memory faulted in on demand vs prefetched vs an explicit copy (y = 2x + 1)"
SIZES = {"gpu": [16_777_259, 4_194_319, 33_554_467], "cpu": [100_003, 30_011]}   # float32 elements: 64 MB by default
DTYPES = ["float32"]
OPTIONS = pl.LabOptions(
    # why the best variant is under the 85% memory gate on the H200 (shown by perflab report)
    gate_note=(
        'three of the four variants move the data over the host link (4–8 GB/s measured), so HBM copy is not '
        'their ceiling; the resident control (pages already on the GPU) runs a 54 µs kernel of one element '
        'per thread at 29% of copy. Why the control is that slow is not measured yet (next H200 run: compare '
        'with ch06.first_kernel at the same size).'),
)
MAX_MANAGED_BYTES = 1 << 30     # never ask for more than 1 GiB of managed memory (nor half of what is free)
THREADS = 256
CPU = -1                        # cudaCpuDeviceId: the host as a prefetch destination
ATTR_CONCURRENT_MANAGED_ACCESS = 89     # cudaDevAttrConcurrentManagedAccess (driver_types.h)
RESET = {"how": "cudaMemPrefetchAsync to the CPU"}    # how each managed call sends the pages back to the host


class ManagedVector:
    """n float32 values in CUDA managed memory (``cudaMallocManaged`` through CuPy), written by the CPU.

    ``array`` is a CuPy view for kernels; ``host`` a torch view the CPU reads and writes directly.
    The memory is freed (``cudaFree``) when the object is dropped.
    """

    def __init__(self, values: torch.Tensor, device: torch.device):
        import ctypes

        import cupy
        import numpy as np
        n = values.numel()
        nbytes = 4 * n
        free, _ = torch.cuda.mem_get_info(device)
        if nbytes > min(MAX_MANAGED_BYTES, free // 2):
            raise ValueError(f"{nbytes / 2**20:,.0f} MiB of managed memory is more than this lab allows "
                             f"(1 GiB, and at most half of the {free / 2**30:.1f} GiB free): pick a smaller size")
        self.n, self.nbytes, self.device = n, nbytes, device
        with cupy.cuda.Device(device.index or 0):
            self.memptr = cupy.cuda.malloc_managed(nbytes)
            self.array = cupy.ndarray((n,), dtype=cupy.float32, memptr=self.memptr)
        torch.cuda.synchronize(device)                 # no kernel may run while the CPU writes managed pages
        raw = (ctypes.c_float * n).from_address(self.memptr.ptr)
        self.host = torch.from_numpy(np.ctypeslib.as_array(raw))       # the same pages, seen by the CPU
        self.host.copy_(values)                                          # CPU first touch: pages live on the host

    def __repr__(self):
        return f"ManagedVector({self.n:,} float32, {self.nbytes / 2**20:,.1f} MiB managed)"


def make_inputs(size: int, device="cpu", dtype="float32", seed: int = 0) -> dict:
    """x_host: the data, produced on the host. x: the same values in managed memory (GPU tier only)."""
    g = torch.Generator().manual_seed(seed)
    x_host = torch.randn(size, generator=g, dtype=getattr(torch, dtype))
    device = torch.device(device)
    x = ManagedVector(x_host, device) if device.type == "cuda" else None
    return {"x": x, "x_host": x_host}


def reference(x, x_host: torch.Tensor) -> torch.Tensor:
    return 2 * x_host.double() + 1


def bytes(size: int, dtype="float32") -> int:
    return size * getattr(torch, dtype).itemsize      # x must cross the host link once


def flops(size: int, dtype="float32") -> int:
    return 0                                          # the lesson is the data movement, not the arithmetic


def concurrent_managed_access(device_index: int = 0) -> bool:
    """Whether this GPU migrates managed pages on demand (Linux, Pascal and later) or only at launch."""
    from cupy.cuda import runtime
    return bool(runtime.deviceGetAttribute(ATTR_CONCURRENT_MANAGED_ACCESS, device_index))


def prefetch(x: ManagedVector, destination: int, stream_ptr: int) -> None:
    """cudaMemPrefetchAsync of all of x to ``destination`` (a device index, or CPU = -1) on a stream.

    CuPy 13 and 14 take (ptr, bytes, device, stream) and turn the device number into the location
    that CUDA 13's cudaMemPrefetchAsync wants; the five-argument form (…, flags, stream) is tried
    only if a CuPy version rejects four.
    """
    from cupy.cuda import runtime
    try:
        runtime.memPrefetchAsync(x.memptr.ptr, x.nbytes, destination, stream_ptr)
    except TypeError:
        runtime.memPrefetchAsync(x.memptr.ptr, x.nbytes, destination, 0, stream_ptr)


def _reset_to_host(x: ManagedVector, stream: int) -> None:
    """Move x's pages back to the host: a prefetch to the CPU, or, where this CuPy cannot name the
    host as a destination, a CPU read of one float per 4 KiB page (each read migrates its page)."""
    if RESET["how"].startswith("cudaMemPrefetchAsync"):
        try:
            prefetch(x, CPU, stream)
            return
        except Exception as exc:                   # e.g. a CUDA 13 build that does not map -1 to the host
            RESET["how"] = f"a CPU read of every 4 KiB page (the CPU prefetch failed: {type(exc).__name__})"
    torch.cuda.current_stream(x.device).synchronize()
    float(x.host[::1024].sum())


def _on_host_then_gpu(x: ManagedVector, to_gpu_first: bool) -> torch.Tensor:
    """Send x's pages back to the host (as if the CPU had just written them), then run the kernel."""
    if x is None:
        raise ValueError("managed memory needs a CUDA GPU: make_inputs(size, 'cuda', ...)")
    if not concurrent_managed_access(x.device.index or 0):
        raise RuntimeError("this GPU/OS does not migrate managed pages on demand (concurrentManagedAccess = 0): "
                           "pages move wholesale at each launch, so there is no first touch to measure")
    stream = torch.cuda.current_stream(x.device).cuda_stream
    _reset_to_host(x, stream)                      # every page lives on the host again
    if to_gpu_first:
        prefetch(x, x.device.index or 0, stream)   # one bulk migration, in large DMA chunks
    y = torch.empty(x.n, device=x.device)
    _cuda.launch(_cuda.kernel("twice_plus_one"), (triton.cdiv(x.n, THREADS),), (THREADS,), (x.array, y, x.n))
    return y


@pl.variant(backend="cupy", needs="cuda", note="pages start on the host; the kernel's first touch faults them over")
def managed_fault(x, x_host):
    return _on_host_then_gpu(x, to_gpu_first=False)


@pl.variant(backend="cupy", needs="cuda", note="pages start on the host; cudaMemPrefetchAsync moves them before the kernel")
def managed_prefetch(x, x_host):
    return _on_host_then_gpu(x, to_gpu_first=True)


@pl.variant(backend="torch", needs="cuda", note="no managed memory: x_host.to('cuda') copies from pageable memory, then the kernel")
def explicit_copy(x, x_host):
    xd = x_host.to(pl.device())
    return torch.add(torch.tensor(1.0, dtype=xd.dtype), xd, alpha=2)


@pl.variant(backend="cupy", needs="cuda", note="steady state: the pages already live on the GPU (no reset, no migration)")
def managed_resident(x, x_host):
    if x is None:
        raise ValueError("managed memory needs a CUDA GPU: make_inputs(size, 'cuda', ...)")
    y = torch.empty(x.n, device=x.device)
    _cuda.launch(_cuda.kernel("twice_plus_one"), (triton.cdiv(x.n, THREADS),), (THREADS,), (x.array, y, x.n))
    return y


variants = [managed_fault, managed_prefetch, explicit_copy, managed_resident]


def link_table(run):
    """Each timed variant's effective host-to-GPU rate beside the measured pinned-copy ceiling."""
    from perflab.measure import format_time
    from perflab.table import Table
    c = run.ceilings
    link = c.h2d_pinned_gbps
    if not any(r.measurement for r in run.rows):
        return Table(["unified memory"], [[f"nothing timed on {run.device}: the managed variants need a CUDA GPU "
                                           "and CuPy; the model above and the H200 columns stand in"]])
    rows = []
    for r in run.rows:
        m = r.measurement
        if m is None:
            rows.append([r.name, "—", "—", "—", r.why or r.status])
            continue
        rows.append([r.name, format_time(m.median), f"{m.gbps:,.1f}",
                     f"{m.gbps / link:.0%}" if link else "—", info_note(r.name)])
    notes = [f"ceiling: pinned host-to-device copy measured on {c.device}: "
             + (f"{link:,.1f} GB/s" if link else "not measured on this tier"),
             f"before each managed call (not managed_resident) the pages went back to the host by {RESET['how']}"]
    return Table(["variant", "median", "GB/s of x", "% of pinned H2D", "what moved"], rows,
                 title=f"Unified memory on {run.device}: {run.lab.bytes(run.size, run.dtype) / 2**20:,.1f} MiB per call",
                 notes=notes)


def info_note(name: str) -> str:
    return {"managed_fault": "host→GPU pages by fault, after a GPU→host reset",
            "managed_prefetch": "host→GPU pages by prefetch, after a GPU→host reset",
            "explicit_copy": "pageable cudaMemcpy, staged by the driver",
            "managed_resident": "nothing: already on the GPU"}.get(name, "")
