"""Chapter 4's measured outcomes as checked claims (perflab.claims), beside the book check.

On one device the all-reduce "ranks" are rows of one tensor, so the lab's times are memory and launch
times, not network times: the claim that carries over to a network is the traffic per rank (a model)."""
from perflab.claims import Faster, Holds

from labs.ch04_distributed import models

CLAIMS = [
    Holds("ch04.ring_traffic", "a ring sends 2(N−1)/N·S per rank, < 1/(N−1) of what reduce-broadcast sends "
          "through rank 0 (N = 2 … 72)",
          lambda rows: all(ring * (n - 1) <= hot for n, ring, hot in rows),
          model=lambda: [(n, models.ring_bytes_per_rank(n, 1.0), 2 * (n - 1)) for n in range(2, 73)]),
    Faster("ch04.ring_allreduce", "torch_sum", than="reduce_broadcast", tier="gpu",
           text="on one GPU the library's one-kernel sum beats the rank-0 loop (it reads every row once)"),
]
