"""Chapter 6 labs: GPU architecture, a first CUDA kernel and its Triton twin, launch configuration,
occupancy and registers, unified memory, and compute-sanitizer.

Each lab module is one measured operation with a baseline and its variants. `occupancy` holds the
occupancy calculator (fed by a compiled kernel's registers and shared memory), `models` the other
back-of-envelope calculators, `sanitizer` the compute-sanitizer runner (it launches `oob_write`, a
planted out-of-bounds bug), `_cuda` the CUDA C sources, `book_check` the chapter's claims and
`solutions` the exercise answer.
"""
LABS = ["block_sweep", "first_kernel", "triton_sweep", "unified_memory"]    # every other module here is a helper
