"""Answers to the chapter 17 exercises.

Exercise (lab ``ch17.kv_relayout``): the starter converts the received KV head by head, one small strided
copy per (layer, K/V, head): 2·L·H kernel launches (288 for GPT-2 small), each moving a sliver of the
data. The answer is one strided copy of the whole set: ``src.transpose(2, 3).contiguous()`` swaps the
token and head axes in the view and lets a single kernel write the head-major result.

Try-it (the offload policy): any function with the keywords of ``policies.should_offload_prefill`` plugs
into ``scenarios.offload(cost, extra={...})``; ``offload_when_pool_idle`` below is one such alternative.
"""
from labs.ch17_disaggregation.kv_relayout import one_copy as relayout


def offload_when_pool_idle(prompt_length: int, prefix_cached_length: int, prefill_queue_size: int,
                           decode_active_reqs: int, **_) -> bool:
    """Offload every uncached prompt of 128+ tokens, but only while the prefill pool has nothing queued."""
    return prefill_queue_size == 0 and prompt_length - prefix_cached_length >= 128


from perflab.exercise import Ceiling, Exercise, Kernels, Step  # noqa: E402

EXERCISES = [Exercise(
    "ch17.kv_relayout", answer=relayout,
    evidence="H100 run 2026-12-07 at (12, 4001, 12, 64): per_head_copies 3.9% of the copy ceiling (the starter "
             "2%), one_copy 77%, triton_relayout 93%",
    steps=[Step("one strided copy, not 2·L·H",
                hint="src.transpose(2, 3).contiguous(): one kernel writes the head-major layout",
                cpu=[Kernels(at_most=2)], gpu=[Kernels(at_most=2), Ceiling(at_least=0.5)])])]

__all__ = ["relayout", "offload_when_pool_idle", "EXERCISES"]
