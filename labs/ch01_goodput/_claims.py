"""Chapter 1's measured outcomes as checked claims (perflab.claims), beside the book check.

Evidence: the H100 run of 2026-12-07 (stalled 169 ms, fast_loader 1.38×, no sync 2.02×, all_fixes 1.85×,
compute_only 11×) and a busy 2-core CPU (1.48×, 1.63×, 1.18×, 2.32×)."""
from perflab.claims import About, Faster

CLAIMS = [
    Faster("ch01.train_loop", "compute_only", than="stalled", by=5.0, tier="gpu",
           text="on a GPU the stalled loop's goodput is under 20% (compute_only ≥ 5× faster than stalled)"),
    Faster("ch01.train_loop", "fast_loader", than="stalled", by=1.2,
           text="the vectorized loader alone gains ≥ 1.2× over the per-sample loader"),
    Faster("ch01.train_loop", "fast_loader_no_sync", than="fast_loader", by=0.95, tier="gpu",
           text="on a GPU, dropping the per-step .item() never costs time (≥ 0.95×) (the gain depends on how far the host runs ahead of the GPU: compare the reference columns)"),
    About("ch01.train_loop", "fast_loader_no_sync", "fast_loader", 1.0, within=0.25, tier="cpu",
          text="on a CPU, dropping the per-step .item() changes little (±25%): there is no device queue"),
    Faster("ch01.train_loop", "fast_loader_no_sync", than="all_fixes", by=0.9,
           text="the background checkpoint writer gains nothing at this size (all_fixes is not ≥ 10% faster "
                "than fast_loader_no_sync)",
           why_not={"gpu": "the checkpoint write is long compared with a step on this device, so hiding it "
                           "pays here: the lesson's 'gains nothing' is size-dependent"}),
]
