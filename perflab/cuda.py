"""CUDA helpers for the labs: CuPy (NVRTC-compiled) CUDA C kernels on torch's current stream, and the
CUDA-graph capture recipe (:func:`capture`) that chapter 12 teaches and chapters 13, 16 and 19 reuse.

Launching on torch's stream keeps CUDA-event timing (perflab.bench) and torch's own kernels in order
with the CuPy kernel. CuPy is imported inside the functions, so this module costs nothing without a GPU.
"""
from __future__ import annotations

import functools


class _StreamHandle:
    """A raw CUDA stream pointer wearing the CUDA stream protocol, for ``cupy.cuda.Stream.from_external``."""

    def __init__(self, ptr: int):
        self.ptr = ptr

    def __cuda_stream__(self) -> tuple[int, int]:
        return (0, self.ptr)


def cupy_stream(torch_stream):
    """The CuPy view of a torch CUDA stream (cached: it outlives the work and allocations made on it)."""
    return _stream(torch_stream.device.index or 0, torch_stream.cuda_stream)


@functools.cache
def _stream(device_index: int, stream_ptr: int):
    import cupy
    if hasattr(cupy.cuda.Stream, "from_external"):             # CuPy >= 14
        return cupy.cuda.Stream.from_external(_StreamHandle(stream_ptr))
    return cupy.cuda.ExternalStream(stream_ptr, device_index)   # CuPy 13


def launch(kern, grid: tuple[int, ...], block: tuple[int, ...], args: tuple, shared_mem: int = 0) -> None:
    """Launch ``kern`` on torch's current stream, so CUDA-event timing around torch work covers it.

    Arguments convert as: CUDA tensors -> their data pointer (no copy), Python ints -> ``long long``,
    Python floats -> ``float``. The device is that of the first tensor argument.
    """
    import numpy as np
    import torch

    device = None
    raw = []
    for a in args:
        if isinstance(a, torch.Tensor):
            if not a.is_cuda:
                raise ValueError(f"CUDA kernels need CUDA tensors, got one on {a.device}. Pass device='cuda'.")
            device = a.device if device is None else device
            raw.append(a.data_ptr())
        elif isinstance(a, float):
            raw.append(np.float32(a))
        else:
            raw.append(a)
    index = device.index if device is not None and device.index is not None else torch.cuda.current_device()
    stream = _stream(index, torch.cuda.current_stream(index).cuda_stream)
    import cupy
    with cupy.cuda.Device(index):
        kern(tuple(grid), tuple(block), tuple(raw), shared_mem=shared_mem, stream=stream)


def grid_stride_blocks(device, threads: int, work_items: int) -> int:
    """Blocks for a grid-stride loop: enough to fill every SM once, never more than the work needs.

    The SM count and threads per SM are read from the device, never typed in.
    """
    import torch
    props = torch.cuda.get_device_properties(device)
    per_sm = max(1, getattr(props, "max_threads_per_multi_processor", 2048) // threads)
    return max(1, min(props.multi_processor_count * per_sm, -(-work_items // threads)))


@functools.cache
def _module(source: str, options: tuple[str, ...] = ()):
    import cupy
    return cupy.RawModule(code=source, options=options)


def compile_kernel(source: str, name: str, options: tuple[str, ...] = ()):
    """The kernel ``name`` of a CUDA C ``source`` as a ``cupy.RawKernel``; NVRTC runs once per source
    and options in a process (for the device that is current)."""
    return _module(source, tuple(options)).get_function(name)


def kernels(sources: dict[str, str]):
    """A chapter's ``kernel(name)`` over its CUDA C ``sources`` (name -> source): the compiled
    ``cupy.RawKernel`` of that name, NVRTC once per process and source; a name not in ``sources`` is refused."""
    @functools.cache
    def kernel(name: str):
        if name not in sources:
            raise ValueError(f"no CUDA kernel {name!r}; kernels: {sorted(sources)}")
        return compile_kernel(sources[name], name)
    return kernel


def capture(run, warmup: int = 1) -> tuple:
    """The documented recipe: ``warmup`` calls of ``run()`` on a side stream (lazy initialisation and compiling
    happen off the capture), then one call captured. Returns (torch.cuda.CUDAGraph, the call's static output)."""
    import torch
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(warmup):
            run()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = run()                                          # recorded, not run
    return graph, out
