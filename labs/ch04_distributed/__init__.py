"""Chapter 4 labs: distributed communication.

`ring_allreduce` is a lab in the usual shape (simulated ranks as rows of one tensor). The real
multi-process measurements live in `dist_bench.py`, which torchrun launches as 2 processes (NCCL on 2
GPUs, gloo on CPU); `launch` starts it from the notebook and turns its JSON into Tables. `models` holds
the α–β and overlap calculators, `book_check` the book's numbers against ours, `solutions` the exercise.
"""
LABS = ["ring_allreduce"]    # every other module here is a helper
