"""Hidden synchronization, measured: two busy-wait kernels on two streams, and what stops them overlapping.

Each kernel is one 32-thread block spinning for ``spin_ms`` on the GPU's clock, so two of them fit on the
GPU together: if their streams are independent, the pair takes about ``spin_ms``; if something between
them serializes the streams, about twice that. We change one thing at a time:

- ``default_stream``: the legacy default stream (stream 0) against a *blocking* stream vs a
  *non-blocking* one (book L4581: work on stream 0 waits for, and blocks, the other streams);
- ``allocation``: what the host calls between the two launches — nothing, cudaMalloc, cudaFree,
  cudaMallocAsync/cudaFreeAsync, torch.empty (book L4597–L4599).

Each returns a :class:`PairProbe` (``.ratios``, ``.table()``). Needs a CUDA GPU and CuPy; on the cpu tier
each function returns a one-line explanation instead.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

import perflab as pl
from perflab.measure import format_time
from perflab.table import Table

from labs._shown import shows_table


def _reason(what: str) -> str | None:
    e = pl.env()
    if e.tier != "gpu" or not e.has("cupy"):
        return f"needs a CUDA GPU and CuPy (busy-wait kernels on chosen streams): {what}"
    return None


def _launch_spin(stream, ns: int) -> None:
    """One busy-wait kernel on ``stream``: a torch stream (launched through torch's current stream) or a
    CuPy stream object (launched on it directly)."""
    from labs.ch11_streams import _cuda
    if isinstance(stream, torch.cuda.Stream):
        with torch.cuda.stream(stream):
            _cuda.spin(ns)
    else:
        _cuda.kernel("spin")((1,), (32,), (ns,), stream=stream)


def _pair(first, second, between=lambda: None, after=lambda: None, spin_ms: float = 1.0):
    """A zero-argument callable: spin on stream ``first``, call ``between`` on the host, spin on
    ``second``, wait for the device, then ``after`` (clean-up, outside the interesting window)."""
    ns = int(spin_ms * 1e6)

    def fn():
        _launch_spin(first, ns)
        between()
        _launch_spin(second, ns)
        torch.cuda.synchronize()
        after()
    return fn


@dataclass(frozen=True)
class PairCase:
    """One case of a probe: what ran around the two launches, and the pair's median, p20 and p80 (s)."""
    name: str
    median_s: float
    p20_s: float
    p80_s: float


@shows_table
@dataclass(frozen=True)
class PairProbe:
    """Two ``spin_ms`` busy-wait kernels timed per case, the first case the baseline; ``table()`` draws it."""
    title: str
    spin_ms: float
    device: str
    cases: tuple[PairCase, ...]
    notes: tuple[str, ...] = ()

    @property
    def ratios(self) -> dict[str, float]:
        """{case: its time / the first case's time}."""
        return {c.name: c.median_s / self.cases[0].median_s for c in self.cases}

    def table(self) -> Table:
        rows = [[c.name, format_time(c.median_s), f"{format_time(c.p20_s)}–{format_time(c.p80_s)}",
                 f"{self.ratios[c.name]:.2f}×", "overlap" if c.median_s < 1.5 * self.spin_ms * 1e-3 else "serialized"]
                for c in self.cases]
        return Table(["case", "pair takes", "p20–p80", "vs the first row", "streams"], rows,
                     title=f"{self.title} · two {self.spin_ms:g} ms busy-wait kernels · measured on {self.device}",
                     notes=list(self.notes))


def _probe(cases, spin_ms, title, notes) -> PairProbe:
    """Time each case with pl.bench."""
    timed = []
    for name, fn in cases:
        m = pl.bench(fn, rep_ms=40, label=name)
        timed.append(PairCase(name, m.median, m.p20, m.p80))
    return PairProbe(title, spin_ms, pl.env().device, tuple(timed), tuple(notes))


def default_stream(spin_ms: float = 1.0) -> PairProbe | str:
    """A kernel on a side stream and one on the legacy default stream: blocking vs non-blocking side stream."""
    if (why := _reason("it would show a blocking stream and the legacy default stream serializing "
                       f"(about {2 * spin_ms:g} ms for the pair) while a non-blocking stream overlaps "
                       f"({spin_ms:g} ms)")):
        return why
    import cupy
    legacy = cupy.cuda.Stream.null                             # the legacy default stream (handle 0)
    nonblocking = torch.cuda.Stream()                          # torch creates its streams non-blocking
    blocking = cupy.cuda.Stream(non_blocking=False)            # flags 0: synchronizes with stream 0
    other = torch.cuda.Stream()
    cases = [("two non-blocking streams", _pair(nonblocking, other, spin_ms=spin_ms)),
             ("non-blocking stream, then the legacy default stream", _pair(nonblocking, legacy, spin_ms=spin_ms)),
             ("blocking stream, then the legacy default stream", _pair(blocking, legacy, spin_ms=spin_ms))]
    return _probe(cases, spin_ms, "The legacy default stream",
                  [f"legacy default stream = cupy.cuda.Stream.null (handle {legacy.ptr}), the same as "
                   "torch.cuda.default_stream(); torch.cuda.Stream() is created non-blocking, "
                   "cupy.cuda.Stream(non_blocking=False) is not",
                   "per-thread default streams (nvcc --default-stream per-thread) would also avoid it"])


def allocation(spin_ms: float = 1.0, nbytes: int = 1 << 20) -> PairProbe | str:
    """What an allocation call on the host between two launches does to their overlap."""
    if (why := _reason("it would show cudaFree between two launches serializing them (about "
                       f"{2 * spin_ms:g} ms) while cudaMallocAsync/cudaFreeAsync and torch's cached "
                       "blocks leave them overlapping")):
        return why
    import cupy
    rt = cupy.cuda.runtime
    s1, s2 = torch.cuda.Stream(), torch.cuda.Stream()
    held: list = []

    def cuda_malloc():
        held.append(rt.malloc(nbytes))

    def cuda_free_prepared():
        rt.free(held.pop())

    def malloc_async():
        p = rt.mallocAsync(nbytes, s2.cuda_stream)
        rt.freeAsync(p, s2.cuda_stream)

    def torch_empty():
        with torch.cuda.stream(s2):
            t = torch.empty(nbytes // 4, dtype=torch.int32, device="cuda")
            del t

    free_all = lambda: [rt.free(held.pop()) for _ in range(len(held))]  # noqa: E731
    with cupy.cuda.Device(torch.cuda.current_device()):
        cases = [("nothing", _pair(s1, s2, spin_ms=spin_ms)),
                 ("cudaMalloc", _pair(s1, s2, cuda_malloc, free_all, spin_ms=spin_ms)),
                 ("cudaFree (of a block allocated before)",
                  _prepared(_pair(s1, s2, cuda_free_prepared, spin_ms=spin_ms), lambda: held.append(rt.malloc(nbytes)))),
                 ("cudaMallocAsync + cudaFreeAsync on the second stream", _pair(s1, s2, malloc_async, spin_ms=spin_ms)),
                 ("torch.empty + free on the second stream (cached block)", _pair(s1, s2, torch_empty, spin_ms=spin_ms))]
        return _probe(cases, spin_ms, "Allocation calls between two launches",
                      [f"{nbytes >> 20} MB per allocation; the first launch is on one stream, the second on another",
                       "the CUDA guide lists 'a device memory allocation' among implicit synchronizations; "
                       "measured, it is the free that waits"])


def _prepared(fn, prepare):
    """fn, with ``prepare()`` (untimed set-up work done while the GPU is idle) run first at every call."""
    def run():
        prepare()
        torch.cuda.synchronize()
        fn()
    return run
