"""Chapter 6's measured outcomes as checked claims (perflab.claims), beside the book check.

Evidence: the H100 run of 2026-12-07 and the H200 reference. saxpy: Triton 1.00×/0.96× of torch, the CUDA
kernel 0.91×/0.81× (90%/80% of copy); block sweep: 256 threads 4.3×/5.4× over 32, 2.1×/2.7× over 64, 512
within 3%/7% of 256, 33 ≈ 32; Triton BLOCK=1024 4 warps 99%/95% of copy; unified memory: prefetch
1.87×/1.61× over faults, resident pages 365×/318×; launch bounds (256, 16): 80 registers vs 64 unbounded."""
from perflab.claims import About, AtLeast, Faster, Holds


def _kernel(kernels, name):
    return next((k for k in kernels if k.name == name), None)


def bounds_cap(kernels) -> "bool | None":
    k = _kernel(kernels, "heavy, __launch_bounds__(256, 8)")
    return None if k is None or k.spill_bytes is None else (k.regs <= 32 and k.spill_bytes > 0)


def bounds_ignored(kernels) -> "bool | None":
    free, bad = _kernel(kernels, "heavy, no launch bounds"), _kernel(kernels, "heavy, __launch_bounds__(256, 16)")
    return None if free is None or bad is None else bad.regs > free.regs


CLAIMS = [
    About("ch06.first_kernel", "triton_saxpy", "torch_saxpy", 1.0, within=0.1, tier="gpu",
          text="the Triton saxpy runs as fast as the library (±10%)"),
    AtLeast("ch06.first_kernel", "cuda_saxpy", "ceiling_fraction", 0.75, tier="gpu",
            text="the ten-line CUDA saxpy reaches ≥ 75% of the measured copy bandwidth"),
    Faster("ch06.first_kernel", "cuda_saxpy", than="torch_saxpy", by=0.75, tier="gpu",
           text="the CUDA saxpy is at most 25% slower than the library (one element per thread)"),
    Faster("ch06.block_sweep", "cuda_256", than="cuda_32", by=3.0, tier="gpu",
           text="256 threads per block run ≥ 3× faster than 32 (the 32-blocks-per-SM cap)"),
    About("ch06.block_sweep", "cuda_33", "cuda_32", 1.0, within=0.15, tier="gpu",
          text="33 threads per block are no faster than 32 (±15%): the extra warp is almost empty"),
    Faster("ch06.block_sweep", "cuda_256", than="cuda_64", by=1.5, tier="gpu",
           text="64 threads per block are not yet enough: 256 run ≥ 1.5× faster"),
    About("ch06.block_sweep", "cuda_512", "cuda_256", 1.0, within=0.1, tier="gpu",
          text="past 256 threads the curve is flat: 512 within 10% of 256"),
    AtLeast("ch06.triton_sweep", "b1024_w4", "ceiling_fraction", 0.85, tier="gpu",
            text="Triton BLOCK=1024 with 4 warps reaches ≥ 85% of the copy bandwidth"),
    Faster("ch06.triton_sweep", "b1024_w4", than="b32_w1", by=3.0, tier="gpu",
           text="BLOCK=32 with one warp starves the memory system: BLOCK=1024, 4 warps is ≥ 3× faster"),
    Holds("ch06.kernels", "__launch_bounds__(256, 8) caps the kernel at 32 registers and spills the rest",
          bounds_cap, tier="gpu"),
    Holds("ch06.kernels", "__launch_bounds__(256, 16) is ignored: the kernel gets more registers than with "
          "no bounds", bounds_ignored, tier="gpu"),
    Faster("ch06.unified_memory", "managed_prefetch", than="managed_fault", by=1.4, tier="gpu",
           text="prefetching managed memory is ≥ 1.4× faster than faulting it over on PCIe"),
    Faster("ch06.unified_memory", "managed_resident", than="managed_prefetch", by=10, tier="gpu",
           text="once the pages live on the GPU, the kernel is ≥ 10× faster than any migration"),
]
