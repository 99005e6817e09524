"""Chapter 5's measured outcomes as checked claims (perflab.claims), beside the book check.

Evidence: the H100 run of 2026-12-07 and a busy 2-core CPU: shards with 1 MiB reads 79× / 855× faster than
1,501 .npy files warm; shuffled cold 4 KiB reads 6.5× / 9.7× slower than sequential; batched transform 646× /
3.7× faster than the loop; DataLoader: two workers 2.55× / 3.13× over none, halving the step helps one worker
(1.10× / 1.31×) less than two (1.28× / 1.53×); on the busy CPU a second run inverted that, so the
one-worker claim is made for GPU hosts (spare cores) only."""
from perflab.claims import Faster, Holds

from labs.ch03_host_os._claims import step_ratio
from labs.ch05_data_pipeline.loader import LoaderSweep
from labs.ch05_data_pipeline.storage import StorageReads


def read_ratio(reads, slow, fast) -> "float | None":
    """Seconds to read everything as ``slow`` (reader, cache) over ``fast`` (a StorageReads; else None)."""
    if not isinstance(reads, StorageReads):
        return None
    a, b = reads.seconds(*slow), reads.seconds(*fast)
    return a / b if a and b else None


def busy(sweep, row: str) -> "float | None":
    """GPU-busy share of one loader config (LoaderSweep), capped at 1; None where it was not timed."""
    q = sweep.point(row) if isinstance(sweep, LoaderSweep) else None
    return min(q.busy, 1) if q and q.busy is not None else None


CLAIMS = [
    Holds("ch05.storage", "warm cache: four shards read with 1 MiB requests ≥ 10× faster than 1,501 .npy files",
          lambda t: read_ratio(t, ("many .npy files", "warm"), ("shards, 1 MiB reads", "warm")), at_least=10),
    Holds("ch05.storage", "cold cache: shuffled 4 KiB reads are ≥ 2× slower than sequential 4 KiB reads "
          "(read-ahead helps only the sequential ones)",
          lambda t: read_ratio(t, ("shards, random 4 KiB reads", "cold"), ("shards, 4 KiB reads", "cold")),
          at_least=2, why_not={"gpu": "the 'disk' of a VM may itself be cached by the host, so cold reads "
                                      "look warm"}),
    Faster("ch05.transforms", "torch_batched", than="python_loop", by=2.0,
           text="the batched torch transform is ≥ 2× faster than the per-image Python loop"),
    Faster("ch05.transforms", "torch_batched", than="python_loop", by=100, tier="gpu",
           text="on a GPU, where every small op of the loop is a launch, batching gains ≥ 100×"),
    Faster("ch05.transforms", "numpy_vectorized", than="python_loop", by=2.0,
           text="numpy over the whole batch is ≥ 2× faster than the loop"),
    Holds("ch05.loader", "with 0 workers the GPU is busy under half the time", lambda t: busy(t, "workers=0"),
          at_most=0.5, unit="%"),
    Holds("ch05.loader", "two workers make each step ≥ 2× faster than none",
          lambda t: step_ratio(t, "workers=0", "workers=2, prefetch=2"), at_least=2.0),
    Holds("ch05.loader", "one worker is input-bound: halving the step makes each step at most 1.2× faster",
          lambda t: step_ratio(t, "workers=1, prefetch=2", "workers=1, prefetch=2, step=4.5 ms"), at_most=1.2,
          tier="gpu"),
    Holds("ch05.loader", "a deeper queue (prefetch 4 vs 2) does not raise the average rate (±15%)",
          lambda t: step_ratio(t, "workers=2, prefetch=2", "workers=2, prefetch=4"), about=1.0, within=0.15),
]
