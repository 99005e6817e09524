"""The caching allocator across streams: a reuse race and record_stream, per-stream pools, the backend switch.

PyTorch's caching allocator remembers, for every block, the stream it was allocated on. Freeing a
block (dropping the last reference) hands it back AT ONCE for reuse on that stream: correct for work
queued on that stream, which runs in order, and a race for work queued on another stream that may
not have run yet. ``record_stream(s)`` tells the allocator about the other stream: the block is held
until the work queued on ``s`` so far has finished. These experiments measure both, show that cached
blocks are kept per stream, and ask a fresh process which allocator backend ``PYTORCH_ALLOC_CONF``
selects. Each needs a CUDA GPU; on the cpu tier each returns a one-line explanation instead.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

import torch

import perflab as pl
from perflab.table import Table

from labs._shown import shows_table

_NEEDS_GPU = "needs a CUDA GPU: "


def _gpu_or_reason(what: str) -> str | None:
    e = pl.env()
    if e.tier != "gpu":
        return "needs a CUDA GPU and CuPy (for a busy-wait kernel): " + what
    if not e.has("cupy"):
        return "needs CuPy (for a busy-wait kernel): " + what
    return None


_COST = {"none": "— (a silent wrong answer)",
         "record_stream": "the block is held until the side stream passes this point",
         "wait_stream": "the main stream stalls until the side stream is done"}


@dataclass(frozen=True)
class RaceCase:
    """One fix of the reuse race: whether the freed block was handed out again at once, and how many of the
    side stream's results came out wrong."""
    fix: str
    reused: bool
    wrong: int
    total: int

    @property
    def wrong_share(self) -> float:
        return self.wrong / self.total


@shows_table
@dataclass(frozen=True)
class ReuseRace:
    """What :func:`reuse_race` measured: one RaceCase per fix (none, record_stream, wait_stream)."""
    size: int
    spin_ms: float
    device: str
    cases: tuple[RaceCase, ...]

    def case(self, fix: str) -> RaceCase | None:
        return next((c for c in self.cases if c.fix == fix), None)

    def table(self) -> Table:
        rows = [[c.fix, "yes" if c.reused else "no", f"{c.wrong:,} of {c.total:,}", _COST[c.fix]] for c in self.cases]
        return Table(["fix", "block handed out again at once", "wrong elements", "cost"], rows,
                     title=f"Freeing a buffer another stream still reads · {self.size:,} int32 · measured on "
                           f"{self.device}",
                     notes=["buf is allocated on the main stream and read by a kernel queued on a side stream behind "
                            f"a {self.spin_ms:g} ms busy-wait; the host frees it and the main stream overwrites a new "
                            "buffer of the same size"])


def reuse_race(size: int = 16_777_259, iters: int = 64, spin_ms: float = 2.0) -> ReuseRace | str:
    """Free a buffer on the host while a side stream still has a kernel queued to read it, then allocate
    and overwrite a new buffer of the same size on the main stream. Three ways: no fix, record_stream,
    and making the main stream wait for the side stream before freeing.

    The side stream first runs a ``spin_ms`` busy-wait kernel (one block), so its hash kernel reads the
    buffer a couple of milliseconds later: long after the main stream has reused the block."""
    from labs.ch11_streams import _cuda
    from labs.ch11_streams.compute import hash_steps, reference
    if (why := _gpu_or_reason("it would show a block freed on one stream handed out again while "
                              "another stream still reads it, and record_stream preventing that")):
        return why
    dev = pl.device()
    g = torch.Generator().manual_seed(7)
    x_host = torch.randint(-2**31, 2**31 - 1, (size,), generator=g, dtype=torch.int32)
    expected = reference(x_host, iters)
    cases = []
    for fix in ("none", "record_stream", "wait_stream"):
        torch.cuda.synchronize()
        torch.cuda.empty_cache()                                 # no cached blocks: buf's is the only one free
        main, side = torch.cuda.current_stream(), torch.cuda.Stream()
        result = torch.empty(size, dtype=torch.int32, device=dev)
        buf = x_host.to(dev)                                     # allocated on the main stream
        side.wait_stream(main)
        with torch.cuda.stream(side):
            _cuda.spin(int(spin_ms * 1e6))                       # the side stream is busy for a while...
            hash_steps(buf, result, iters)                       # ...then reads buf
        if fix == "record_stream":
            buf.record_stream(side)
        elif fix == "wait_stream":
            main.wait_stream(side)
        freed = buf.data_ptr()
        del buf                                                  # the host lets go of buf
        junk = torch.empty(size, dtype=torch.int32, device=dev)  # main stream: same size, maybe same block
        junk.fill_(12345)
        reused = junk.data_ptr() == freed
        torch.cuda.synchronize()
        cases.append(RaceCase(fix, reused, int((result.cpu() != expected).sum()), size))
        del junk, result
    return ReuseRace(size, spin_ms, pl.env().device, tuple(cases))


@shows_table
@dataclass(frozen=True)
class StreamPools:
    """Bytes an allocator keeps after one ``mb`` MB buffer was allocated and freed on each of ``streams``
    streams, against the same buffers on one stream (torch), and CuPy's async pool after the first pattern
    (bytes, or why it could not say)."""
    mb: int
    streams: int
    device: str
    torch_many_bytes: int
    torch_one_bytes: int
    cupy_async: int | str

    @property
    def growth(self) -> float | None:
        """torch's memory kept with a stream per buffer over one stream's (None when one stream kept nothing)."""
        return self.torch_many_bytes / self.torch_one_bytes if self.torch_one_bytes else None

    def table(self) -> Table:
        mib = lambda b: f"{b / 2**20:,.0f} MB"  # noqa: E731
        many = f"{self.streams} streams, one buffer each"
        rows = [["torch caching allocator", many, mib(self.torch_many_bytes)],
                ["torch caching allocator", f"one stream, the same buffer {self.streams}x", mib(self.torch_one_bytes)],
                ["CuPy MemoryAsyncPool", many,
                 mib(self.cupy_async) if isinstance(self.cupy_async, int) else self.cupy_async]]
        return Table(["allocator", "pattern", "memory kept afterwards"], rows,
                     title=f"Cached blocks and streams · {self.mb} MB buffers · measured on {self.device}",
                     notes=["torch keeps each stream's freed blocks for that stream; the driver's pool may give a "
                            "block freed on one stream to another once the free has completed (opportunistic "
                            "reuse, a pool attribute on by default)"])


def per_stream_pools(mb: int = 64, streams: int = 4) -> StreamPools | str:
    """Reserved memory after allocating and freeing one ``mb`` buffer on each of ``streams`` streams,
    vs the same on one stream: torch's caching allocator, and (where available) CuPy's async pool."""
    if pl.env().tier != "gpu":
        return (_NEEDS_GPU + f"it would show torch reserving about {streams} x {mb} MB after one {mb} MB buffer "
                f"on each of {streams} streams (cached blocks are kept per stream)")
    n = mb * (1 << 20) // 4
    kept = []
    for count in (streams, 1):
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        base = torch.cuda.memory_reserved()
        ss = [torch.cuda.Stream() for _ in range(count)]
        for k in range(streams):
            with torch.cuda.stream(ss[k % count]):
                t = torch.empty(n, dtype=torch.int32, device="cuda")
                del t
        torch.cuda.synchronize()
        kept.append(torch.cuda.memory_reserved() - base)
    return StreamPools(mb, streams, pl.env().device, kept[0], kept[1], _async_pool_growth(n * 4, streams))


def _async_pool_growth(nbytes: int, streams: int) -> int | str:
    """Bytes CuPy's async pool grew by over ``streams`` streams, or why it could not say."""
    try:
        import cupy
        from labs.ch11_streams.alloc_loop import _pool, cupy_on
        pool = _pool("async")
        pool.free_all_blocks()
        before = pool.total_bytes()
        for _ in range(streams):
            s = torch.cuda.Stream()
            with cupy.cuda.Device(0), cupy_on(s):
                mp = pool.malloc(nbytes)
                del mp
            s.synchronize()
        return int(pool.total_bytes() - before)
    except Exception as exc:                                     # no CuPy, no pool support, old driver
        return f"— ({type(exc).__name__}: {exc})"


_PROBE = ("import json, torch; torch.empty(1, device='cuda'); "
          "print(json.dumps({'backend': torch.cuda.get_allocator_backend(), 'torch': torch.__version__}))")


def backend_switch(timeout_s: float = 120) -> Table | str:
    """Which allocator a fresh process gets with the book's variable (L4595) and with the older name.

    The variable is read once, when CUDA's allocator starts, so each setting needs its own process.
    On the cpu tier: whether this torch build contains the name at all (its c10 library's strings).
    """
    name = "PYTORCH_ALLOC_CONF"
    if pl.env().tier != "gpu":
        found = _library_knows(name)
        return (f"{_NEEDS_GPU}it would start two processes and print the allocator backend each gets. "
                f"This torch {torch.__version__}: the string {name} is "
                f"{'present' if found else 'absent'} in its c10 library"
                f"{' (torch reads it since 2.9; older releases read only PYTORCH_CUDA_ALLOC_CONF)' if found else ''}")
    procs = {}
    for var in ("PYTORCH_ALLOC_CONF", "PYTORCH_CUDA_ALLOC_CONF"):
        env = {k: v for k, v in os.environ.items() if k not in ("PYTORCH_ALLOC_CONF", "PYTORCH_CUDA_ALLOC_CONF")}
        env[var] = "backend:cudaMallocAsync"
        procs[var] = subprocess.Popen([sys.executable, "-c", _PROBE], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)
    rows = []
    for var, p in procs.items():
        try:
            out, err = p.communicate(timeout=timeout_s)
            data = json.loads(out.strip().splitlines()[-1]) if p.returncode == 0 and out.strip() else None
            got = data["backend"] if data else f"failed: {(err or '').strip().splitlines()[-1:]}"
            warned = "deprecated" in (err or "")
        except (subprocess.TimeoutExpired, ValueError, KeyError) as exc:
            p.kill()
            got, warned = f"failed: {type(exc).__name__}", False
        rows.append([f"{var}=backend:cudaMallocAsync", got, "yes" if warned else "no"])
    return Table(["set in a fresh process", "allocator backend", "deprecation warning"], rows,
                 title=f"Selecting the stream-ordered backend · torch {torch.__version__} on {pl.env().device}",
                 notes=["'native' is the caching allocator; 'cudaMallocAsync' is CUDA's stream-ordered allocator"])


def _library_knows(name: str) -> bool:
    """Whether the string ``name`` occurs in torch's c10 shared library (the allocator-config parser)."""
    lib = os.path.join(os.path.dirname(torch.__file__), "lib")
    try:
        files = [f for f in os.listdir(lib) if f.startswith(("libc10.", "libc10.so", "c10."))]
        return any(name.encode() in open(os.path.join(lib, f), "rb").read() for f in files)
    except OSError:
        return False
