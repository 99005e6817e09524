"""Chapter 0's measured outcomes as checked claims (perflab.claims), beside the book check."""
from perflab.claims import About, AtLeast, Faster, Holds

CLAIMS = [
    About("ch00.scale_shift", "one_kernel", "two_kernels", 2.0, within=0.2, tier="gpu",
          text="one_kernel is about 2× faster than two_kernels (it moves 8 B/element instead of 16)",
          why_not={"cpu": "CPU tier: the cpu-size array sits in cache, so bytes count less than per-op cost"}),
    AtLeast("ch00.scale_shift", "one_kernel", "ceiling_fraction", 0.85, tier="gpu",
            text="one_kernel reaches ≥ 85% of the measured copy bandwidth"),
    Faster("ch00.scale_shift", "triton_fused", than="two_kernels", by=1.2, tier="gpu",
           text="the six-line triton_fused kernel beats two_kernels by ≥ 1.2×"),
]

_PINNED = Holds("ch00.ceilings", "pinned host→device copies run ≥ 2× faster than pageable ones",
                lambda c: c["h2d_pinned_gbps"] / c["h2d_pageable_gbps"] if c.get("h2d_pageable_gbps") else None,
                at_least=2.0, tier="gpu", from_manifest="ceilings")
CLAIMS.append(_PINNED)
