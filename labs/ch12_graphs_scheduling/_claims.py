"""Chapter 12's measured outcomes as checked claims (perflab.claims), beside the book check.

Lab claims read ``pl.run`` records; ``ch12.first_calls`` and ``ch12.launch_counts`` are the tables
``graphs.first_calls()`` and ``graphs.launch_counts()`` return (``values={...}`` in ``claims.show``)."""
from perflab.claims import About, AtMost, Faster, Holds, cell

CLAIMS = [
    Faster("ch12.launch_bound", "cuda_graph", than="eager", by=3.0, tier="gpu",
           text="at the launch-bound size a CUDA graph step is ≥ 3× an eager step"),
    Faster("ch12.launch_bound", "compiled", than="cuda_graph", by=1.5, tier="gpu",
           text="compile (one fused kernel, replayed as a graph) is ≥ 1.5× the plain graph: fusion gives the larger gain"),
    AtMost("ch12.launch_bound", "eager", "ceiling_fraction", 0.05, tier="gpu",
           text="a launch-bound step is far below every hardware limit (< 5% of the ceiling)"),
    Holds("ch12.first_calls", "the graph's capture pays for itself within 100 steps",
          cell("cuda_graph", "pays back after"), at_most=100, unit=" steps", tier="gpu"),
    Holds("ch12.first_calls", "the compile needs ≥ 1,000 steps to pay back", cell("compiled", "pays back after"),
          at_least=1000, unit=" steps", tier="gpu"),
    Holds("ch12.launch_counts", "an eager step launches 160 kernels from the host", cell("eager", "kernel launches"),
          about=160, within=0.01, unit="", tier="gpu"),
    Holds("ch12.launch_counts", "a graph step is one cudaGraphLaunch", cell("cuda_graph", "graph launches"),
          about=1, within=0.01, unit="", tier="gpu"),
    About("ch12.skewed_queue", "dynamic_queue", "static_split", 4.27, within=0.2, tier="gpu",
          text="the dynamic queue beats the static split by about the simulator's 4.27× (±20%)"),
    About("ch12.skewed_queue", "hardware_grid", "dynamic_queue", 1.0, within=0.1, tier="gpu",
          text="an ordinary grid of short blocks (the hardware's queue) matches the software queue (±10%)"),
    Faster("ch12.skewed_queue", "cuda_dynamic_warps", than="cuda_static_warps", by=2.0, tier="gpu",
           text="in CUDA C too, the warp queue is ≥ 2× the static warp split"),
    Faster("ch12.atomic_batch", "tiles_4", than="lane_1", by=1.2, tier="gpu",
           text="a few tiles per grab is ≥ 1.2× one item per grab (light items: the counter is the bottleneck)"),
    Faster("ch12.atomic_batch", "tiles_4", than="tiles_32", by=2.0, tier="gpu",
           text="grabs of 32 tiles bring the tail back: ≥ 2× slower than 4 tiles"),
    About("ch12.book_queue", "cuda_dynamic", "cuda_static", 1.0, within=0.2, tier="gpu",
          text="the book's warp queue on idx % 256 work lands within 20% of the static grid (the book: 2×)"),
]
