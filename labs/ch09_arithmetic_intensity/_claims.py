"""Chapter 9's measured outcomes as checked claims (perflab.claims), beside book_check.RATIOS."""
from perflab.claims import About, Faster

_CACHE = {"cpu": "CPU tier: the cpu-size rows sit in cache, so fewer bytes buy little; Triton is "
                 "interpreted there (checked, not timed)"}

CLAIMS = [
    About("ch09.l2norm", "torch_compile", "eager_chain", 2.5, within=0.3, tier="gpu", why_not=_CACHE,
          text="fused L2 norm (torch.compile) gains about the byte ratio, 2.5×, over the eager chain"),
    Faster("ch09.l2norm", "triton_fused", than="eager_chain", by=2.0, tier="gpu", why_not=_CACHE,
           text="our Triton L2 norm is ≥ 2× faster than the eager chain"),
    About("ch09.l2norm", "triton_fused", "torch_compile", 1.0, within=0.3, tier="gpu",
          text="our Triton L2 norm lands within 30% of torch.compile's time"),
    About("ch09.softmax", "triton_fused", "eager_chain", 4.0, within=0.3, tier="gpu", why_not=_CACHE,
          text="fused softmax (our Triton) gains about the byte ratio, 4×, over the eager chain"),
    Faster("ch09.softmax", "triton_fused", than="torch_softmax", tier="gpu",
           text="our Triton softmax beats the library's torch.softmax"),
    About("ch09.layernorm", "torch_compile", "eager_chain", 6.0, within=0.3, tier="gpu", why_not=_CACHE,
          text="fused layernorm (torch.compile) gains about the byte ratio, 6×, over the eager chain"),
    Faster("ch09.layernorm", "triton_fused", than="eager_chain", by=3.0, tier="gpu", why_not=_CACHE,
           text="our Triton layernorm is ≥ 3× faster than the eager chain"),
    Faster("ch09.layernorm", "triton_fused", than="torch_layer_norm", tier="gpu",
           text="our Triton layernorm beats the library's F.layer_norm"),
    Faster("ch09.precision_ladder", "bf16", than="fp32", by=10.0, tier="sm_90",
           text="on Hopper a bf16 matmul is ≥ 10× a strict fp32 one (the book says about 4×)"),
    About("ch09.precision_ladder", "fp8", "bf16", 2.0, within=0.25, tier="sm_90",
          text="on Hopper fp8 is about 2× bf16 (the datasheet's ratio; the book says 2–3×)"),
]
