"""Chapter 8's measured outcomes as checked claims (perflab.claims), beside the book check.

Evidence: the H100 run of 2026-12-07 and the H200 reference (H100 / H200). Stream at 8 warps/SM: ILP 2 1.64× /
1.65× over ILP 1, ILP 8 3.5× / 3.8× but only 69% / 58% of copy; 64 warps × ILP 1 within 9% / 16% of 8 warps ×
ILP 8 (same bytes in flight). FMA at 4 warps/SM: ILP 4 3.6× over ILP 1, ILP 8 0.90× of ILP 4. Divergence:
sorted 1.89×, select 1.00× of divergent. Launch bounds: (256, 4) 1.02× of uncapped, (256, 8) 0.09× / 0.11×,
-maxrregcount=24 0.03× / 0.04×, Triton maxnreg=32 0.17× / 0.20×."""
from perflab.claims import About, AtMost, Faster

CLAIMS = [
    Faster("ch08.ilp_stream", "cuda_ilp2", than="cuda_ilp1", by=1.4, tier="gpu",
           text="at 8 warps per SM, two loads in flight per thread stream ≥ 1.4× faster than one"),
    Faster("ch08.ilp_stream", "cuda_ilp8", than="cuda_ilp1", by=3.0, tier="gpu",
           text="eight loads in flight per thread stream ≥ 3× faster than one"),
    AtMost("ch08.ilp_stream", "cuda_ilp8", "ceiling_fraction", 0.8, tier="gpu",
           text="even ILP 8 at 8 warps per SM stays under 80% of the copy ceiling"),
    About("ch08.ilp_stream", "cuda_full_occupancy", "cuda_ilp8", 1.0, within=0.25, tier="gpu",
          text="64 warps × 1 load land near 8 warps × 8 loads (±25%): the same bytes in flight"),
    About("ch08.ilp_stream", "cuda_t1024_ilp1", "cuda_t128_ilp8", 1.0, within=0.25, tier="gpu",
          text="heat map diagonal: 64 warps × ILP 1 within 25% of 8 warps × ILP 8"),
    About("ch08.ilp_stream", "cuda_t512_ilp2", "cuda_t256_ilp4", 1.0, within=0.25, tier="gpu",
          text="heat map diagonal: 32 warps × ILP 2 within 25% of 16 warps × ILP 4"),
    Faster("ch08.fma_ilp", "cuda_ilp4", than="cuda_ilp1", by=3.0, tier="gpu",
           text="four independent FMA chains per thread run ≥ 3× faster than one"),
    About("ch08.fma_ilp", "cuda_ilp8", "cuda_ilp4", 1.0, within=0.15, tier="gpu",
          text="past ILP 4 the FMA kernel gains nothing more (ILP 8 within 15% of ILP 4)"),
    Faster("ch08.divergence", "cuda_sorted", than="cuda_divergent", by=1.5, tier="gpu",
           text="grouping the flags so warps agree makes the kernel ≥ 1.5× faster (≤ 2× by the model)"),
    About("ch08.divergence", "cuda_select", "cuda_divergent", 1.0, within=0.1, tier="gpu",
          text="predication (compute both, select) costs what the divergent branch does (±10%)"),
    About("ch08.launch_bounds", "cuda_bounds_256_4", "cuda_default", 1.0, within=0.1, tier="gpu",
          text="with 32 chains per thread, more warps buy nothing: (256, 4) within 10% of uncapped"),
    Faster("ch08.launch_bounds", "cuda_default", than="cuda_bounds_256_8", by=3.0, tier="gpu",
           text="(256, 8) forces 32 registers and spills in the hot loop: ≥ 3× slower than uncapped"),
    Faster("ch08.launch_bounds", "cuda_default", than="cuda_maxrreg_24", by=3.0, tier="gpu",
           text="-maxrregcount=24 spills even more: ≥ 3× slower than uncapped"),
    Faster("ch08.launch_bounds", "triton_default", than="triton_maxnreg_32", by=2.0, tier="gpu",
           text="Triton's maxnreg=32 spills too: ≥ 2× slower than its default"),
]
