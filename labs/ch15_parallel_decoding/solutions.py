"""Answers to the chapter 15 exercise; the kernel lives in its lab, so there is one copy.

Exercise (lab ``ch15.greedy_verify``): the starter walks every request and every draft position with
``.item()``, so on a GPU each comparison waits for the device. The answer computes every argmax at once,
turns "this draft and all before it matched" into a cumulative product of the match mask, counts the
accepted drafts per row, and keeps positions 0 … n (the accepted drafts plus the target's own token).
``vectorized`` is that answer: ``vectorized(logits=..., draft=...) -> (B, k+1) int64``.
"""
from labs.ch15_parallel_decoding.greedy_verify import vectorized


from labs.ch15_parallel_decoding import moe_layer as _moe  # noqa: E402
from perflab.exercise import Ceiling, Exercise, HostSyncs, Kernels, Step  # noqa: E402


def moe_one_scatter(x, w_gate, w1, w2, top_k, skew):
    """The deep exercise's answer: the fastest experts, then the lab's one-gather un-permute."""
    return _moe.moe_forward(x, w_gate, w1, w2, top_k, skew, _moe.fastest_experts(), _moe.unpermute)


EXERCISES = [
    Exercise("ch15.greedy_verify", answer=vectorized,
             evidence="H100 reference (491d8e4) at (251, 7, 50257): the starter row_by_row 0.3% of the copy "
                      "ceiling (51 ms), vectorized 73%",
             steps=[Step("no .item() per comparison",
                         hint="compare every draft at once: (draft == argmaxes[:, :k]) as an int mask",
                         cpu=[HostSyncs(at_most=0)], gpu=[HostSyncs(at_most=0)]),
                    Step("the whole batch in a few ops",
                         hint="cumprod of the match mask counts the accepted prefix; keep positions ≤ that count",
                         cpu=[Kernels(at_most=20)], gpu=[Kernels(at_most=20), Ceiling(at_least=0.4)])]),
    Exercise("ch15.moe_layer", answer=moe_one_scatter,
             evidence="no GPU record of this exercise; graded by structure on every tier (the starter: ~6 ops "
                      "per expert on the host loop)",
             steps=[Step("un-permute in one scatter and one weighted sum",
                         hint="rows = torch.empty_like(y_sorted); rows[p.order] = y_sorted; then "
                              "(rows.view(T, k, d).float() * gates[..., None]).sum(1)",
                         cpu=[Kernels(at_most=40)], gpu=[Kernels(at_most=40)])]),
]

__all__ = ["vectorized", "moe_one_scatter", "EXERCISES"]
