"""Chapter 9 labs: arithmetic intensity — fusion on the roofline, fused row kernels, the precision ladder.

Lab modules (one measured operation each): ``l2norm``, ``softmax``, ``layernorm`` (eager chains vs
library kernels vs torch.compile vs one Triton kernel), ``precision_ladder`` (one matmul from fp32
down to fp8), ``sparse24`` (2:4-pruned weights: dense vs sparse tensor cores) and ``rmsnorm`` (the
exercise). The rest are helpers: ``_common`` (torch.compile and
Triton row-kernel plumbing), ``traffic`` (bytes each version moves, and its roofline), ``intensity``
(FLOP/byte calculators), ``numerics`` (number formats and their errors), ``sparsity`` (2:4 model),
``book_check`` and ``solutions``.
"""
LABS = ["attention_decode", "attention_prefill", "l2norm", "layernorm",
        "precision_ladder", "rmsnorm", "softmax", "sparse24"]    # every other module here is a helper
