"""Chapter 15 labs: inference at scale — prefill vs decode, speculative decoding, tensor parallelism, MoE routing.

Lab modules (the usual shape, run by ``pl.run``): ``decode_linear`` (M tokens through the engine's MLP
projection, one at a time or as one GEMM), ``speculative`` (the engine's target model decoding alone vs
with a draft model proposing k tokens) and ``greedy_verify`` (accepting the longest matching prefix of a
draft: the exercise), ``moe_layer`` (a real MoE layer: permute, grouped GEMM, un-permute) and
``spec_trained`` (speculative decoding with a trained draft; deep dive: notebooks/ch15_parallel_decoding_deep.ipynb).
Helpers: ``calculators`` (KV bytes per token, all-to-all volume, pipeline bubble,
speculative speedup), ``shapes`` (the matmul shapes of a decode step and a prefill, on the roofline),
``spec_decode`` (the speculative loop and its controlled-acceptance draft), ``tp`` (tensor-parallel
shards of the engine; launches ``tp_worker.py`` under torchrun), ``moe`` (the routing simulator),
``book_check`` and ``solutions``. The engine itself is ``labs.inference`` (imported, never edited here).
"""
LABS = ["decode_linear", "greedy_verify",
        "moe_layer", "spec_trained", "speculative"]    # every other module here is a helper
