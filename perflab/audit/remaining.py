"""The appendix checklist (book L8872–9551) by category: each item, the chapter that teaches it, and the
audit checks that read it where a machine can. Item names are our short English paraphrases."""
from __future__ import annotations

# category (book line) -> items "name | chapter | check ids (optional)"; 18 categories, 180 items
CATEGORIES: dict[str, list[str]] = {
    "Performance and cost mindset (L8878)": [
        "Optimize the most expensive part first | 1", "Profile before and after every change | 13",
        "Close the loop with automatic tuning | 20", "Budget time for optimization | 1",
        "Follow framework releases | 14", "Co-design with vendors and community | 1",
        "Use cloud flexibility to control cost | 1", "Watch utilization metrics | 16",
        "Tune hyperparameters for throughput | 13", "Write results down and reuse them | 1",
        "Weigh speed against complexity | 1", "Use AI to help optimize | 20"],
    "Reproducibility and documentation (L8920)": [
        "Strict version control | 1 | repro.git_clean", "Performance regression tests in CI | 13",
        "Optimize the workflow end to end | 1", "Automated monitoring and diagnosis | 16",
        "Fault tolerance and automatic recovery | 5", "Compiler and build optimization | 14",
        "Security and compliance without losing speed | 3", "Documentation and knowledge sharing | 1",
        "Plan for future scale | 1"],
    "System architecture and hardware planning (L8953)": [
        "Design for goodput and efficiency | 1", "Pick the right accelerator | 2",
        "Use high-bandwidth interconnects | 2", "Balance CPU, GPU and memory | 2 | os.cores_per_gpu",
        "Plan data locality | 5", "Find the weakest link in the chain | 1", "Size the cluster | 1",
        "Design for cooling and power | 2"],
    "Unified CPU–GPU superchip (L8983)": [
        "Use unified CPU–GPU memory | 2", "Place data for locality | 2", "Use direct CPU–GPU memory access | 2",
        "Put the Grace CPU to work | 2", "Plan for very large models | 2", "Superchip-aware algorithms | 2"],
    "Multi-GPU scaling and interconnect (L9007)": [
        "All-to-all high-speed topology | 4 | gpu.p2p", "Topology-aware scheduling | 4",
        "Use the available bandwidth | 4", "Modern collective algorithms | 4", "Fine-grained parallelism | 15",
        "Watch link saturation | 4", "Plan future scale-out | 4", "Federated and distributed options | 20"],
    "OS and driver (L9037)": [
        "HPC-tuned Linux kernel | 3", "No swap for critical work | 3 | os.swap os.swappiness",
        "Preallocate to avoid fragmentation | 13 | torch.alloc_conf",
        "CPU library environment variables | 3 | os.omp_threads torch.threads", "NUMA awareness | 3 | os.numa",
        "IRQ affinity for NICs and GPUs | 3", "Transparent hugepages | 3 | os.thp",
        "Raise the locked-memory limit | 3 | os.memlock torch.pinned",
        "Recent driver and CUDA stack | 3 | gpu.driver", "Persistence mode (with MIG) | 3 | gpu.persistence",
        "Isolate system tasks from training cores | 3", "System I/O settings | 5 | io.scheduler io.read_ahead",
        "Regular maintenance | 3", "Docker and Kubernetes settings | 3 | os.shm"],
    "GPU resource management and scheduling (L9085)": [
        "Topology-aware job placement | 4", "Multi-Process Service (MPS) | 3 | gpu.compute_mode",
        "Multi-Instance GPU (MIG) | 3 | gpu.mig", "Persistence with MIG | 3 | gpu.persistence",
        "GPU clocks and power | 3 | gpu.power_cap gpu.throttle", "ECC memory | 3 | gpu.ecc gpu.ecc_errors",
        "Scheduler awareness | 3", "No CPU oversubscription | 3 | os.cores_per_gpu torch.threads",
        "Fabric Manager on NVSwitch | 4", "Pack jobs for utilization | 3"],
    "I/O (L9121)": [
        "Load data in parallel | 5 | data.num_workers", "Pin host memory for I/O | 5 | data.pin_memory",
        "Overlap copies with compute | 11 | data.non_blocking", "Fast storage (NVMe/SSD) | 5 | io.rotational",
        "I/O concurrency and striping | 5", "Small-file access | 5 | io.small_files", "Client-side caching | 5",
        "Compress data wisely | 5", "Measure throughput, remove bottlenecks | 5", "Scale I/O across nodes | 5",
        "Cheap checkpoints and logging | 5 | io.gds"],
    "Data processing pipeline (L9161)": [
        "Binary data formats | 5", "Tune the file system | 5 | io.noatime io.read_ahead",
        "Hyperthreading for CPU-bound loaders | 3", "Raise thread priority | 3", "Cache hot data | 5",
        "Prefetch and buffer | 5 | data.prefetch data.persistent_workers", "Parallel transforms | 5",
        "Cache model state and outputs | 18", "Shard data across nodes | 5 | data.sampler",
        "Watch the pipeline, tune the batch | 5", "Augment on the GPU | 5", "End-to-end throughput | 1"],
    "Profiling, debugging and monitoring (L9203)": [
        "Profile for root causes | 13 | debug.launch_blocking debug.anomaly", "Remove Python overhead | 14",
        "GPU utilization and idle gaps | 13", "NVTX ranges | 13", "Kernel profilers beyond PyTorch | 8",
        "Warp divergence | 8", "Load balance | 15", "Memory use | 13 | gpu.memory", "Network and disk | 4",
        "Alerts on anomalies | 16", "Regression tests | 13"],
    "GPU programming and CUDA (L9242)": [
        "The memory hierarchy | 6", "Coalesced global access | 7", "Shared memory reuse | 7",
        "Memory alignment | 7", "Fewer transfers | 11", "Fewer temporary allocations | 11 | torch.alloc_conf",
        "Threads vs resources | 8", "Registers and shared memory | 8", "Overlap copies and compute | 11",
        "Bulk prefetch | 10", "Cooperative groups | 10", "Warp divergence | 8", "Warp-level primitives | 8",
        "Streams for concurrency | 11", "Libraries first | 9 | torch.sdpa", "CUDA graphs for repeated launches | 12",
        "Scalability limits | 8", "Read PTX and SASS | 14", "The PyTorch compiler | 14 | debug.compile_logs",
        "Dynamic shapes | 14", "Triton kernels via torch.compile | 14", "Autotuning | 14",
        "Read-only data paths | 7"],
    "Kernel scheduling and execution (L9318)": [
        "Few synchronizations | 13 | debug.launch_blocking", "Fuse small kernels | 9",
        "Dynamic parallelism | 12", "Persistent kernels | 12", "Thread block clusters | 10"],
    "Arithmetic and mixed precision (L9339)": [
        "Mixed-precision training | 9 | torch.bf16", "Gradient accumulation and checkpointing | 13",
        "BF16 over FP16 on new GPUs | 9 | torch.bf16", "FP8 and scaling | 9 | torch.fp8",
        "Tensor cores and TMA | 9", "TF32 for an easy win | 9 | torch.tf32 torch.cudnn_tf32",
        "Structured sparsity | 9", "Lower-precision gradients and activations | 19",
        "Custom quantization for inference | 19", "Fuse scaling with compute | 9"],
    "Advanced strategies and algorithms (L9375)": [
        "Autotune kernel parameters | 20", "Kernel fusion | 9", "Memory-efficient attention | 9 | torch.sdpa",
        "Overlap communication with compute | 4", "Pipeline parallelism | 15", "Sharded optimizers | 13",
        "Asynchronous training | 4", "Sparsity and pruning | 19"],
    "Distributed training and network (L9405)": [
        "RDMA networks | 4 | net.rdma", "Tune TCP/IP on Ethernet | 4 | net.mtu net.socket_buffers net.congestion",
        "CPU affinity for NICs | 4", "NCCL environment | 4 | net.nccl_env net.nccl_debug",
        "Gradient accumulation on slow networks | 4", "All-reduce topology | 4",
        "No network oversubscription | 4 | net.nics_per_gpu", "Compress communication | 4",
        "Network health | 4"],
    "Efficient inference and serving (L9438)": [
        "Orchestrate resources dynamically | 17", "Serverless inference | 17", "Batching and concurrency | 16",
        "NIXL for distributed inference | 17", "Offload the KV cache | 18", "Serve models efficiently | 16",
        "Tail latency | 16", "Warm up against cold starts | 16", "Partition for QoS | 17",
        "Grace CPU for preprocessing | 2", "Edge and latency-critical tuning | 19"],
    "Multi-node inference (L9477)": [
        "Disaggregate prefill and decode | 17", "Continuous batching | 16", "Shard across GPUs and nodes | 15",
        "Offload memory for long contexts | 18"],
    "Power and thermal (L9495)": [
        "Efficient, green energy | 20", "Thermals and clocks | 8 | gpu.temperature gpu.throttle",
        "Energy-aware power management | 3 | gpu.power_cap", "Performance per watt | 20",
        "Adaptive cooling | 20", "Consolidate workloads | 3", "Cooling configuration | 2",
        "Power monitoring | 16 | gpu.power_draw", "Resilience for long jobs | 5"],
}


def notebook_for(chapter: int) -> str:
    """The chapter notebook's path (notebooks/chNN_*.ipynb), or 'chNN (notebook not yet written)'."""
    from perflab.paths import REPO
    hits = sorted((REPO / "notebooks").glob(f"ch{chapter:02d}_*.ipynb"))
    return f"notebooks/{hits[0].name}" if hits else f"ch{chapter:02d} (notebook not yet written)"


def items() -> list[dict]:
    """Every checklist item: category, name, chapter, its notebook and the audit checks that read it."""
    out = []
    for category, entries in CATEGORIES.items():
        for entry in entries:
            name, ch, *ids = [p.strip() for p in entry.split("|")]
            out.append({"category": category, "item": name, "chapter": int(ch), "notebook": notebook_for(int(ch)),
                        "checks": ids[0].split() if ids else []})
    return out


def table():
    """The checklist items no audit check reads, as a Table (one row per item)."""
    from perflab.table import Table
    every = items()
    rows = [[r["category"].split(" (")[0], r["item"], f"ch{r['chapter']:02d}", r["notebook"]]
            for r in every if not r["checks"]]
    return Table(["category", "item", "teaches", "notebook"], rows,
                 title=f"Appendix checklist · {len(rows)} of {len(every)} items to review by hand",
                 notes=["links open the chapter notebook; items with audit checks are read by `perflab audit`"])


def by_category() -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in items():
        out.setdefault(r["category"], []).append(r)
    return out

