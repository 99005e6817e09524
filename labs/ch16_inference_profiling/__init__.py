"""Chapter 16 labs: profiling inference — KV cache, batching policies, chunked prefill, prefix caching,
paged KV and CUDA-graph decode, all on the course engine in ``labs/inference``.

Lab modules (run with pl.run): kv_cache, prefix_caching, cuda_graph_decode. ``serving`` drives the
engine's scheduler for the batching, chunked-prefill and paged-KV experiments (their numbers are the
engine's own per-token timestamps); ``simulators`` holds the cost models and the allocator simulator;
``profiling`` the torch.profiler view; ``book_check`` the claims table; ``solutions`` the exercise answer.
"""
LABS = ["cuda_graph_decode", "kv_cache", "prefix_caching"]    # every other module here is a helper
