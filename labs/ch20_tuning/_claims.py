"""Chapter 20's measured outcomes as checked claims (perflab.claims), beside the book check.

``ch20.space`` is the ``SpaceTimes`` ``objectives.measure()`` returns, ``ch20.search`` the table
``search.compare()`` returns and ``ch20.gate`` the ``pl.run("ch20.candidates")`` run (``values={...}``);
``ch20.cluster`` is closed-form arithmetic (``model=``)."""
from perflab.claims import Faster, Holds, cell, ratio

from labs.ch20_tuning.space import SpaceTimes

SHORTCUTS = ("triton_skips_half_k", "triton_drops_k_tail")


def _spread(times):
    s = times.seconds if isinstance(times, SpaceTimes) else None
    return max(s.values()) / min(s.values()) if s else None


def _near_best_share(times):
    s = times.seconds if isinstance(times, SpaceTimes) else None
    if not s:
        return None
    best = min(s.values())
    return sum(t <= 1.05 * best for t in s.values()) / len(s)


def _shortcuts_rejected(run):
    recs = [r for r in getattr(run, "records", []) if r.variant in SHORTCUTS]
    return all(not r.correct for r in recs) if recs else None


def _waste_at(n_gpus, checkpoint_s):
    def model():
        from labs.ch20_tuning import cluster as c
        mtbf = 86_400 / c.failures_per_day(n_gpus)
        restart = 600.0
        return c.wasted_fraction(c.best_interval_s(checkpoint_s, restart, mtbf), checkpoint_s, restart, mtbf)
    return model


CLAIMS = [
    Holds("ch20.space", "the slowest config of the measured space is ≥ 2× the best: the knobs matter", _spread,
          at_least=2.0),
    Holds("ch20.space", "only a few configs (≤ 25%) sit within 5% of the best", _near_best_share, at_most=0.25,
          unit="%"),
    Holds("ch20.search", "on the GPU's 48-config matmul space random search needs no more trials than the "
          "model-based tuner (median, 40 seeds)", ratio(cell("model-based", 1), cell("random", 1)), at_least=1.0,
          tier="gpu"),
    Holds("ch20.gate", "the runner's gate rejects both work-skipping kernels before timing them", _shortcuts_rejected),
    Faster("ch20.candidates", "triton_tuned", than="triton_small_tiles", by=1.5, tier="gpu",
           text="the tuned Triton config is ≥ 1.5× the 32×32×32 tiles"),
    Holds("ch20.cluster", "at 100,000 GPUs a 1-minute checkpoint wastes more than a third of the machine at the "
          "best interval (Llama 3 failure rate, 10-minute restart)", lambda v: v, at_least=1 / 3, unit="%",
          model=_waste_at(100_000, 60.0)),
    Holds("ch20.cluster", "at 100,000 GPUs a 2-second in-memory checkpoint alone still wastes ≥ 20% (the 10-minute "
          "restart dominates): restarts must get faster too", lambda v: v, at_least=0.2, unit="%",
          model=_waste_at(100_000, 2.0)),
]
