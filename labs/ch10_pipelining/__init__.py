"""Chapter 10 labs: intra-kernel pipelining, tile order, persistent kernels, thread-block clusters.

Lab modules: ``stages`` (a Triton matmul with num_stages 1 → 4 vs cuBLAS), ``tile_order`` (GROUP_M
bands and a persistent grid on a wide matmul), ``persistent`` (1,000 tiny tasks: one launch each vs one
persistent grid), ``cluster`` (long rows split over a thread-block cluster, partial sums through
distributed shared memory, sm_90), ``tma_matmul`` (TMA tensor descriptors + a persistent grid, sm_90,
vs the num_stages kernel and cuBLAS). Helpers: ``timeline`` (pipeline and warp-specialization simulator),
``models`` (launch overhead, tile-order L2 traffic), ``compiled`` (what num_stages does to the compiled
kernel), ``views`` (sweep plots and the Triton-vs-cuBLAS ratios), ``_kernels`` / ``_matmul`` / ``_cuda``
(the kernels), ``book_check``, ``solutions``.
"""
LABS = ["cluster", "persistent", "stages", "tile_order", "tma_matmul"]    # every other module here is a helper
