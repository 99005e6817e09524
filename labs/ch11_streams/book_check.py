"""Chapter 11's book check. The chapter (L4565–L4680) gives no numbers, only claims: each is checked here
by a measurement in this notebook, beside the H200 reference where the claim rests on a lab."""
from __future__ import annotations

from perflab import book
from perflab.book import Ratio
from perflab.table import Table

from labs.ch11_streams import simulators as sim


def _probe(table, case):
    ratios = getattr(table, "ratios", None)
    return "—" if not ratios or case not in ratios else f"{ratios[case]:.2f}× the pair alone"


def _malloc_why(alloc_table) -> str:
    ratios = getattr(alloc_table, "ratios", None)
    guide = "the CUDA guide lists 'a device memory allocation' among implicit synchronizations"
    if not ratios:
        return guide + "; forum measurements find cudaFree, not cudaMalloc, to be the call that waits: run on a GPU"
    m, f = ratios.get("cudaMalloc", 0), ratios.get("cudaFree (of a block allocated before)", 0)
    verdict = lambda r: "serialized the two streams" if r > 1.5 else "left them overlapping"  # noqa: E731
    return f"{guide}; measured here, cudaMalloc {verdict(m)} and cudaFree {verdict(f)}"


def table(overlap_run=None, alloc_run=None, streams_table=None, alloc_table=None, backend=None) -> Table:
    """Rows: the claim and its line, what the book says, ours (this session), the H200 reference, why.

    overlap_run / alloc_run: LabRuns of ch11.overlap and ch11.alloc_loop; streams_table / alloc_table:
    the sync_points tables; backend: allocator.backend_switch()'s Table (or its cpu-tier line)."""
    backend_text = "—"
    if backend is not None and hasattr(backend, "rows"):
        backend_text = "; ".join(f"{r[0].split('=')[0]} → {r[1]}" for r in backend.rows)
    elif isinstance(backend, str):
        backend_text = "cpu tier: " + ("name present in this torch's c10" if "present" in backend else "not found")
    bound = sim.serial_makespan((1, 1, 1), 8) / sim.pipelined_makespan((1, 1, 1), 8)
    rows = [
        Ratio("Three-way overlap of H2D, compute and D2H on separate streams (L4644)", None, "ch11.overlap",
              "serial", "stage_events", f"not in the book: three equal stages overlap at most 3×; with 8 chunks the "
              f"fill and drain leave {bound:.2f}× (simulator), less the per-chunk overheads", said="no number"),
        Ratio("Events instead of cudaDeviceSynchronize between streams (L4587)", None, "ch11.overlap",
              "sync_each_stage", "stage_events", "the same three stage streams; a device-wide sync after every "
              "operation serializes them and adds a host round trip per operation", said="no number"),
        ["Work on the legacy default stream waits for, and blocks, other streams (L4581)", "blocks",
         "—" if streams_table is None or isinstance(streams_table, str) else
         "blocking side stream: " + _probe(streams_table, "blocking stream, then the legacy default stream")
         + "; non-blocking: " + _probe(streams_table, "non-blocking stream, then the legacy default stream"),
         "—", "it holds for streams created with the default (blocking) flag; streams created non-blocking, as "
         "torch.cuda.Stream() is, do not synchronize with stream 0"],
        ["cudaMalloc is blocking and device-wide: it syncs the device before returning (L4597)", "syncs",
         "—" if alloc_table is None or isinstance(alloc_table, str) else
         "cudaMalloc: " + _probe(alloc_table, "cudaMalloc") + "; cudaFree: "
         + _probe(alloc_table, "cudaFree (of a block allocated before)"), "—", _malloc_why(alloc_table)],
        ["cudaMallocAsync only enqueues the allocation in its stream; other streams go on (L4599)", "no stall",
         _probe(alloc_table, "cudaMallocAsync + cudaFreeAsync on the second stream"), "—",
         "stream-ordered: allocation and free are operations of the stream, like a copy or a kernel"],
        Ratio("A stream-ordered allocator keeps streams fed in a loop of variable-size buffers (L4603)", None,
              "ch11.alloc_loop", "cuda_malloc", "cupy_async_pool", "cudaMalloc/cudaFree per piece vs cudaMallocAsync; "
              "torch's caching allocator gets the same effect by keeping blocks (see ch11.alloc_loop)",
              said="no number"),
        ["PYTORCH_ALLOC_CONF=backend:cudaMallocAsync selects the stream-ordered allocator (L4595)", "works",
         backend_text, "—",
         "PyTorch reads PYTORCH_ALLOC_CONF since 2.9; older releases read only PYTORCH_CUDA_ALLOC_CONF "
         "(now a deprecated alias)"],
        ["PDL lets kernel B start before kernel A finishes (L4623–L4629)", "no number", "not measured", "—",
         "needs sm_90 and cudaLaunchKernelEx with the programmatic-serialization attribute (a CUDA C++ "
         "extension); Chapter 12's launch-overhead labs are the measurable neighbour"],
    ]
    return book.table(rows, "Book check · Chapter 11 (the chapter gives claims, not numbers)",
                      f"yours ({book.device_of(overlap_run, alloc_run)})", runs=(overlap_run, alloc_run),
                      notes=["ratios are slower / faster; '—' under yours: not run on this tier (needs a GPU, or "
                             "CuPy for the probes)",
                             "the probes are not labs, so the H200 reference file holds none of them: read the "
                             "executed H200 notebook"])
