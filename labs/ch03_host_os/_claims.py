"""Chapter 3's measured outcomes as checked claims (perflab.claims), beside the book check.

Evidence: the H100 run of 2026-12-07 (pinned 7.1× pageable, staged 2.7×; two loader workers 1.87× over none;
a fresh mapping written 36× slower than a reused one) and a busy 2-core CPU (1.8×; 12×)."""
from perflab.claims import AtLeast, Faster, Holds

from labs.ch03_host_os.host_report import FirstTouch
from labs.ch05_data_pipeline.loader import LoaderSweep


def step_ratio(sweep, slow: str, fast: str) -> "float | None":
    """Time per step of one loader config over another's, from a LoaderSweep (None for anything else)."""
    return sweep.step_ratio(slow, fast) if isinstance(sweep, LoaderSweep) else None


def fresh_vs_reused(touch) -> "float | None":
    """A fresh 4 KiB-page mapping's write time over the reused buffer's (host_report.FirstTouch)."""
    return touch.vs_reused("fresh mapping, 4 KiB pages") if isinstance(touch, FirstTouch) else None


CLAIMS = [
    Faster("ch03.h2d_copy", "pinned_async", than="pageable", by=2.0, tier="gpu",
           text="pinned copies run ≥ 2× faster than pageable ones (the book says 2–3×, L1119)"),
    Faster("ch03.h2d_copy", "pinned_async", than="staged", by=1.5, tier="gpu",
           text="staging through our own pinned buffer keeps a host memcpy per batch: pinned_async ≥ 1.5× faster"),
    AtLeast("ch03.h2d_copy", "pinned_async", "ceiling_fraction", 0.8, tier="gpu",
            text="pinned_async reaches ≥ 80% of the measured pinned host→device rate"),
    Holds("ch03.feeding", "two loader workers hide the loading: a step runs ≥ 1.5× faster than with none",
          lambda t: step_ratio(t, "workers=0", "workers=2, prefetch=2"), at_least=1.5),
    Holds("ch03.feeding", "once loading is hidden, a deeper prefetch queue changes little (prefetch 4 vs 2, ±25%)",
          lambda t: step_ratio(t, "workers=2, prefetch=2", "workers=2, prefetch=4"), about=1.0, within=0.25),
    Holds("ch03.first_touch", "writing 32 MiB into a fresh mapping is ≥ 5× slower than into mapped pages",
          fresh_vs_reused, at_least=5.0),
]
