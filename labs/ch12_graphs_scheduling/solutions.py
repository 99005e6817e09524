"""Answers to the chapter 12 exercise; the kernels live in their labs, so there is one copy of each.

Exercise (lab ``ch12.skewed_queue``): the starter kernel gives each persistent program a fixed,
contiguous range of tiles, so the programs whose range holds the heavy items finish long after the
rest. The fix keeps the same programs but lets each one take its next tile from a shared counter:
``start = tl.atomic_add(counter_ptr, CHUNK)``, work through tiles ``start .. start + CHUNK``, grab
again, and stop when ``start`` passes the last tile (``_triton.dynamic_kernel``). ``dynamic_queue``
is that answer, a variant of the lab: ``dynamic_queue(x=..., cost=..., a=..., b=..., unit=...) -> y``.
"""
from labs.ch12_graphs_scheduling._triton import dynamic_kernel
from labs.ch12_graphs_scheduling.skewed_queue import dynamic_queue

__all__ = ["dynamic_kernel", "dynamic_queue"]
