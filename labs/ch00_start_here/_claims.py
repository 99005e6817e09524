"""Chapter 0's measured outcomes as checked claims (perflab.claims), beside the book check."""
from perflab.claims import About, AtLeast, Faster, Holds


def rate_ratio(fast: str, slow: str):
    """A reader of the measured matmul TFLOP/s of one precision over another's, from the manifest's ceilings."""
    def ratio(c):
        rates = c.get("matmul_tflops") or {}
        return rates[fast] / rates[slow] if rates.get(fast) and rates.get(slow) else None
    return ratio


CLAIMS = [
    About("ch00.scale_shift", "one_kernel", "two_kernels", 2.0, within=0.2, tier="gpu",
          text="one_kernel is about 2× faster than two_kernels (it moves 8 B/element instead of 16)",
          why_not={"cpu": "CPU tier: the cpu-size array sits in cache, so bytes count less than per-op cost"}),
    AtLeast("ch00.scale_shift", "one_kernel", "ceiling_fraction", 0.85, tier="gpu",
            text="one_kernel reaches ≥ 85% of the measured copy bandwidth"),
    Faster("ch00.scale_shift", "triton_fused", than="two_kernels", by=1.2, tier="gpu",
           text="the six-line triton_fused kernel beats two_kernels by ≥ 1.2×"),
    Holds("ch00.ceilings", "pinned host→device copies run ≥ 2× faster than pageable ones",
          lambda c: c["h2d_pinned_gbps"] / c["h2d_pageable_gbps"] if c.get("h2d_pageable_gbps") else None,
          at_least=2.0, tier="gpu", from_manifest="ceilings"),
    Holds("ch00.ceilings", "on Hopper a measured bf16 matmul runs ≥ 10× a strict fp32 one (datasheet: 15×)",
          rate_ratio("bfloat16", "float32"), at_least=10.0, tier="sm_90", from_manifest="ceilings"),
    Holds("ch00.ceilings", "from tf32 down, each step roughly doubles the rate: bf16 about 2× tf32 (±25%)",
          rate_ratio("bfloat16", "tf32"), about=2.0, within=0.25, tier="sm_90", from_manifest="ceilings"),
    Holds("ch00.ceilings", "fp8 about 2× bf16 (±25%)", rate_ratio("float8", "bfloat16"), about=2.0, within=0.25,
          tier="sm_90", from_manifest="ceilings"),
]
