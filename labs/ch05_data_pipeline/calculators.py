"""Chapter 5's back-of-envelope models: input bandwidth per GPU, stall speedups, loader queues, striping.

>>> round(read_bandwidth_gbps(gpus=8, mb_per_s_per_gpu=200), 2)            # L2012: 8 GPUs × 200 MB/s
1.6
>>> round(stall_speedup(wait_before=0.30, wait_after=0.05), 3)             # L2267 says "6×"
1.357
"""
from __future__ import annotations
from perflab.validate import calculator_inputs


def read_bandwidth_gbps(gpus: int, mb_per_s_per_gpu: float) -> float:
    """Aggregate storage read bandwidth (GB/s) that keeps ``gpus`` GPUs fed at ``mb_per_s_per_gpu`` MB/s each."""
    if gpus < 1 or mb_per_s_per_gpu < 0:
        raise ValueError(f"need gpus ≥ 1 and a non-negative rate, got {gpus}, {mb_per_s_per_gpu}")
    return gpus * mb_per_s_per_gpu / 1e3


def mb_per_s_per_gpu(sample_kb: float, samples_per_s: float) -> float:
    """Input bandwidth one GPU needs (MB/s): bytes per sample × samples it trains on per second."""
    if sample_kb < 0 or samples_per_s < 0:
        raise ValueError(f"sample size and rate must be ≥ 0, got {sample_kb} kB, {samples_per_s}/s")
    return sample_kb * samples_per_s / 1e3


@calculator_inputs(positive="gpus sample_kb samples_per_s disk_gbps")
def explain_io(gpus: int, sample_kb: float, samples_per_s: float, disk_gbps: float) -> str:
    """One line: per-GPU and aggregate input bandwidth, and how many such disks (or links) it takes."""
    per = mb_per_s_per_gpu(sample_kb, samples_per_s)
    total = read_bandwidth_gbps(gpus, per)
    disks = total / disk_gbps if disk_gbps > 0 else float("inf")
    return (f"{sample_kb:g} kB × {samples_per_s:,.0f} samples/s = {per:,.0f} MB/s per GPU; × {gpus} GPUs = "
            f"{total:,.2f} GB/s aggregate = {disks:,.2f}× a {disk_gbps:g} GB/s disk or link")


def stall_speedup(wait_before: float, wait_after: float) -> float:
    """Throughput gain from cutting the fraction of time a GPU waits for input: (1 − after) / (1 − before)."""
    for w in (wait_before, wait_after):
        if not 0 <= w < 1:
            raise ValueError(f"wait fractions must be in [0, 1), got {w}")
    return (1 - wait_after) / (1 - wait_before)


def queue_depth(num_workers: int, prefetch_factor: int = 2) -> int:
    """Batches a DataLoader keeps in flight: num_workers × prefetch_factor (L2299); 0 workers prefetch nothing."""
    if num_workers < 0 or prefetch_factor < 1:
        raise ValueError(f"need num_workers ≥ 0 and prefetch_factor ≥ 1, got {num_workers}, {prefetch_factor}")
    return num_workers * prefetch_factor


def pipeline_batch_s(load_s: float, step_s: float, num_workers: int) -> float:
    """Steady-state seconds per batch: load and step in series with 0 workers; with W workers the loads
    overlap the step and each other, so the slower of step and load / W sets the pace (enough cores assumed)."""
    if num_workers == 0:
        return load_s + step_s
    return max(step_s, load_s / num_workers)


@calculator_inputs(positive="load_ms step_ms")
def explain_pipeline(load_ms: float, step_ms: float, num_workers: int) -> str:
    t = pipeline_batch_s(load_ms, step_ms, num_workers)
    busy = step_ms / t if t else 0.0
    who = "the GPU step (good)" if step_ms >= (load_ms if num_workers == 0 else load_ms / num_workers) else "the input pipeline"
    need = f"{-(-load_ms // step_ms):.0f}" if step_ms else "∞"
    return (f"{t:.2f} ms per batch, GPU busy {busy:.0%}; the pace is set by {who}. "
            f"Workers needed to hide loading: {need} (queue {queue_depth(num_workers)} batches at prefetch_factor=2)")


def scaling_efficiency(speedup: float, gpus: int) -> float:
    """Measured speedup over one GPU divided by the GPU count (L2382: 5× on 8 GPUs)."""
    if gpus < 1:
        raise ValueError(f"gpus must be ≥ 1, got {gpus}")
    return speedup / gpus


def striped_gbps(targets: int, gbps_per_target: float) -> float:
    """Peak read bandwidth of a file striped over ``targets`` storage targets (Lustre OSTs, L2219–L2223)."""
    return targets * gbps_per_target


def nic_limit_tbps(nodes: int, nics_per_node: int, gbit_per_nic: float) -> float:
    """The most data (TB/s) that ``nodes`` can push through their NICs: nodes × NICs × Gb/s ÷ 8 ÷ 1000."""
    return nodes * nics_per_node * gbit_per_nic / 8 / 1e3
