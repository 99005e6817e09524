"""Host checks: the OS, CPU and memory (ch3), storage (ch5) and the network (ch4), read from /proc and /sys."""
from __future__ import annotations

import re

from perflab.audit.core import MissingFact, Result, check

OS, IO, NET = "OS and driver", "I/O and data pipeline", "Distributed training and network"
GiB = 1 << 30


def _selected(text: str) -> str:
    """The [bracketed] choice in a sysfs menu such as 'always [madvise] never'."""
    m = re.search(r"\[(\w[\w-]*)\]", text)
    return m.group(1) if m else text.strip()


def _ev(facts, key: str, value) -> str:
    return f"{value} · {facts.where(key)}"


@check("os.thp", "transparent hugepages on (always/madvise)", 3, OS, "L1151, L9061")
def thp(f) -> Result:
    key = "file:/sys/kernel/mm/transparent_hugepage/enabled"
    mode = _selected(f[key])
    if mode in ("always", "madvise"):
        return Result("pass", _ev(f, key, mode), "training: always is fine; latency-critical inference: "
                      "madvise avoids compaction pauses")
    return Result("warn", _ev(f, key, mode), "enable THP (madvise or always) so large pinned buffers and "
                  "model weights use 2 MB pages")


@check("os.swap", "no swap device", 3, OS, "L1177, L9046")
def swap(f) -> Result:
    key = "file:/proc/swaps"
    devices = [line.split()[0] for line in f[key].splitlines()[1:] if line.strip()]
    if not devices:
        return Result("pass", _ev(f, key, "no swap device"))
    return Result("warn", _ev(f, key, "swap on " + ", ".join(devices)),
                  "swapoff -a, or vm.swappiness=0, so pinned and hot pages never go to disk")


@check("os.swappiness", "vm.swappiness ≤ 10", 3, OS, "L1177, L9046")
def swappiness(f) -> Result:
    key = "file:/proc/sys/vm/swappiness"
    value = int(f[key])
    status = "pass" if value <= 10 else "warn"
    return Result(status, _ev(f, key, f"vm.swappiness={value}"), "sysctl vm.swappiness=0 (or ≤ 10)")


@check("os.cpu_governor", "CPU governor = performance", 3, OS, "L9043")
def governor(f) -> Result:
    key = "glob:/sys/devices/system/cpu/cpu*/cpufreq/scaling_governor"
    found = f[key]
    if not found:
        raise MissingFact("scaling_governor", "no cpufreq in /sys: a VM or container hides it")
    modes = sorted(set(found.values()))
    ev = _ev(f, key, f"{'/'.join(modes)} on {len(found)} CPUs")
    return Result.judge(modes == ["performance"], ev,
                        "cpupower frequency-set -g performance: loader threads and kernel launches "
                        "should not wait for the CPU to clock up")


@check("os.memlock", "locked-memory limit unlimited", 3, OS, "L1133, L9064")
def memlock(f) -> Result:
    value = f["memlock"]
    if value == -1:
        return Result("pass", _ev(f, "memlock", "unlimited"))
    ev = _ev(f, "memlock", f"{value / 2**20:.1f} MiB")
    return Result.judge(value >= 16 * GiB, ev, "ulimit -l unlimited (Docker: --ulimit memlock=-1) so large pinned "
                        "and RDMA buffers can be locked")


@check("os.shm", "/dev/shm large (≥ 2 GiB)", 3, OS, "L9082")
def shm(f) -> Result:
    size = f["shm_bytes"]
    ev = _ev(f, "shm_bytes", f"/dev/shm is {size / GiB:.2f} GiB")
    advice = "Docker: --ipc=host or --shm-size=16g; DataLoader workers pass batches through /dev/shm"
    if size < GiB // 4:
        return Result("fail", ev, advice)
    return Result("pass" if size >= 2 * GiB else "warn", ev, advice)


@check("os.omp_threads", "OMP_NUM_THREADS set, ≤ cores", 3, OS, "L9052")
def omp_threads(f) -> Result:
    env, cores = f["env"], len(f["affinity"])
    value = env.get("OMP_NUM_THREADS")
    if value is None:
        return Result("warn", f"OMP_NUM_THREADS unset · {cores} usable cores · environment",
                      "set OMP_NUM_THREADS to (cores ÷ processes per node) so ranks do not oversubscribe")
    n = int(value)
    ev = f"OMP_NUM_THREADS={n} · {cores} usable cores (os.sched_getaffinity)"
    return Result.judge(1 <= n <= cores, ev, f"lower OMP_NUM_THREADS to at most {cores}", "fail")


@check("os.numa", "process runs on its GPU's NUMA node", 3, OS, "L1049, L9055", needs_gpu=True)
def numa(f) -> Result:
    gpus = f["smi"]
    cpus = set(f["affinity"])
    notes, bad = [], False
    for g in gpus:
        bdf = (g.get("pci.bus_id") or "").lower()
        if not bdf:
            raise MissingFact("pci.bus_id", "nvidia-smi did not report it")
        bdf = bdf[4:] if len(bdf.split(":")[0]) == 8 else bdf          # 00000000:19:00.0 -> 0000:19:00.0
        node = int(f[f"file:/sys/bus/pci/devices/{bdf}/numa_node"])
        if node < 0:
            notes.append(f"GPU{g['index']}: one NUMA node")
            continue
        local = _cpulist(f[f"file:/sys/devices/system/node/node{node}/cpulist"])
        inside = len(cpus & local) / len(cpus)
        bad |= inside < 1.0
        notes.append(f"GPU{g['index']}: node {node}, {inside:.0%} of this process's CPUs are local")
    ev = "; ".join(notes) + " · /sys/bus/pci/devices/*/numa_node vs os.sched_getaffinity"
    return Result.judge(not bad, ev, "pin each rank to its GPU's node: numactl --cpunodebind=N --membind=N")


def _cpulist(text: str) -> set:
    cpus = set()
    for part in text.strip().split(","):
        if part:
            lo, _, hi = part.partition("-")
            cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


@check("os.cores_per_gpu", "≥ 2 usable cores per GPU", 3, OS, "L8968, L9112", needs_gpu=True)
def cores_per_gpu(f) -> Result:
    gpus, cores = len(f["smi"]), len(f["affinity"])
    if gpus == 0:
        raise MissingFact("GPU count", "nvidia-smi lists no GPU")
    ratio = cores / gpus
    ev = f"{cores} usable cores for {gpus} GPUs = {ratio:.1f} per GPU · affinity, nvidia-smi"
    if ratio < 1:
        return Result("fail", ev, "at least one core per GPU, plus cores for loader workers")
    return Result("pass" if ratio >= 2 else "warn", ev, "give each GPU a launch thread and loader workers")


def _block_devices(f, leaf: str) -> dict:
    found = f[f"glob:/sys/block/*/queue/{leaf}"]
    real = {p.split("/")[3]: v for p, v in found.items()
            if not re.match(r"(loop|ram|zram|dm-|sr|md)", p.split("/")[3])}
    if not real:
        raise MissingFact(f"/sys/block/*/queue/{leaf}", "no physical block device visible")
    return real


@check("io.scheduler", "NVMe I/O scheduler none/mq-deadline", 5, IO, "L9076")
def io_scheduler(f) -> Result:
    devs = {d: _selected(v) for d, v in _block_devices(f, "scheduler").items() if d.startswith("nvme")}
    if not devs:
        raise MissingFact("/sys/block/nvme*/queue/scheduler", "no NVMe device visible")
    ev = ", ".join(f"{d}={s}" for d, s in devs.items()) + " · /sys/block/*/queue/scheduler"
    return Result.judge(all(s in ("none", "mq-deadline") for s in devs.values()), ev,
                        "echo none > /sys/block/nvmeX/queue/scheduler (or mq-deadline)")


@check("io.read_ahead", "read-ahead above 128 KB", 5, IO, "L9170")
def read_ahead(f) -> Result:
    devs = {d: int(v) for d, v in _block_devices(f, "read_ahead_kb").items()}
    ev = ", ".join(f"{d}={v} KB" for d, v in devs.items()) + " · /sys/block/*/queue/read_ahead_kb"
    return Result.judge(min(devs.values()) > 128, ev, "for large sequential shards raise read-ahead to a few MB: "
                        "blockdev --setra (the 128 KB default suits random reads)")


@check("io.rotational", "storage is SSD/NVMe", 5, IO, "L9136")
def rotational(f) -> Result:
    devs = _block_devices(f, "rotational")
    spinning = [d for d, v in devs.items() if v == "1"]
    ev = ", ".join(f"{d} rotational={v}" for d, v in devs.items()) + " · /sys/block/*/queue/rotational"
    return Result.judge(not spinning, ev, "keep datasets and checkpoints on NVMe, not on spinning disks (virtual "
                        "disks often report 1: ask what backs them)")


@check("io.noatime", "root mounted noatime", 5, IO, "L2044, L9076")
def noatime(f) -> Result:
    key = "file:/proc/mounts"
    root = [line.split() for line in f[key].splitlines() if line.split()[1:2] == ["/"]]
    if not root:
        raise MissingFact("/ in /proc/mounts")
    opts = root[-1][3].split(",")
    ev = _ev(f, key, f"/ mounted {','.join(o for o in opts if 'atime' in o) or 'atime (default)'}")
    return Result.judge("noatime" in opts, ev, "mount data volumes with noatime: reads then never write access times")


@check("io.gds", "GPUDirect Storage available", 5, IO, "L2074, L9136")
def gds(f) -> Result:
    mods = f["modules"]
    cfg = f.get("file:/etc/cufile.json")
    have = [m for m in ("kvikio", "cufile") if mods.get(m)] + (["/etc/cufile.json"] if cfg else [])
    if have:
        return Result("pass", f"{', '.join(have)} found · find_spec, /etc/cufile.json")
    return Result("warn", "no kvikio, cufile or /etc/cufile.json · find_spec, /etc",
                  "optional: GPUDirect Storage (kvikio) reads files straight into GPU memory")


@check("io.small_files", "dataset not made of > 100k small files", 5, IO, "L9142")
def small_files(f) -> Result:
    import os
    root, small, total = f["data_dir"], 0, 0
    for dirpath, _, names in os.walk(root):
        for n in names:
            total += 1
            try:
                small += os.path.getsize(os.path.join(dirpath, n)) < 2**20
            except OSError:
                pass
        if total > 200_000:
            break
    ev = f"{small} of {total} files under 1 MiB · {root}"
    return Result.judge(small <= 100_000, ev, "pack small samples into shards (tar/WebDataset, npy blocks)")


@check("net.nccl_env", "no NCCL transport disabled", 4, NET, "L9420")
def nccl_env(f) -> Result:
    env = f["env"]
    nccl = {k: v for k, v in sorted(env.items()) if k.startswith("NCCL_")}
    off = [k for k in ("NCCL_P2P_DISABLE", "NCCL_IB_DISABLE", "NCCL_SHM_DISABLE") if nccl.get(k) == "1"]
    ev = (", ".join(f"{k}={v}" for k, v in nccl.items()) or "no NCCL_* set (NCCL picks)") + " · environment"
    return Result.judge(not off, ev, f"{', '.join(off)} turns a fast transport off: unset unless debugging")


@check("net.nccl_debug", "NCCL_DEBUG not INFO/TRACE", 4, NET, "L9420")
def nccl_debug(f) -> Result:
    value = f["env"].get("NCCL_DEBUG")
    ev = f"NCCL_DEBUG={value or 'unset'} · environment"
    return Result.judge(not (value and value.upper() in ("INFO", "TRACE")), ev,
                        "INFO shows the transport once; unset it for production runs")


@check("net.rdma", "RDMA devices present", 4, NET, "L9411")
def rdma(f) -> Result:
    devs = f["glob:/sys/class/infiniband/*/node_type"]
    if devs:
        return Result("pass", f"{len(devs)} RDMA devices · /sys/class/infiniband")
    return Result("warn", "no RDMA device · /sys/class/infiniband",
                  "one node is fine; across nodes NCCL needs InfiniBand/RoCE, TCP is far slower")


@check("net.nics_per_gpu", "one RDMA NIC per GPU", 4, NET, "L9429", needs_gpu=True)
def nics_per_gpu(f) -> Result:
    nics, gpus = len(f["glob:/sys/class/infiniband/*/node_type"]), len(f["smi"])
    if gpus == 0:
        raise MissingFact("GPU count", "nvidia-smi lists no GPU")
    ev = f"{nics} RDMA NICs for {gpus} GPUs · /sys/class/infiniband, nvidia-smi"
    return Result("pass" if nics >= gpus else "warn", ev, "multi-node training wants one NIC per GPU")


@check("net.mtu", "jumbo frames (MTU 9000)", 4, NET, "L1815, L9414")
def mtu(f) -> Result:
    found = {p.split("/")[4]: int(v) for p, v in f["glob:/sys/class/net/*/mtu"].items()
             if not re.match(r"(lo|docker|veth|ifb|virbr|br-)", p.split("/")[4])}
    if not found:
        raise MissingFact("/sys/class/net/*/mtu", "no physical interface visible")
    ev = ", ".join(f"{n}={m}" for n, m in found.items()) + " · /sys/class/net/*/mtu"
    return Result.judge(max(found.values()) >= 9000, ev, "jumbo frames (MTU 9000) on the training network, end to end")


@check("net.socket_buffers", "socket buffers ≥ 16 MiB", 4, NET, "L1817, L9414")
def socket_buffers(f) -> Result:
    keys = ["file:/proc/sys/net/core/rmem_max", "file:/proc/sys/net/core/wmem_max",
            "file:/proc/sys/net/ipv4/tcp_rmem", "file:/proc/sys/net/ipv4/tcp_wmem"]
    values = {k.rsplit("/", 1)[1]: int(f[k].split()[-1]) for k in keys}
    ev = ", ".join(f"{k}={v / 2**20:.1f} MiB" for k, v in values.items()) + " · /proc/sys/net"
    return Result.judge(min(values.values()) >= 16 * 2**20, ev,
                        "raise net.core.[rw]mem_max and tcp_[rw]mem max to ≥ 16 MiB for TCP transfers")


@check("net.congestion", "TCP congestion control = bbr", 4, NET, "L9414")
def congestion(f) -> Result:
    key = "file:/proc/sys/net/ipv4/tcp_congestion_control"
    value = f[key]
    return Result("pass" if value == "bbr" else "warn", _ev(f, key, value),
                  "sysctl net.ipv4.tcp_congestion_control=bbr for long, fast TCP links")


CHECKS = [thp, swap, swappiness, governor, memlock, shm, omp_threads, numa, cores_per_gpu, io_scheduler,
          read_ahead, rotational, noatime, gds, small_files, nccl_env, nccl_debug, rdma, nics_per_gpu, mtu,
          socket_buffers, congestion]
