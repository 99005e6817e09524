"""Chapter 19 labs: adaptive inference — a precision ladder for decode, CUDA-graph warm-up, batching and early exit.

Lab modules: ``w8_gemv`` (one decode-shaped linear layer with int8 weights: bf16 copy, torch dequantize,
fused Triton kernel, fp8 tensor cores), ``decode_precision`` (one decode step of the course's engine
per precision) and ``decode_graph`` (the same step eager vs replayed from a CUDA graph).
Helpers: ``quant`` (int8 / fp8 quantizers and Linear layers), ``_w8_kernel`` (the Triton kernel),
``engine`` (models and decode states shared by the labs), ``ladder`` (memory, tokens/s and agreement per
precision), ``warmup`` (first call vs steady state, break-even), ``simulators`` (dynamic batching,
early exit and cascades, a precision controller), ``book_check``, ``solutions``.
"""
LABS = ["decode_graph", "decode_precision", "w8_gemv"]    # every other module here is a helper
