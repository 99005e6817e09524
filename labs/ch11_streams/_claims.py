"""Chapter 11's measured outcomes as checked claims (perflab.claims), beside the book check.

Lab claims read ``pl.run`` records; the probes (``sync_points``' PairProbe, ``allocator``'s ReuseRace and
StreamPools) are data the Holds claims read, shown with ``values={"ch11.alloc_probe": probe, ...}``."""
from perflab.claims import AtMost, Faster, Holds

_SHARED = {"cpu": "CPU tier: the three stages share the cores and the memory bandwidth (a loaded 2-core "
                  "machine may show no gain at all)"}


def _ratio(case):
    """The probe table's time for ``case`` over its first row (None on the cpu tier: a one-line string)."""
    return lambda t: getattr(t, "ratios", {}).get(case)


def _wrong_share(fix):
    """Share of the side stream's results that came out wrong with this fix (from reuse_race's ReuseRace)."""
    def read(race):
        case = race.case(fix) if hasattr(race, "case") else None         # a str on the cpu tier
        return case.wrong_share if case else None
    return read


def _pool_growth(pools):
    """Memory torch keeps after 4 streams used one buffer each, over one stream reusing it 4 times."""
    return getattr(pools, "growth", None)                                # a str on the cpu tier


CLAIMS = [
    Faster("ch11.overlap", "stage_events", than="serial", by=1.4, tier="gpu",
           text="a stream per stage chained by events is ≥ 1.4× one stream (8 chunks, balanced stages)"),
    Faster("ch11.overlap", "streams_3", than="streams_2", by=1.05, tier="gpu",
           text="three round-robin streams beat two: with two, a stream's next copy-in waits for its own copy-out"),
    AtMost("ch11.overlap", "stage_events", "speedup_vs_baseline", 2.4, tier="gpu",
           text="the measured overlap stays under the 8-chunk bound for three equal stages (2.4×)"),
    AtMost("ch11.overlap", "serial", "ceiling_fraction", 0.4, tier="gpu",
           text="serialized, three equal stages move the batch at about a third (≤ 40%) of the pinned H2D rate"),
    Faster("ch11.overlap", "serial", than="sync_each_stage", by=1.03, tier="gpu",
           text="a device-wide sync after every operation is slower than plain one-stream code"),
    Faster("ch11.alloc_loop", "torch_caching", than="cuda_malloc", by=1.4, tier="gpu",
           text="torch's caching allocator is ≥ 1.4× a cudaMalloc + cudaFree per piece"),
    Faster("ch11.alloc_loop", "cupy_pool", than="cuda_malloc", by=1.3, tier="gpu",
           text="CuPy's caching pool is ≥ 1.3× a cudaMalloc + cudaFree per piece"),
    Faster("ch11.alloc_loop", "torch_caching", than="cupy_async_pool", by=1.3, tier="gpu",
           text="with CuPy's default pool settings, cudaMallocAsync per piece is slower than a caching pool"),
    Holds("ch11.streams_probe", "a blocking stream next to the legacy default stream serializes the pair (≥ 1.5×)",
          _ratio("blocking stream, then the legacy default stream"), at_least=1.5, tier="gpu"),
    Holds("ch11.streams_probe", "a non-blocking stream (torch's kind) overlaps the legacy default stream (≤ 1.2×)",
          _ratio("non-blocking stream, then the legacy default stream"), at_most=1.2, tier="gpu"),
    Holds("ch11.alloc_probe", "cudaFree between two launches serializes them (≥ 1.5× the pair alone)",
          _ratio("cudaFree (of a block allocated before)"), at_least=1.5, tier="gpu"),
    Holds("ch11.alloc_probe", "cudaMalloc of 1 MB between two launches leaves them overlapping (≤ 1.2×)",
          _ratio("cudaMalloc"), at_most=1.2, tier="gpu"),
    Holds("ch11.alloc_probe", "cudaMallocAsync + cudaFreeAsync leave the pair overlapping (≤ 1.2×)",
          _ratio("cudaMallocAsync + cudaFreeAsync on the second stream"), at_most=1.2, tier="gpu"),
    Holds("ch11.reuse_race", "freeing a buffer another stream still reads gives wrong results (≥ 50% wrong)",
          _wrong_share("none"), at_least=0.5, unit="%", tier="gpu"),
    Holds("ch11.reuse_race", "record_stream makes every result right", _wrong_share("record_stream"),
          at_most=0.0, unit="%", tier="gpu"),
    Faster("ch11.threads", "threads", than="serial", by=1.2, why_not=_SHARED,
           text="a thread per stage is ≥ 1.2× one thread on a machine with free cores"),
    Holds("ch11.stream_pools", "torch's cache keeps a block per stream: 4 streams keep ≥ 3× one stream's memory",
          _pool_growth, at_least=3.0, tier="gpu"),
]
