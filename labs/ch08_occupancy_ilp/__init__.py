"""Chapter 8 labs: occupancy, instruction-level parallelism (ILP), warp divergence and register pressure.

Each lab module is one measured operation with a baseline and its variants: `ilp_stream` (a memory-bound
stream with 1–16 loads in flight per thread), `fma_ilp` (dependent FMA chains), `divergence` (a
data-dependent branch) and `launch_bounds` (registers, spills and `__launch_bounds__`). The other
modules hold the CUDA C sources (`_cuda`), the models used without a GPU (`occupancy`, `simt`), the
heat-map sweep (`sweep`), register reports (`registers`), a measured CPU ILP demo (`cpu_ilp`), the
Nsight Compute view (`profile`), the book check and the exercise answer.
"""
LABS = ["divergence", "fma_ilp", "ilp_stream", "launch_bounds"]    # every other module here is a helper
