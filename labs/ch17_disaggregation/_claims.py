"""Chapter 17's measured outcomes as checked claims (perflab.claims), beside the book check.

Most of the chapter runs a simulator calibrated on this device, so most claims are Holds over the values
the notebook computes (``values={...}`` in ``claims.show``): ``ch17.calibration`` (the CostModel),
``ch17.compare`` (goodput.compare), ``ch17.little`` (SimResult.little()), ``ch17.tpot_sweep`` /
``ch17.link_sweep`` (goodput.sweep rows), ``ch17.routing`` / ``ch17.overload`` (scenarios tables) and
``ch17.handoff`` (handoff.measure). The book's worked example is exact arithmetic (``model=``)."""
from perflab.claims import AtLeast, Faster, Holds, cell, ratio

from labs.ch17_disaggregation.handoff import Handoff

_LAUNCH = ("the course engine's GPU forward is host-bound (about 9 ms of Python and launches per pass on the H100 "
           "whatever the tokens), so prefill cost hardly grows with the prompt")


def _book_gain():
    from labs.ch17_disaggregation.goodput import book_example
    return book_example()


def _prefill_growth(cost):
    return cost.prefill_s(1000) / cost.prefill_s(64) if hasattr(cost, "prefill_s") else None


def _decode_batch_cost(cost):
    return cost.decode_s(48, 256) / cost.decode_s(1, 256) if hasattr(cost, "decode_s") else None


def _little(v):
    L, lam, W = v
    return abs(L / (lam * W) - 1)


def _end(rows, first):
    """best split / colocated at one end of a sweep (first=True: the first point)."""
    if not isinstance(rows, list) or not rows:
        return None
    r = rows[0] if first else rows[-1]
    return r.disagg / r.coloc if r.coloc else None


def _all_exact(res):
    rows = res.rows if isinstance(res, Handoff) else None
    return all(r.bit_exact and r.tokens_equal for r in rows) if rows else None


CLAIMS = [
    Holds("ch17.book_example", "the book's 2P1D vs colocated example is 2.08× per GPU (3.33 vs 1.6 RPS/GPU)",
          lambda b: b.gain_per_gpu, about=2.08, within=0.01, model=_book_gain),
    Holds("ch17.calibration", "a decode step of 48 sequences costs far less than 48 steps of one (≤ 12×): the weights "
          "are read once per step", _decode_batch_cost, at_most=12.0),
    Holds("ch17.calibration", "on a CPU a 1,000-token prefill costs ≥ 3× a 64-token one", _prefill_growth,
          at_least=3.0, tier="cpu"),
    Holds("ch17.calibration", "on a GPU this small engine is launch-bound: a 1,000-token prefill costs ≤ 1.5× a "
          "64-token one", _prefill_growth, at_most=1.5, tier="gpu", why_not={"hopper": _LAUNCH}),
    Holds("ch17.compare", "one colocated GPU is TPOT-bound: its TTFT-only rate is ≥ 3× its TPOT-only rate",
          lambda c: c.cap.coloc_ttft / c.cap.coloc_tpot if getattr(c, "cap", None) and c.cap.coloc_tpot else None,
          at_least=3.0),
    Holds("ch17.compare", "the best xPyD split beats one colocated GPU per GPU (≥ 1.5×)",
          lambda c: max(c.simulated.values()) / c.cap.coloc_both if getattr(c, "cap", None) else None, at_least=1.5),
    Holds("ch17.compare", "three colocated GPUs (round robin) do at least about as well per GPU as one (≥ 0.85×; "
          "round robin smooths a bursty stream, 2.6× on a loaded CPU, 0.92× on the H100)",
          lambda c: c.coloc_same / c.cap.coloc_both if getattr(c, "cap", None) else None, at_least=0.85),
    Holds("ch17.little", "the simulator obeys Little's law: L = λ·W (within 0.1%)", _little, at_most=0.001, unit="%"),
    Holds("ch17.tpot_sweep", "at the tightest TPOT SLO the best split beats colocated GPUs", lambda r: _end(r, True),
          at_least=1.0),
    Holds("ch17.tpot_sweep", "at the loosest TPOT SLO colocated GPUs win", lambda r: _end(r, False), at_most=1.0),
    Holds("ch17.link_sweep", "on the slowest KV link colocated GPUs win", lambda r: _end(r, True), at_most=1.0),
    Holds("ch17.link_sweep", "on the fastest KV link the best split wins", lambda r: _end(r, False), at_least=1.0),
    Holds("ch17.routing", "the KV-aware router gets ≥ 1.5× the prefix hits of round robin",
          ratio(cell("KV-aware cost", "prefix hits"), cell("round robin", "prefix hits")), at_least=1.5),
    Holds("ch17.overload", "a priority queue keeps ≥ 90% of high-priority requests within the TTFT SLO at 1.5× load",
          cell("priority queue", "high: within TTFT SLO"), at_least=0.9, unit="%"),
    Holds("ch17.overload", "early rejection serves more of the admitted low-priority requests in time than the "
          "priority queue alone", lambda t: (cell("priority + early rejection", "low: within TTFT SLO")(t) or 0) >
          (cell("priority queue", "low: within TTFT SLO")(t) or 1)),
    Holds("ch17.handoff", "the decode worker receives the prefill worker's KV bit for bit and decodes the same tokens",
          _all_exact),
    Faster("ch17.kv_relayout", "one_copy", than="per_head_copies", by=5.0, tier="gpu",
           text="on a GPU one copy is ≥ 5× the 288 per-head copies (launch-bound)"),
    AtLeast("ch17.kv_relayout", "triton_relayout", "ceiling_fraction", 0.85, tier="gpu",
            text="the one-kernel Triton relayout reaches ≥ 85% of the copy ceiling"),
]
