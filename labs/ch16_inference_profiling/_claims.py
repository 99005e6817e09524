"""Chapter 16's measured outcomes as checked claims (perflab.claims), beside the book check.

Lab claims read ``pl.run`` records. The serving experiments return typed values, shown with
``values={...}`` in ``claims.show``: ``ch16.batch_sweep`` (``serving.BatchSweep``),
``ch16.batching`` (``serving.Batching``), ``ch16.arrivals`` (``serving.Arrivals``) and
``ch16.chunked`` (``serving.chunked_prefill``'s ``ChunkRow`` list)."""
from perflab.claims import About, Faster, Holds

from labs.ch16_inference_profiling.serving import Arrivals, Batching, BatchSweep, ChunkRow

_LAUNCH = ("a small model's decode iteration on a GPU is launch-bound: a 950-token prefill costs about what a "
           "decode step does, so chunking it only adds iterations")


def _batching(read):
    """A reader of a Batching result (None for anything else: not measured)."""
    return lambda b: read(b) if isinstance(b, Batching) else None


def _batch_gain(sweep):
    return sweep.gain(8) if isinstance(sweep, BatchSweep) and {1, 8} <= sweep.tokens_per_s.keys() else None


def _slo_gap(out):
    return out.continuous.slo_met - out.static.slo_met if isinstance(out, Arrivals) else None


def _rows(raw, field):
    return [getattr(r, field) for r in raw] if isinstance(raw, list) and raw and isinstance(raw[0], ChunkRow) \
        else None


def _ttft_grows(raw):
    t = _rows(raw, "long_ttft")
    return None if t is None else all(a < b for a, b in zip(t, t[1:]))


def _gap_ratio(raw):
    """Decoders' longest gap at the smallest chunk over the whole-prompt row."""
    g = _rows(raw, "max_gap")
    return None if not g else g[-1] / g[0]


def _same_work(raw):
    c = _rows(raw, "computed")
    return None if c is None else len(set(c)) == 1


CLAIMS = [
    Faster("ch16.kv_cache", "kv_cache", than="no_cache", by=3.0,
           text="the KV cache is ≥ 3× recomputing the sequence, far below the ~500× arithmetic ratio"),
    Faster("ch16.prefix_caching", "prefix_cache", than="recompute", by=1.5,
           text="reusing the document's cached prefix is ≥ 1.5× full prefills (the token ratio is its ceiling)"),
    Faster("ch16.cuda_graph_decode", "cuda_graph", than="eager", by=2.5, tier="gpu",
           text="at batch 1 the CUDA-graph decode step is ≥ 2.5× eager: most of an eager step is launch overhead "
                "(how much depends on the host CPU's launch speed)"),
    About("ch16.cuda_graph_decode", "static_eager", "eager", 1.0, within=0.15,
          text="fixed shapes alone (static_eager, no graph) buy nothing (±15%)"),
    Holds("ch16.batch_sweep", "on a GPU a batch of 8 decodes ≥ 6× the tokens/s of batch 1 (the step reads the "
          "weights once whatever the batch)", _batch_gain, at_least=6.0, tier="gpu"),
    Holds("ch16.batching", "continuous batching gives ≥ 2× the throughput of static batching on uneven outputs",
          _batching(lambda b: b.ratio), at_least=2.0),
    Holds("ch16.batching", "continuous batching cuts TTFT p99",
          _batching(lambda b: b.continuous.ttft_p99 < b.static.ttft_p99 if b.static.ttft_p99 else None)),
    Holds("ch16.batching", "continuous batching raises TPOT p50 (prefills run inside decode iterations)",
          _batching(lambda b: b.continuous.tpot_p50 > b.static.tpot_p50 if b.static.tpot_p50 else None)),
    Holds("ch16.arrivals", "under arrivals continuous batching meets the SLO for ≥ 30 points more of the requests",
          _slo_gap, at_least=0.3, unit="%"),
    Holds("ch16.chunked", "every chunk size computes the same prompt tokens", _same_work),
    Holds("ch16.chunked", "the long prompt's TTFT grows as the chunk shrinks", _ttft_grows),
    Holds("ch16.chunked", "on a CPU the decoders' longest gap falls with the chunk (to ≤ 0.8× at the smallest)",
          _gap_ratio, at_most=0.8, tier="cpu"),
    Holds("ch16.chunked", "on a GPU, at this small model, the decoders' longest gap does not fall (≥ 0.9×)",
          _gap_ratio, at_least=0.9, tier="gpu", why_not={"gpu": _LAUNCH}),
]
