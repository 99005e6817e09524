"""Chapter 15's measured outcomes as checked claims (perflab.claims), beside the book check.

The speculative-decoding claims are about counts (tokens per round, acceptance) and measured cost ratios,
which do not depend on one noisy timing; "ch15.k_sweep" is the value ``spec_decode.k_sweep`` returns."""
from perflab.claims import AtMost, Faster, Holds

_HOST = ("this engine's decode is host-bound (Python launches a few hundred small kernels per pass), so one "
         "scheduling hiccup moves a row; rerun the cell")


def _moe(skew, cf):
    def model():
        from labs.ch15_parallel_decoding import moe
        r = moe.simulate(capacity_factor=cf, skew=skew)
        rr = moe.simulate(capacity_factor=cf, skew=skew, reroute=True)
        return {"drop": r.drop_fraction, "busiest": r.max_over_mean, "rank": r.rank_imbalance,
                "after_reroute": rr.drop_fraction}
    return model


def _tp_phase(res, phase):
    """One phase of tp.launch()'s TPRun, None where the launch or that phase did not run."""
    return res.phase(phase) if res is not None else None


def _tp_same(res):
    """TP's logits agree with one process's (max |Δ| ≤ 1e-4, same argmax) in prefill and in decode; None where
    the prefill (or, after a matching prefill, the decode) was not measured."""
    same = [None if r is None else r.max_abs_diff <= 1e-4 and r.tokens_equal
            for r in (_tp_phase(res, "prefill"), _tp_phase(res, "decode"))]
    return None if same[0] is None else same[0] and same[1]


def _tp_decode_speedup(res):
    """1-process time ÷ TP time of a decode step."""
    return getattr(_tp_phase(res, "decode"), "speedup", None)


CLAIMS = [
    AtMost("ch15.speculative", "target_only", "ceiling_fraction", 0.2, tier="gpu",
           text="batch-1 eager decoding streams the weights at < 20% of the copy bandwidth (launch-bound)"),
    Holds("ch15.k_sweep", "every speculative output equals the target's greedy output, token for token",
          lambda ks: all(r.equal for r in ks.rows)),
    Holds("ch15.k_sweep", "measured tokens per round match E(α̂, k) within 10% at every k",
          lambda ks: max(abs(r.tokens_per_round / r.expected - 1) for r in ks.rows), at_most=0.10, unit="%"),
    Holds("ch15.k_sweep", "tokens per round grow with the draft length k",
          lambda ks: all(a.tokens_per_round < b.tokens_per_round for a, b in zip(ks.rows, ks.rows[1:]))),
    Holds("ch15.k_sweep", "a 1-layer draft step costs ≤ 0.25 of a target step (c, measured)", lambda ks: ks.c,
          at_most=0.25, unit="", tier="gpu", why_not={"hopper": _HOST}),
    Holds("ch15.k_sweep", "the (k+1)-token verification pass costs about one step (≤ 1.2×) at every k",
          lambda ks: max(r.verify for r in ks.rows), at_most=1.2, tier="gpu", why_not={"hopper": _HOST}),
    Faster("ch15.decode_linear", "one_gemm", than="one_token_at_a_time", by=20.0, tier="gpu",
           text="61 tokens as one GEMM are ≥ 20× 61 matrix-vector products (the weights are read once)"),
    Holds("ch15.moe_routing", "uniform routing: the busiest expert gets ≤ 1.3× the mean, so CF 1.25 drops < 1%",
          lambda v: v["drop"], at_most=0.01, unit="%", model=_moe(0.0, 1.25)),
    Holds("ch15.moe_routing", "Zipf skew 0.5: the hottest expert needs ≥ 4× the mean capacity",
          lambda v: v["busiest"], at_least=4.0, model=_moe(0.5, 1.25)),
    Holds("ch15.moe_routing", "Zipf skew 0.5 at CF 1.25 drops ≥ 10% of assignments", lambda v: v["drop"],
          at_least=0.10, unit="%", model=_moe(0.5, 1.25)),
    Holds("ch15.moe_routing", "rerouting to the next choices leaves < 2% dropped at skew 0.5, CF 1.25",
          lambda v: v["after_reroute"], at_most=0.02, unit="%", model=_moe(0.5, 1.25)),
    Holds("ch15.tp", "TP=2 reproduces the single-process logits (≤ 1e-4) and tokens, prefill and decode",
          _tp_same),
    Holds("ch15.tp", "a TP=2 decode step is slower than one process (few tokens per all-reduce)",
          _tp_decode_speedup, at_most=1.0),
    Holds("ch15.k_sweep", "on a CPU the (k+1)-token verification pass costs more than one step",
          lambda ks: max(r.verify for r in ks.rows), at_least=1.0, tier="cpu"),
]
