"""Chapter 7 labs: GPU memory access patterns (coalescing, vector loads, layouts, shared-memory tiles, banks).

Each lab module is one measured operation with a baseline and its faster variants. `simulators`
holds the warp-level models used on machines without a GPU, `solutions` the exercise answers,
`ladder_chart` a bar per variant beside the reference GPU, and `_cuda` the CUDA C sources that the CuPy
variants compile.
"""
LABS = ["aos_soa", "copy_ladder", "matmul_ladder", "saxpy2d", "transpose"]    # every other module here is a helper
