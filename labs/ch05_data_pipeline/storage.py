"""Many small files vs a few shard files, and small vs large reads: a synthetic dataset in a temp folder.

    with SyntheticDataset(n_records=1_501) as ds:     # writes the files, removes them on exit
        table = read_table(ds)                         # every reader checked (same bytes), then timed

Nothing is downloaded: the records are random bytes made at run time. A "cold" read first tells the
kernel to drop our own files from the page cache (``posix_fadvise(POSIX_FADV_DONTNEED)`` on each file we
open: no root needed), so the bytes come from the disk, or from whatever cache sits below a virtual disk.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Callable

import numpy as np

from labs._shown import shows_table

RECORD_BYTES = 3_083            # one record: a small image-sized blob, deliberately not a power of two
SMALL_READ, LARGE_READ = 4 << 10, 1 << 20      # 4 KiB and 1 MiB requests (the book's two sizes, L2038)


class SyntheticDataset:
    """n_records random records written three ways: one .npy file each, one raw file each, n_shards shards."""

    def __init__(self, n_records: int = 1_501, record_bytes: int = RECORD_BYTES, n_shards: int = 4,
                 seed: int = 0, root: str | None = None):
        if n_records < n_shards:
            raise ValueError(f"n_records ({n_records}) must be at least n_shards ({n_shards})")
        self.n, self.record_bytes, self.n_shards, self.seed, self._root = n_records, record_bytes, n_shards, seed, root
        self.dir: str | None = None
        self.data: np.ndarray | None = None

    def __enter__(self) -> "SyntheticDataset":
        self.dir = tempfile.mkdtemp(prefix="perflab-ch05-", dir=self._root)
        self.data = np.random.default_rng(self.seed).integers(0, 256, (self.n, self.record_bytes), dtype=np.uint8)
        for sub in ("npy", "raw", "shards"):
            os.mkdir(os.path.join(self.dir, sub))
        for i, rec in enumerate(self.data):
            np.save(self.npy_path(i), rec)
            with open(self.raw_path(i), "wb") as f:
                f.write(rec.tobytes())
        for k, part in enumerate(np.array_split(self.data, self.n_shards)):
            with open(self.shard_path(k), "wb") as f:
                f.write(part.tobytes())
        os.sync()                       # dirty pages cannot be dropped: write them out before any cold read
        return self

    def __exit__(self, *exc) -> None:
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def npy_path(self, i: int) -> str:
        return os.path.join(self.dir, "npy", f"rec_{i:06d}.npy")

    def raw_path(self, i: int) -> str:
        return os.path.join(self.dir, "raw", f"rec_{i:06d}.bin")

    def shard_path(self, k: int) -> str:
        return os.path.join(self.dir, "shards", f"shard_{k:03d}.bin")

    @property
    def total_bytes(self) -> int:
        return self.n * self.record_bytes


def _open(path: str, cold: bool):
    f = open(path, "rb", buffering=0)
    if cold and hasattr(os, "posix_fadvise"):
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    return f


# ---- readers: each returns all records as one (n, record_bytes) uint8 array -------------------------

def many_npy(ds: SyntheticDataset, cold: bool = False) -> np.ndarray:
    """One np.load per record: open, parse the .npy header, read ~3 KB, close; n times."""
    out = np.empty((ds.n, ds.record_bytes), np.uint8)
    for i in range(ds.n):
        with _open(ds.npy_path(i), cold) as f:
            out[i] = np.load(f)
    return out


def many_raw(ds: SyntheticDataset, cold: bool = False) -> np.ndarray:
    """One open + read per record, no header: the per-file cost without numpy's parsing."""
    out = np.empty((ds.n, ds.record_bytes), np.uint8)
    for i in range(ds.n):
        with _open(ds.raw_path(i), cold) as f:
            f.readinto(out[i])
    return out


def _read_shards(ds: SyntheticDataset, cold: bool, request: int) -> np.ndarray:
    out = np.empty(ds.total_bytes, np.uint8)
    view, pos = memoryview(out), 0
    for k in range(ds.n_shards):
        with _open(ds.shard_path(k), cold) as f:
            while True:
                got = f.readinto(view[pos:pos + request])
                if not got:
                    break
                pos += got
    return out.reshape(ds.n, ds.record_bytes)


def shards_4k(ds: SyntheticDataset, cold: bool = False) -> np.ndarray:
    """The shards, read sequentially in 4 KiB requests."""
    return _read_shards(ds, cold, SMALL_READ)


def shards_1m(ds: SyntheticDataset, cold: bool = False) -> np.ndarray:
    """The shards, read sequentially in 1 MiB requests."""
    return _read_shards(ds, cold, LARGE_READ)


def shards_random_4k(ds: SyntheticDataset, cold: bool = False) -> np.ndarray:
    """The same 4 KiB requests as shards_4k, issued in a shuffled order with os.pread (random access)."""
    out = np.empty(ds.total_bytes, np.uint8)
    view = memoryview(out)
    files = [_open(ds.shard_path(k), cold) for k in range(ds.n_shards)]
    try:
        sizes = [os.fstat(f.fileno()).st_size for f in files]
        starts = np.cumsum([0] + sizes[:-1])
        chunks = [(k, off) for k, size in enumerate(sizes) for off in range(0, size, SMALL_READ)]
        order = np.random.default_rng(ds.seed).permutation(len(chunks))
        for j in order:
            k, off = chunks[j]
            n = min(SMALL_READ, sizes[k] - off)
            pos = int(starts[k]) + off
            view[pos:pos + n] = os.pread(files[k].fileno(), n, off)
    finally:
        for f in files:
            f.close()
    return out.reshape(ds.n, ds.record_bytes)


@dataclass(frozen=True)
class Reader:
    name: str
    fn: Callable
    files: Callable[[SyntheticDataset], int]        # files opened per pass
    requests: Callable[[SyntheticDataset], int]     # read requests per pass
    cold: bool = True                               # also timed with a cold cache (slow ones are not)


def _shard_requests(request: int):
    return lambda ds: sum(-(-len(p) * ds.record_bytes // request) for p in np.array_split(np.arange(ds.n), ds.n_shards))


READERS = [     # baseline first
    Reader("many .npy files", many_npy, lambda ds: ds.n, lambda ds: ds.n, cold=False),
    Reader("many raw files", many_raw, lambda ds: ds.n, lambda ds: ds.n),
    Reader("shards, 4 KiB reads", shards_4k, lambda ds: ds.n_shards, _shard_requests(SMALL_READ)),
    Reader("shards, random 4 KiB reads", shards_random_4k, lambda ds: ds.n_shards, _shard_requests(SMALL_READ)),
    Reader("shards, 1 MiB reads", shards_1m, lambda ds: ds.n_shards, _shard_requests(LARGE_READ)),
]


def check(ds: SyntheticDataset, reader: Reader, cold: bool = False) -> str:
    """'' when the reader returns exactly the records written, else what differs."""
    try:
        got = reader.fn(ds, cold)
    except Exception as exc:                               # a learner's reader may fail: report it
        return f"raised {type(exc).__name__}: {exc}"
    if got.shape != ds.data.shape:
        return f"shape {got.shape}, expected {ds.data.shape}"
    bad = np.flatnonzero((got != ds.data).any(axis=1))
    return f"{len(bad)} of {ds.n} records differ, first record {bad[0]}" if len(bad) else ""


def filesystem_of(path: str) -> str:
    """The mount type holding ``path`` ('ext4', 'tmpfs', 'overlay', ...), read from /proc/mounts."""
    best, kind = "", "unknown"
    try:
        with open("/proc/mounts") as f:
            for line in f:
                _, mnt, fstype, *_ = line.split()
                if path.startswith(mnt) and len(mnt) > len(best):
                    best, kind = mnt, fstype
    except OSError:
        pass
    return kind


@dataclass(frozen=True)
class ReadPoint:
    """One reader at one cache state: '' or why its bytes differ (then not timed), files and read calls it
    makes, and its perflab Measurement."""
    reader: str
    cache: str                      # "warm" or "cold"
    why: str = ""
    files: int = 0
    requests: int = 0
    measurement: object = None


@shows_table
@dataclass(frozen=True)
class StorageReads:
    """What :func:`time_reads` measured: the dataset's shape and filesystem, and a ReadPoint per reader and
    cache state; ``table()`` draws it."""
    records: int
    record_bytes: int
    total_bytes: int
    where: str
    filesystem: str
    device: str
    points: tuple[ReadPoint, ...]

    def seconds(self, reader: str, cache: str) -> float | None:
        """Median seconds to read everything with ``reader`` at ``cache`` (None when it was not timed)."""
        p = next((p for p in self.points if p.reader == reader and p.cache == cache and p.measurement), None)
        return p.measurement.median if p else None

    def table(self):
        from perflab.measure import format_time
        from perflab.table import Table
        rows, base = [], {}
        for p in self.points:
            if not p.measurement:
                rows.append([p.reader, p.cache, f"❌ {p.why} — not timed", "—", "—", "—", "—", "—"])
                continue
            m = p.measurement
            base.setdefault(p.cache, m)
            rows.append([p.reader, p.cache, "✅ same bytes", f"{p.files:,}", f"{p.requests:,}", format_time(m.median),
                         f"{m.gbps * 1e3:,.0f}", f"{base[p.cache].median / m.median:.1f}×"])
        cache = ("cold = posix_fadvise(DONTNEED) on each file before reading it" if hasattr(os, "posix_fadvise")
                 else "no posix_fadvise on this OS: 'cold' is the same as warm")
        notes = [f"{self.records:,} records of {self.record_bytes:,} B = {self.total_bytes / 1e6:.1f} MB in "
                 f"{self.where} ({self.filesystem}); {cache}",
                 "warm = every byte already in the page cache: the gap is per-file and per-request overhead "
                 "(open, stat, header parse, syscalls)",
                 "sequential 4 KiB reads are helped by the kernel's read-ahead (it fetches ahead in larger "
                 "requests, read_ahead_kb, L2056); shuffled 4 KiB reads are not",
                 "many .npy files is timed warm only (it is the slowest; its cold time adds the raw files' disk cost)",
                 "on a VM the 'disk' may itself be cached by the host, so cold reads can look fast; on a network "
                 "filesystem the per-file cost is a round trip and the gap grows"]
        if self.filesystem == "tmpfs":
            notes.append("tmpfs lives in RAM: there is no disk below it, so cold = warm here")
        return Table(["reader", "cache", "check", "files", "read calls", "median", "MB/s", "vs first"], rows,
                     title=f"Read {self.records:,} records · measured on {self.device}", notes=notes)


def time_reads(ds: SyntheticDataset, readers: list | None = None, modes=("warm", "cold"),
               rep_ms: float = 100) -> StorageReads:
    """Check every reader (same bytes), then time each with pl.bench, warm and cold."""
    import perflab as pl
    from perflab.machine import env
    points = []
    for mode in modes:
        cold = mode == "cold"
        for r in readers or READERS:
            if cold and not r.cold:
                continue
            why = check(ds, r, cold)
            if why:
                points.append(ReadPoint(r.name, mode, why))
                continue
            m = pl.bench(lambda: r.fn(ds, cold), rep_ms=rep_ms, mode="cpu", bytes=ds.total_bytes,
                         label=f"{r.name} ({mode})")
            points.append(ReadPoint(r.name, mode, "", r.files(ds), r.requests(ds), m))
    return StorageReads(ds.n, ds.record_bytes, ds.total_bytes, str(ds.dir), filesystem_of(ds.dir), env().device,
                        tuple(points))


def gds_status() -> str:
    """One line: whether GPUDirect Storage could run here, and what it would show."""
    import ctypes.util
    driver = os.path.exists("/proc/driver/nvidia-fs/stats")
    lib = ctypes.util.find_library("cufile")
    if driver and lib:
        return ("nvidia-fs driver and libcufile found: GDS may work if the dataset sits on a GDS-capable NVMe or "
                "filesystem; measure with gdsio -x 0 (GDS) vs -x 2 (CPU bounce buffer), L2135–L2150")
    return (f"GDS unavailable here (nvidia-fs driver: {'yes' if driver else 'no'}, libcufile: {'yes' if lib else 'no'}); "
            "it needs both plus GDS-capable storage, and would show ~20% more read GB/s and fewer busy CPU cores (L2165)")
