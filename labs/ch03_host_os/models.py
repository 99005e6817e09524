"""Chapter 3's back-of-envelope models: NUMA latency, pageable vs pinned copy time, and what an
overlapped (pinned + non_blocking) copy saves per training step."""
from __future__ import annotations
from perflab.validate import calculator_inputs


def numa_penalty(local_ns: float = 80.0, remote_ns: float = 139.0) -> float:
    """Remote / local memory latency (the book's example: 139 / 80 ns, L1033)."""
    return remote_ns / local_ns


def mean_latency_ns(local_ns: float, remote_ns: float, remote_fraction: float) -> float:
    return (1 - remote_fraction) * local_ns + remote_fraction * remote_ns


@calculator_inputs(positive="local_ns remote_ns", fraction="remote_fraction")
def explain_numa(local_ns=80.0, remote_ns=139.0, remote_fraction=0.5) -> str:
    avg = mean_latency_ns(local_ns, remote_ns, remote_fraction)
    return (f"remote/local = {numa_penalty(local_ns, remote_ns):.2f}× ({remote_ns / local_ns - 1:.0%} more per miss); "
            f"with {remote_fraction:.0%} of misses remote the average is {avg:.0f} ns, "
            f"{avg / local_ns - 1:.0%} above a process pinned to the GPU's node")


def copy_s(nbytes: float, gbps: float) -> float:
    return nbytes / (gbps * 1e9)


def step_s(compute_s: float, copy_s_: float, overlapped: bool) -> float:
    """One step: a pageable copy blocks the host (compute + copy); a pinned, non_blocking copy of the next
    batch runs on the copy engine while the GPU computes (max of the two)."""
    return max(compute_s, copy_s_) if overlapped else compute_s + copy_s_


@calculator_inputs(positive="batch_mb compute_ms pageable_gbps pinned_gbps")
def explain_feed(batch_mb=64.0, compute_ms=20.0, pageable_gbps=5.8, pinned_gbps=53.1) -> str:
    """Defaults: the H200 reference's measured H2D bandwidths (pageable 5.8, pinned 53.1 GB/s)."""
    b = batch_mb * 1e6
    tp, tq = copy_s(b, pageable_gbps), copy_s(b, pinned_gbps)
    before = step_s(compute_ms * 1e-3, tp, overlapped=False)
    after = step_s(compute_ms * 1e-3, tq, overlapped=True)
    return (f"{batch_mb:g} MB per batch: copy {tp * 1e3:.2f} ms pageable vs {tq * 1e3:.2f} ms pinned "
            f"({tp / tq:.1f}×); step {before * 1e3:.1f} ms (pageable, blocking) → {after * 1e3:.1f} ms "
            f"(pinned, overlapped): {1 - after / before:.0%} faster")
