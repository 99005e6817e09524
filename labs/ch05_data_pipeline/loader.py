"""Who is the bottleneck: a DataLoader feeding a (simulated) GPU step, swept over workers and prefetch.

The dataset holds uint8 images in memory; each __getitem__ first *fetches* the sample, simulated as a wait
of ``fetch_us`` microseconds (the latency of a read from a network filesystem or object store), then runs
the chapter's flip+normalize transform for real. The training step is simulated too: the host sleeps
``step_ms`` as it would while waiting on a GPU. On a GPU the batch is also really copied to the device
(pinned or not) before the step. Waits, unlike CPU-heavy decoding, overlap across workers even on a
two-core machine, so the sweep shows the pipeline's shape without needing many cores.

    SWEEP = [{"num_workers": 0}, {"num_workers": 2, "prefetch_factor": 4}, ...]   # a sweep is data
    run_sweep(SWEEP)     # a LoaderSweep: every config checked (same batches as a plain loop), then timed
"""
from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field, replace

import torch
from torch.utils.data import DataLoader, Dataset

from labs._shown import shows_table
from labs.ch05_data_pipeline import transforms


@dataclass(frozen=True)
class Pipeline:
    """One input pipeline: the dataset, the batch and the step it feeds."""
    n_images: int = 97              # distinct images; the dataset cycles through them
    length: int = 100_003           # samples the dataset claims: long enough that timing never ends an epoch
    batch_size: int = 12
    fetch_us: float = 900.0         # simulated storage latency per sample (µs), before the real transform
    step_ms: float = 9.0            # simulated GPU step per batch (ms)
    seed: int = 0


class FetchDataset(Dataset):
    """uint8 images in memory; __getitem__ = wait ``fetch_us`` (the read), then flip + normalize."""

    def __init__(self, p: Pipeline):
        inputs = transforms.make_inputs(p.n_images, "cpu", "float32", p.seed)
        self.images, self.flip, self.fetch_s, self.length = inputs["images"], inputs["flip"], p.fetch_us * 1e-6, p.length

    def __len__(self):
        return self.length

    def __getitem__(self, i):
        if self.fetch_s:
            time.sleep(self.fetch_s)                 # the read: the worker waits, the core is free
        j = i % len(self.images)
        return transforms.torch_batched(self.images[j:j + 1], self.flip[j:j + 1], transforms.MEAN, transforms.STD)[0]


def expected_batches(p: Pipeline, n_batches: int) -> list:
    """The first batches a plain loop over the dataset produces: what every DataLoader config must yield."""
    ds = FetchDataset(replace(p, fetch_us=0.0))
    return [torch.stack([ds[i] for i in range(b * p.batch_size, (b + 1) * p.batch_size)]) for b in range(n_batches)]


def make_loader(p: Pipeline, cfg: dict) -> DataLoader:
    """A DataLoader from a sweep entry such as {"num_workers": 2, "prefetch_factor": 4, "pin_memory": True}."""
    kw = {k: v for k, v in cfg.items() if k in ("num_workers", "prefetch_factor", "pin_memory")}
    if kw.get("num_workers", 0) > 0:
        kw.update(persistent_workers=True, multiprocessing_context="fork")
    return DataLoader(FetchDataset(p), batch_size=p.batch_size, shuffle=False, **kw)


@dataclass
class Feed:
    """One training step per call: wait for the next batch, copy it to the GPU (if any), run the step.
    Records the time blocked in next() and in the step for every call."""
    loader: DataLoader
    step_s: float
    wait_s: list = field(default_factory=list)
    busy_s: list = field(default_factory=list)

    def __post_init__(self):
        self.it = iter(self.loader)

    def __call__(self, keep: bool = False):
        t0 = time.perf_counter()
        batch = next(self.it)
        t1 = time.perf_counter()
        if torch.cuda.is_available():
            batch = batch.to("cuda", non_blocking=self.loader.pin_memory)
        if self.step_s:
            time.sleep(self.step_s)                  # the GPU is busy; the host only waits
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.wait_s.append(t1 - t0)
        self.busy_s.append(time.perf_counter() - t1)
        return batch.cpu() if keep else None

    def close(self):
        del self.it
        gc.collect()

    def mean(self, which: str, skip: int) -> float:
        """Mean over the calls after the first ``skip`` (which include starting the workers)."""
        v = getattr(self, which)[skip:]
        return sum(v) / len(v) if v else 0.0


def check(p: Pipeline, cfg: dict, n_batches: int = 9) -> str:
    """'' when this config yields exactly the plain loop's batches, in order; else what differs."""
    feed = Feed(make_loader(replace(p, fetch_us=0.0), cfg), 0.0)
    try:
        got = [feed(keep=True) for _ in range(n_batches)]
    finally:
        feed.close()
    for i, (g, w) in enumerate(zip(got, expected_batches(p, n_batches))):
        if g.shape != w.shape or not torch.equal(g, w):
            return f"batch {i} differs (shape {tuple(g.shape)} vs {tuple(w.shape)})"
    return ""


def label(cfg: dict) -> str:
    parts = [f"workers={cfg.get('num_workers', 0)}"]
    if cfg.get("num_workers", 0) and "prefetch_factor" in cfg:
        parts.append(f"prefetch={cfg['prefetch_factor']}")
    if cfg.get("pin_memory"):
        parts.append("pinned")
    if "step_ms" in cfg:
        parts.append(f"step={cfg['step_ms']:g} ms")
    return ", ".join(parts)


SWEEP = [      # baseline first; the "step=" rows halve or remove the GPU step (the diagnosis, L2423–L2433)
    {"num_workers": 0},
    {"num_workers": 0, "step_ms": 0.0},
    {"num_workers": 1, "prefetch_factor": 2},
    {"num_workers": 1, "prefetch_factor": 2, "step_ms": 4.5},
    {"num_workers": 2, "prefetch_factor": 2},
    {"num_workers": 2, "prefetch_factor": 2, "step_ms": 4.5},
    {"num_workers": 2, "prefetch_factor": 4},
    {"num_workers": 2, "prefetch_factor": 2, "pin_memory": True},
]


def time_config(p: Pipeline, cfg: dict, rep_ms: float = 150):
    """(Measurement of one steady-state step, Feed with the wait/busy samples) for one sweep entry."""
    import perflab as pl
    pp = replace(p, step_ms=cfg.get("step_ms", p.step_ms))
    feed = Feed(make_loader(pp, cfg), pp.step_ms * 1e-3)
    try:
        for _ in range(2 * max(1, cfg.get("num_workers", 0)) * cfg.get("prefetch_factor", 2)):
            feed()                                   # start workers and fill the queue before timing
        skip = len(feed.wait_s)
        m = pl.bench(feed, rep_ms=rep_ms, mode="cpu", label=label(cfg))
    finally:
        feed.close()
    feed.skip = skip
    return m, feed, pp


@dataclass(frozen=True)
class LoaderPoint:
    """One config of the sweep: its label, whether it yields the plain loop's batches ('' when it does, else
    why not, or why it was not timed), and for a timed one: the median time per step (s), the simulated
    step it fed (ms), its workers and queue depth, the mean wait in next() (s) and the GPU-busy share."""
    label: str
    config: dict
    why: str = ""
    median_s: float | None = None
    step_ms: float = 0.0
    workers: int = 0
    queue: int = 0
    wait_s: float | None = None
    busy: float | None = None


@dataclass(frozen=True)
class Stall:
    """The book's stall arithmetic measured: GPU busy share of the first row and of the fastest row at the
    same step, and the speedup between them."""
    busy_before: float
    busy_after: float
    speedup: float


@shows_table
@dataclass(frozen=True)
class LoaderSweep:
    """What :func:`run_sweep` measured: the pipeline, one LoaderPoint per config (in sweep order) and the
    device; ``table()`` draws it and runs nothing."""
    pipeline: Pipeline
    points: tuple[LoaderPoint, ...]
    device: str

    def point(self, label: str) -> LoaderPoint | None:
        return next((q for q in self.points if q.label == label), None)

    def step_ratio(self, slow: str, fast: str) -> float | None:
        """Time per step of config ``slow`` over config ``fast`` (labels), or None where one was not timed."""
        a, b = self.point(slow), self.point(fast)
        return a.median_s / b.median_s if a and b and a.median_s and b.median_s else None

    @property
    def stall(self) -> Stall | None:
        """First row against the fastest row at the pipeline's own step (None with fewer than two)."""
        same = [q for q in self.points if q.median_s and q.step_ms == self.pipeline.step_ms]
        if len(same) < 2:
            return None
        best = min(same, key=lambda q: q.median_s)
        return Stall(min(same[0].busy, 1), min(best.busy, 1), same[0].median_s / best.median_s)

    def table(self):
        from perflab.measure import format_time
        from perflab.table import Table
        from labs.ch05_data_pipeline.calculators import pipeline_batch_s
        p, timed = self.pipeline, [q for q in self.points if q.median_s]
        load_s = next((q.median_s for q in timed if q.workers == 0 and q.step_ms == 0), None)  # the loader alone
        rows = []
        for q in self.points:
            if not q.median_s:
                rows.append([q.label, q.why] + ["—"] * 7)
                continue
            model = format_time(pipeline_batch_s(load_s, q.step_ms * 1e-3, q.workers)) if load_s else "—"
            rows.append([q.label, "✅ same batches", format_time(q.median_s), f"{p.batch_size / q.median_s:,.0f}",
                         model, format_time(q.wait_s), f"{min(q.busy, 1):.0%}",
                         f"{timed[0].median_s / q.median_s:.2f}×", str(q.queue)])
        return Table(["config", "check", "per step", "samples/s", "model", "blocked in next()", "GPU busy",
                      "vs first", "queue"], rows,
                     title=(f"DataLoader sweep: batch {p.batch_size}, fetch {p.fetch_us:g} µs/sample, step "
                            f"{p.step_ms:g} ms · measured on {self.device}"), notes=self._notes())

    def _notes(self) -> list[str]:
        notes = ["the step is simulated (the host sleeps step_ms, as it would waiting on a GPU); "
                 + ("the H2D copy is real" if torch.cuda.is_available() else "no GPU here, so no H2D copy"),
                 "per step = one next() + the step, in steady state (workers started, queue full); "
                 "GPU busy = step time / time per step (the goodput of this loop)",
                 "model = step + load with 0 workers, max(step, load / workers) with workers, where load is the "
                 "'workers=0, step=0 ms' row; it leaves out handing each batch from a worker to the main process",
                 "queue = batches the loader keeps in flight, num_workers × prefetch_factor (L2299)"]
        per = {(label({**q.config, "step_ms": 0}), q.step_ms): q.median_s for q in self.points if q.median_s}
        for (name, step), t in per.items():
            t_half = per.get((name, step / 2)) if step else None
            if t_half:
                r = t / t_half
                verdict = ("the input pipeline is the bottleneck: a faster GPU would not help" if r < 1.15 else
                           "the step was the bottleneck: a faster GPU helps until loading is exposed" if r > 1.3
                           else "near balance: loading and the step both limit it (a busy machine blurs this)")
                notes.append(f"diagnosis, {name.replace(', step=0 ms', '')}: halving the step from {step:g} to "
                             f"{step / 2:g} ms made each step {r:.2f}× faster → {verdict}")
        return notes


def run_sweep(sweep: list | None = None, p: Pipeline = Pipeline(), rep_ms: float = 150) -> LoaderSweep:
    """Check each config (same batches), then time one steady-state step of each with pl.bench."""
    from perflab.machine import env
    points = []
    for cfg in SWEEP if sweep is None else sweep:
        if cfg.get("pin_memory") and not torch.cuda.is_available():
            points.append(LoaderPoint(label(cfg), cfg, "— needs CUDA: pinned host memory only speeds up copies to "
                                                       "a GPU"))
            continue
        why = check(p, cfg)
        if why:
            points.append(LoaderPoint(label(cfg), cfg, f"❌ {why} — not timed"))
            continue
        m, feed, pp = time_config(p, cfg, rep_ms)
        workers = cfg.get("num_workers", 0)
        points.append(LoaderPoint(label(cfg), cfg, median_s=m.median, step_ms=pp.step_ms, workers=workers,
                                  queue=workers * cfg.get("prefetch_factor", 2) if workers else 0,
                                  wait_s=feed.mean("wait_s", feed.skip), busy=pp.step_ms * 1e-3 / m.median))
    return LoaderSweep(p, tuple(points), env().device)
