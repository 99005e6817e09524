"""Chapter 2's measured outcomes as checked claims (perflab.claims), beside the book check.

Evidence: the H100 run of 2026-12-07 (a 32 MiB buffer re-read from L2 at 2.65× the copy rate, 1 GiB at
1.02×), the H200 reference ceilings (fp8 1,266 vs fp16 674 TFLOP/s) and a busy 2-core CPU sweep (7.9×)."""
from perflab.claims import AtLeast, AtMost, Holds

from labs.ch00_start_here._claims import rate_ratio


def cache_gain(runs) -> "float | None":
    """Best read rate of a buffer smaller than the largest swept / the largest buffer's rate (DRAM or HBM).
    On a GPU it reads triton_rotating_read (torch's reduction does not keep a pass in L2)."""
    recs = [rec for r in runs for rec in getattr(r, "records", [r]) if rec.correct and rec.gbps]
    names = {rec.variant for rec in recs}
    recs = [rec for rec in recs if rec.variant == ("triton_rotating_read" if "triton_rotating_read" in names
                                                   else "torch_expand_sum")]
    if len({rec.size[0] for rec in recs}) < 2:
        return None
    largest = max(rec.size[0] for rec in recs)
    far = max(rec.gbps for rec in recs if rec.size[0] == largest)
    return max(rec.gbps for rec in recs if rec.size[0] < largest) / far


CLAIMS = [
    Holds("ch02.cache_sweep", "a buffer that fits in a cache level reads ≥ 1.5× faster than the largest "
          "buffer of the sweep (DRAM/HBM)", cache_gain, at_least=1.5),
    AtLeast("ch02.cache_ladder", "triton_rotating_read", "ceiling_fraction", 2.0, size=[8_388_605, 64],
            tier="gpu", text="a 32 MiB buffer re-read from L2 streams at ≥ 2× the measured HBM copy rate",
            why_not={"small_gpu": "a 32 MiB buffer does not fit in this GPU's L2 (T4: 4 MB, L4: 48 MB)"}),
    AtMost("ch02.cache_ladder", "triton_rotating_read", "ceiling_fraction", 1.15, size=[268_435_453, 1],
           tier="gpu", text="a 1 GiB buffer (far beyond L2) reads at the HBM copy rate (≤ 1.15× copy)"),
    Holds("ch02.ceilings", "on Hopper a measured fp8 matmul runs about 2× fp16 (±25%)",
          rate_ratio("float8", "float16"), about=2.0, within=0.25, tier="sm_90", from_manifest="ceilings"),
]
