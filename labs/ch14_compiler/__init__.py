"""Chapter 14 labs: torch.compile graph breaks, recompiles and modes; a Triton kernel autotuned and inspected.

Lab modules: ``graph_breaks`` (one block compiled with three graph breaks vs its fixed twin),
``triton_matmul`` (an autotuned Triton matmul vs torch) and ``exercise`` (remove the breaks yourself).
Helpers: ``breaks`` (broken/fixed pairs and torch._dynamo.explain), ``shapes`` (recompiles vs dynamic
shapes), ``modes`` (default / reduce-overhead / max-autotune), ``ptx`` (read wgmma / mma from PTX),
``_matmul_kernel`` (the Triton kernel itself, importable without perflab), ``book_check``, ``solutions``.
"""
LABS = ["exercise", "graph_breaks", "triton_matmul"]    # every other module here is a helper
