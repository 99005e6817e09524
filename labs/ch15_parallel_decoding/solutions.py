"""Answers to the chapter 15 exercise; the kernel lives in its lab, so there is one copy.

Exercise (lab ``ch15.greedy_verify``): the starter walks every request and every draft position with
``.item()``, so on a GPU each comparison waits for the device. The answer computes every argmax at once,
turns "this draft and all before it matched" into a cumulative product of the match mask, counts the
accepted drafts per row, and keeps positions 0 … n (the accepted drafts plus the target's own token).
``vectorized`` is that answer: ``vectorized(logits=..., draft=...) -> (B, k+1) int64``.
"""
from labs.ch15_parallel_decoding.greedy_verify import vectorized

__all__ = ["vectorized"]
