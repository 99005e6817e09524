"""A read-only report of the host settings Chapter 3 tunes, and what changing each would take.

Everything here only *reads* /sys, /proc, the process's own affinity and resource limits, and (if present)
``nvidia-smi topo -m``. Nothing is written; the "to change" column says which settings need root.
"""
from __future__ import annotations

import os
import resource
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from perflab.table import Table

from labs._shown import shows_table


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _ranges(cpus) -> str:
    cpus, out, start = sorted(cpus), [], None
    for i, c in enumerate(cpus):
        if start is None:
            start = c
        if i + 1 == len(cpus) or cpus[i + 1] != c + 1:
            out.append(f"{start}" if start == c else f"{start}-{c}")
            start = None
    return ",".join(out)


def numa_nodes(root: str = "/sys/devices/system/node") -> dict[int, str]:
    """{node: cpulist} from sysfs; empty where the kernel exposes no NUMA information."""
    nodes = {}
    for d in sorted(Path(root).glob("node[0-9]*")):
        nodes[int(d.name[4:])] = _read(str(d / "cpulist")) or "?"
    return nodes


def selected(text: str | None) -> str | None:
    """'always [madvise] never' → 'madvise' (the kernel marks the active choice with brackets)."""
    if not text:
        return None
    for word in text.split():
        if word.startswith("[") and word.endswith("]"):
            return word[1:-1]
    return text


def gpu_topology(timeout_s: float = 10) -> str | None:
    """`nvidia-smi topo -m` (GPU↔GPU links, CPU and NUMA affinity per GPU), or None without nvidia-smi."""
    if not shutil.which("nvidia-smi"):
        return None
    try:
        p = subprocess.run(["nvidia-smi", "topo", "-m"], capture_output=True, text=True, timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"nvidia-smi topo -m failed: {exc}"
    return p.stdout.strip() or p.stderr.strip()


def report() -> Table:
    nodes = numa_nodes()
    aff = os.sched_getaffinity(0)
    memlock = resource.getrlimit(resource.RLIMIT_MEMLOCK)[0]
    gov = _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
    rows = [
        ["NUMA nodes", f"{len(nodes)}: " + "; ".join(f"node{n} cpus {c}" for n, c in nodes.items()) if nodes
         else "not exposed", "run each GPU's process on the GPU's node (L1025–L1052)",
         "no root: numactl --cpunodebind/--membind, taskset"],
        ["this process's CPUs", f"{len(aff)} of {os.cpu_count()}: {_ranges(aff)}", "pinned to the GPU's node",
         "no root: os.sched_setaffinity / taskset (within the cgroup's cpuset)"],
        ["transparent hugepages", selected(_read("/sys/kernel/mm/transparent_hugepage/enabled")) or "not exposed",
         "training: always or madvise; latency-critical inference: often never (L1145–L1151)",
         "root: write /sys/kernel/mm/transparent_hugepage/enabled"],
        ["THP defrag", selected(_read("/sys/kernel/mm/transparent_hugepage/defrag")) or "not exposed",
         "avoid synchronous compaction stalls (L1147)", "root"],
        ["CPU frequency governor", gov or "not exposed (VM or container: the host decides)",
         "performance (L1197)", "root: cpupower frequency-set -g performance"],
        ["vm.swappiness", _read("/proc/sys/vm/swappiness") or "not exposed", "0–10, or no swap (L1177)",
         "root: sysctl vm.swappiness"],
        ["locked-memory limit (ulimit -l)", "unlimited" if memlock == resource.RLIM_INFINITY else f"{memlock / 1024:g} KiB",
         "large enough for pinned buffers (L1133)", "raising the hard limit needs root (docker --ulimit memlock)"],
        ["GPU topology", "see below" if shutil.which("nvidia-smi") else "no nvidia-smi on this machine",
         "GPU, NIC and CPU on one NUMA node / PCIe switch (L1060)", "read-only: nvidia-smi topo -m"],
    ]
    return Table(["setting", "this machine", "book's advice", "to change"], rows,
                 title="Host report (read-only: nothing was changed)",
                 notes=["values read from /sys, /proc and this process; in a container some are the host's, "
                        "some are hidden"])


def _fresh_fill(nbytes: int, advice: int | None) -> None:
    """Map fresh anonymous memory, optionally madvise it, write every byte, unmap."""
    import mmap

    import torch
    m = mmap.mmap(-1, nbytes)
    if advice is not None:
        m.madvise(advice)
    t = torch.frombuffer(m, dtype=torch.float32)
    t.fill_(1.0)
    del t
    m.close()


@shows_table
@dataclass(frozen=True)
class FirstTouch:
    """Writes of ``nbytes`` timed per case (perflab Measurements labelled by case; the reused buffer last),
    the THP mode they ran under, and the device; ``table()`` draws it."""
    nbytes: int
    device: str
    thp: str | None
    measurements: tuple

    def vs_reused(self, case: str) -> float | None:
        """Time of ``case`` over the already-mapped buffer's (None when the case did not run)."""
        m = next((m for m in self.measurements if m.label == case), None)
        return m.median / self.measurements[-1].median if m else None

    def table(self) -> Table:
        ms = self.measurements
        rows = [[m.label, f"{m.median * 1e3:.3f}", f"{m.p20 * 1e3:.3f}–{m.p80 * 1e3:.3f}", f"{m.gbps:.1f}",
                 f"{m.median / ms[-1].median:.1f}×"] for m in ms]
        notes = ["each fresh case maps new anonymous memory (mmap), writes it once and unmaps it: the kernel "
                 "zeroes and maps every page on its first write"]
        if len(ms) == 3:
            notes.append("if MADV_HUGEPAGE is no faster, the kernel did not back the mapping with 2 MiB pages "
                         "(unaligned mapping, fragmented memory, or a sandboxed kernel): /proc/meminfo AnonHugePages "
                         "tells")
        if len(ms) == 2:
            notes.append(f"no hugepage row: THP mode here is {self.thp or 'not exposed'} (MADV_HUGEPAGE needs "
                         "always/madvise)")
        return Table([f"write {self.nbytes / 2**20:g} MiB", "ms", "p20–p80 ms", "GB/s", "vs reused"], rows,
                     title=f"First touch: page faults vs pages already mapped · measured on {self.device}",
                     notes=notes)


def first_touch(nbytes: int = 32 * 1024 * 1024, rep_ms: float = 60) -> FirstTouch:
    """Write a freshly mapped buffer (every page faults on first touch) vs rewrite one already mapped.
    It is the part of pageable memory's cost a CPU can show: pinned buffers are faulted in and locked once,
    at allocation. With THP in 'madvise' mode, MADV_HUGEPAGE asks for 2 MiB pages: 512× fewer faults."""
    import mmap

    import torch

    import perflab as pl
    from perflab.machine import env
    keep = torch.ones(nbytes // 4)
    cases = [("fresh mapping, 4 KiB pages", lambda: _fresh_fill(nbytes, getattr(mmap, "MADV_NOHUGEPAGE", None)))]
    thp = selected(_read("/sys/kernel/mm/transparent_hugepage/enabled"))
    if thp in ("always", "madvise") and hasattr(mmap, "MADV_HUGEPAGE"):
        cases.append(("fresh mapping, MADV_HUGEPAGE", lambda: _fresh_fill(nbytes, mmap.MADV_HUGEPAGE)))
    cases.append(("already mapped (reused)", lambda: keep.fill_(1.0)))
    ms = tuple(pl.bench(fn, rep_ms=rep_ms, bytes=nbytes, mode="cpu", label=name) for name, fn in cases)
    return FirstTouch(nbytes, env().device, thp, ms)
