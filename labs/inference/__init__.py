"""The course's inference engine: one readable decoder-only transformer in plain PyTorch.

Grown over chapters 15-19. Contract modules (other chapters import these names):

    model.py     ModelConfig, Transformer, build_model
    kv_cache.py  KVCache (contiguous, preallocated)
    generate.py  generate (greedy; with or without the KV cache)

The rest builds on them: paged.py (block allocator, paged KV cache), prefix_cache.py (block hashing,
radix tree), scheduler.py (static and continuous batching, chunked prefill), cuda_graph.py (graph-captured
decode), workload.py (seeded request streams) and metrics.py (TTFT, TPOT, percentiles, goodput). This package holds no labs: perflab only scans ``labs/chNN_*`` packages.
"""
