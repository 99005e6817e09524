"""The answer to Chapter 4's exercise: a ring all-reduce (reduce-scatter, then all-gather)."""
from labs.ch04_distributed.ring_allreduce import ring_schedule


def my_allreduce(x):
    return ring_schedule(x)
