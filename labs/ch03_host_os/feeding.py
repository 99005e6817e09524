"""Feeding the GPU from the host: DataLoader workers, pin_memory and prefetch against a GPU step.

Chapter 5's notebook owns the input pipeline; here we reuse its loader (labs.ch05_data_pipeline.loader:
a dataset with a simulated read latency, a real transform, and a simulated GPU step) with the settings
Chapter 3 is about: more worker processes, pinned batches and a deeper prefetch queue. On a GPU the
batch is really copied to the device (from pinned memory when pin_memory=True).
"""
from __future__ import annotations

from dataclasses import replace

from labs.ch05_data_pipeline import loader

PIPELINE = replace(loader.Pipeline(), fetch_us=700.0, step_ms=8.0)

SWEEP = [     # baseline first; the step=0 row is the loader alone (the model column needs it)
    {"num_workers": 0},
    {"num_workers": 0, "step_ms": 0.0},
    {"num_workers": 1, "prefetch_factor": 2},
    {"num_workers": 2, "prefetch_factor": 2},
    {"num_workers": 2, "prefetch_factor": 4},
    {"num_workers": 0, "pin_memory": True},
    {"num_workers": 2, "prefetch_factor": 2, "pin_memory": True},
]


def run_sweep(sweep: list | None = None, rep_ms: float = 120) -> loader.LoaderSweep:
    """Chapter 5's loader sweep over this chapter's settings (checked, then timed); ``.table()`` shows it."""
    return loader.run_sweep(SWEEP if sweep is None else sweep, PIPELINE, rep_ms=rep_ms)


def pin_gain(sweep: loader.LoaderSweep) -> float | None:
    """Time saved per step by pin_memory=True at the same workers/prefetch (2 workers, prefetch 2)."""
    ratio = sweep.step_ratio("workers=2, prefetch=2, pinned", "workers=2, prefetch=2")
    return None if ratio is None else 1 - ratio
