"""Host checks: the OS, CPU and memory (ch3), storage (ch5) and the network (ch4), read from /proc and /sys."""
from __future__ import annotations

import re

from perflab.audit.core import Check, MissingFact, Result

OS, IO, NET = "OS and driver", "I/O and data pipeline", "Distributed training and network"
GiB = 1 << 30


def _selected(text: str) -> str:
    """The [bracketed] choice in a sysfs menu such as 'always [madvise] never'."""
    m = re.search(r"\[(\w[\w-]*)\]", text)
    return m.group(1) if m else text.strip()


def _ev(facts, key: str, value) -> str:
    return f"{value} · {facts.where(key)}"


def thp(f) -> Result:
    key = "file:/sys/kernel/mm/transparent_hugepage/enabled"
    mode = _selected(f[key])
    if mode in ("always", "madvise"):
        return Result("pass", _ev(f, key, mode), "training: always is fine; latency-critical inference: "
                      "madvise avoids compaction pauses")
    return Result("warn", _ev(f, key, mode), "enable THP (madvise or always) so large pinned buffers and "
                  "model weights use 2 MB pages")


def swap(f) -> Result:
    key = "file:/proc/swaps"
    devices = [line.split()[0] for line in f[key].splitlines()[1:] if line.strip()]
    if not devices:
        return Result("pass", _ev(f, key, "no swap device"))
    return Result("warn", _ev(f, key, "swap on " + ", ".join(devices)),
                  "swapoff -a, or vm.swappiness=0, so pinned and hot pages never go to disk")


def swappiness(f) -> Result:
    key = "file:/proc/sys/vm/swappiness"
    value = int(f[key])
    status = "pass" if value <= 10 else "warn"
    return Result(status, _ev(f, key, f"vm.swappiness={value}"), "sysctl vm.swappiness=0 (or ≤ 10)")


def governor(f) -> Result:
    key = "glob:/sys/devices/system/cpu/cpu*/cpufreq/scaling_governor"
    found = f[key]
    if not found:
        raise MissingFact("scaling_governor", "no cpufreq in /sys: a VM or container hides it")
    modes = sorted(set(found.values()))
    ev = _ev(f, key, f"{'/'.join(modes)} on {len(found)} CPUs")
    if modes == ["performance"]:
        return Result("pass", ev)
    return Result("warn", ev, "cpupower frequency-set -g performance: loader threads and kernel launches "
                  "should not wait for the CPU to clock up")


def memlock(f) -> Result:
    value = f["memlock"]
    if value == -1:
        return Result("pass", _ev(f, "memlock", "unlimited"))
    ev = _ev(f, "memlock", f"{value / 2**20:.1f} MiB")
    if value >= 16 * GiB:
        return Result("pass", ev)
    return Result("warn", ev, "ulimit -l unlimited (Docker: --ulimit memlock=-1) so large pinned "
                  "and RDMA buffers can be locked")


def shm(f) -> Result:
    size = f["shm_bytes"]
    ev = _ev(f, "shm_bytes", f"/dev/shm is {size / GiB:.2f} GiB")
    advice = "Docker: --ipc=host or --shm-size=16g; DataLoader workers pass batches through /dev/shm"
    if size < GiB // 4:
        return Result("fail", ev, advice)
    return Result("pass" if size >= 2 * GiB else "warn", ev, advice)


def omp_threads(f) -> Result:
    env, cores = f["env"], len(f["affinity"])
    value = env.get("OMP_NUM_THREADS")
    if value is None:
        return Result("warn", f"OMP_NUM_THREADS unset · {cores} usable cores · environment",
                      "set OMP_NUM_THREADS to (cores ÷ processes per node) so ranks do not oversubscribe")
    n = int(value)
    ev = f"OMP_NUM_THREADS={n} · {cores} usable cores (os.sched_getaffinity)"
    if 1 <= n <= cores:
        return Result("pass", ev)
    return Result("fail", ev, f"lower OMP_NUM_THREADS to at most {cores}")


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
    if bad:
        return Result("warn", ev, "pin each rank to its GPU's node: numactl --cpunodebind=N --membind=N")
    return Result("pass", ev)


def _cpulist(text: str) -> set:
    cpus = set()
    for part in text.strip().split(","):
        if part:
            lo, _, hi = part.partition("-")
            cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


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


def io_scheduler(f) -> Result:
    devs = {d: _selected(v) for d, v in _block_devices(f, "scheduler").items() if d.startswith("nvme")}
    if not devs:
        raise MissingFact("/sys/block/nvme*/queue/scheduler", "no NVMe device visible")
    ev = ", ".join(f"{d}={s}" for d, s in devs.items()) + " · /sys/block/*/queue/scheduler"
    if all(s in ("none", "mq-deadline") for s in devs.values()):
        return Result("pass", ev)
    return Result("warn", ev, "echo none > /sys/block/nvmeX/queue/scheduler (or mq-deadline)")


def read_ahead(f) -> Result:
    devs = {d: int(v) for d, v in _block_devices(f, "read_ahead_kb").items()}
    ev = ", ".join(f"{d}={v} KB" for d, v in devs.items()) + " · /sys/block/*/queue/read_ahead_kb"
    if min(devs.values()) > 128:
        return Result("pass", ev)
    return Result("warn", ev, "for large sequential shards raise read-ahead to a few MB: "
                  "blockdev --setra (the 128 KB default suits random reads)")


def rotational(f) -> Result:
    devs = _block_devices(f, "rotational")
    spinning = [d for d, v in devs.items() if v == "1"]
    ev = ", ".join(f"{d} rotational={v}" for d, v in devs.items()) + " · /sys/block/*/queue/rotational"
    if spinning:
        return Result("warn", ev, "keep datasets and checkpoints on NVMe, not on spinning disks (virtual disks "
                      "often report 1: ask what backs them)")
    return Result("pass", ev)


def noatime(f) -> Result:
    key = "file:/proc/mounts"
    root = [line.split() for line in f[key].splitlines() if line.split()[1:2] == ["/"]]
    if not root:
        raise MissingFact("/ in /proc/mounts")
    opts = root[-1][3].split(",")
    ev = _ev(f, key, f"/ mounted {','.join(o for o in opts if 'atime' in o) or 'atime (default)'}")
    if "noatime" in opts:
        return Result("pass", ev)
    return Result("warn", ev, "mount data volumes with noatime: reads then never write access times")


def gds(f) -> Result:
    mods = f["modules"]
    cfg = f.get("file:/etc/cufile.json")
    have = [m for m in ("kvikio", "cufile") if mods.get(m)] + (["/etc/cufile.json"] if cfg else [])
    if have:
        return Result("pass", f"{', '.join(have)} found · find_spec, /etc/cufile.json")
    return Result("warn", "no kvikio, cufile or /etc/cufile.json · find_spec, /etc",
                  "optional: GPUDirect Storage (kvikio) reads files straight into GPU memory")


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
    if small > 100_000:
        return Result("warn", ev, "pack small samples into shards (tar/WebDataset, npy blocks)")
    return Result("pass", ev)


def nccl_env(f) -> Result:
    env = f["env"]
    nccl = {k: v for k, v in sorted(env.items()) if k.startswith("NCCL_")}
    off = [k for k in ("NCCL_P2P_DISABLE", "NCCL_IB_DISABLE", "NCCL_SHM_DISABLE") if nccl.get(k) == "1"]
    ev = (", ".join(f"{k}={v}" for k, v in nccl.items()) or "no NCCL_* set (NCCL picks)") + " · environment"
    if off:
        return Result("warn", ev, f"{', '.join(off)} turns a fast transport off: unset unless debugging")
    return Result("pass", ev)


def nccl_debug(f) -> Result:
    value = f["env"].get("NCCL_DEBUG")
    ev = f"NCCL_DEBUG={value or 'unset'} · environment"
    if value and value.upper() in ("INFO", "TRACE"):
        return Result("warn", ev, "INFO shows the transport once; unset it for production runs")
    return Result("pass", ev)


def rdma(f) -> Result:
    devs = f["glob:/sys/class/infiniband/*/node_type"]
    if devs:
        return Result("pass", f"{len(devs)} RDMA devices · /sys/class/infiniband")
    return Result("warn", "no RDMA device · /sys/class/infiniband",
                  "one node is fine; across nodes NCCL needs InfiniBand/RoCE, TCP is far slower")


def nics_per_gpu(f) -> Result:
    nics, gpus = len(f["glob:/sys/class/infiniband/*/node_type"]), len(f["smi"])
    if gpus == 0:
        raise MissingFact("GPU count", "nvidia-smi lists no GPU")
    ev = f"{nics} RDMA NICs for {gpus} GPUs · /sys/class/infiniband, nvidia-smi"
    return Result("pass" if nics >= gpus else "warn", ev, "multi-node training wants one NIC per GPU")


def mtu(f) -> Result:
    found = {p.split("/")[4]: int(v) for p, v in f["glob:/sys/class/net/*/mtu"].items()
             if not re.match(r"(lo|docker|veth|ifb|virbr|br-)", p.split("/")[4])}
    if not found:
        raise MissingFact("/sys/class/net/*/mtu", "no physical interface visible")
    ev = ", ".join(f"{n}={m}" for n, m in found.items()) + " · /sys/class/net/*/mtu"
    if max(found.values()) >= 9000:
        return Result("pass", ev)
    return Result("warn", ev, "jumbo frames (MTU 9000) on the training network, end to end")


def socket_buffers(f) -> Result:
    keys = ["file:/proc/sys/net/core/rmem_max", "file:/proc/sys/net/core/wmem_max",
            "file:/proc/sys/net/ipv4/tcp_rmem", "file:/proc/sys/net/ipv4/tcp_wmem"]
    values = {k.rsplit("/", 1)[1]: int(f[k].split()[-1]) for k in keys}
    ev = ", ".join(f"{k}={v / 2**20:.1f} MiB" for k, v in values.items()) + " · /proc/sys/net"
    if min(values.values()) >= 16 * 2**20:
        return Result("pass", ev)
    return Result("warn", ev, "raise net.core.[rw]mem_max and tcp_[rw]mem max to ≥ 16 MiB for TCP transfers")


def congestion(f) -> Result:
    key = "file:/proc/sys/net/ipv4/tcp_congestion_control"
    value = f[key]
    return Result("pass" if value == "bbr" else "warn", _ev(f, key, value),
                  "sysctl net.ipv4.tcp_congestion_control=bbr for long, fast TCP links")


CHECKS = [
    Check("os.thp", "transparent hugepages on (always/madvise)", 3, OS, thp, "L1151, L9061"),
    Check("os.swap", "no swap device", 3, OS, swap, "L1177, L9046"),
    Check("os.swappiness", "vm.swappiness ≤ 10", 3, OS, swappiness, "L1177, L9046"),
    Check("os.cpu_governor", "CPU governor = performance", 3, OS, governor, "L9043"),
    Check("os.memlock", "locked-memory limit unlimited", 3, OS, memlock, "L1133, L9064"),
    Check("os.shm", "/dev/shm large (≥ 2 GiB)", 3, OS, shm, "L9082"),
    Check("os.omp_threads", "OMP_NUM_THREADS set, ≤ cores", 3, OS, omp_threads, "L9052"),
    Check("os.numa", "process runs on its GPU's NUMA node", 3, OS, numa, "L1049, L9055", needs_gpu=True),
    Check("os.cores_per_gpu", "≥ 2 usable cores per GPU", 3, OS, cores_per_gpu, "L8968, L9112", needs_gpu=True),
    Check("io.scheduler", "NVMe I/O scheduler none/mq-deadline", 5, IO, io_scheduler, "L9076"),
    Check("io.read_ahead", "read-ahead above 128 KB", 5, IO, read_ahead, "L9170"),
    Check("io.rotational", "storage is SSD/NVMe", 5, IO, rotational, "L9136"),
    Check("io.noatime", "root mounted noatime", 5, IO, noatime, "L2044, L9076"),
    Check("io.gds", "GPUDirect Storage available", 5, IO, gds, "L2074, L9136"),
    Check("io.small_files", "dataset not made of > 100k small files", 5, IO, small_files, "L9142"),
    Check("net.nccl_env", "no NCCL transport disabled", 4, NET, nccl_env, "L9420"),
    Check("net.nccl_debug", "NCCL_DEBUG not INFO/TRACE", 4, NET, nccl_debug, "L9420"),
    Check("net.rdma", "RDMA devices present", 4, NET, rdma, "L9411"),
    Check("net.nics_per_gpu", "one RDMA NIC per GPU", 4, NET, nics_per_gpu, "L9429", needs_gpu=True),
    Check("net.mtu", "jumbo frames (MTU 9000)", 4, NET, mtu, "L1815, L9414"),
    Check("net.socket_buffers", "socket buffers ≥ 16 MiB", 4, NET, socket_buffers, "L1817, L9414"),
    Check("net.congestion", "TCP congestion control = bbr", 4, NET, congestion, "L9414"),
]
