"""Every audit check on a faked machine: one where it must pass, one where it must not, and one where
the fact is missing (unknown). Nothing here reads the real machine."""
import pytest

from perflab.audit import CHECKS, Facts, Result, audit, core, remaining

GOOD_GPU = {"index": "0", "name": "NVIDIA H200", "pci.bus_id": "00000000:19:00.0", "driver_version": "570.86",
            "persistence_mode": "Enabled", "mig.mode.current": "Disabled", "ecc.mode.current": "Enabled",
            "ecc.errors.uncorrected.volatile.total": "0", "ecc.errors.uncorrected.aggregate.total": "0",
            "clocks.sm": "1980", "clocks.max.sm": "1980", "clocks_throttle_reasons.active": "0x0000000000000000",
            "power.draw": "350.2", "enforced.power.limit": "700.00", "power.default_limit": "700.00",
            "temperature.gpu": "41", "pcie.link.gen.current": "5", "pcie.link.gen.max": "5",
            "pcie.link.width.current": "16", "pcie.link.width.max": "16", "memory.used": "1024",
            "memory.total": "143771", "compute_mode": "Default"}


def gpu(**changes):
    g = dict(GOOD_GPU)
    g.update({k.replace("__", "."): v for k, v in changes.items()})
    return g


def smi(*gpus):
    return {"smi": list(gpus) or [dict(GOOD_GPU)]}


TORCH_OK = {"torch.version": {"torch": "2.11.0", "cuda": "12.8"}, "torch.cuda_ok": True}
LOADER = {"num_workers": 4, "pin_memory": True, "persistent_workers": True, "prefetch_factor": 2,
          "sampler": "SequentialSampler"}
NUMA = {"file:/sys/bus/pci/devices/0000:19:00.0/numa_node": "0",
        "file:/sys/devices/system/node/node0/cpulist": "0-7,16-23"}
NET = {"file:/proc/sys/net/core/rmem_max": "67108864", "file:/proc/sys/net/core/wmem_max": "67108864",
       "file:/proc/sys/net/ipv4/tcp_rmem": "4096 87380 67108864", "file:/proc/sys/net/ipv4/tcp_wmem": "4096 65536 67108864"}
IB = {"glob:/sys/class/infiniband/*/node_type": {"/sys/class/infiniband/mlx5_0/node_type": "1: CA"}}
THP = "file:/sys/kernel/mm/transparent_hugepage/enabled"
GOV = "glob:/sys/devices/system/cpu/cpu*/cpufreq/scaling_governor"
SCHED, RA, ROT = ("glob:/sys/block/*/queue/" + leaf for leaf in ("scheduler", "read_ahead_kb", "rotational"))
SWAPS = "Filename\tType\tSize\tUsed\tPriority"

# check id -> (facts where it passes, facts where it does not, the status it must give then)
CASES = {
    "os.thp": ({THP: "always [madvise] never"}, {THP: "always madvise [never]"}, "warn"),
    "os.swap": ({"file:/proc/swaps": SWAPS}, {"file:/proc/swaps": SWAPS + "\n/swapfile file 8388604 0 -2"}, "warn"),
    "os.swappiness": ({"file:/proc/sys/vm/swappiness": "0"}, {"file:/proc/sys/vm/swappiness": "60"}, "warn"),
    "os.cpu_governor": ({GOV: {"/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor": "performance"}},
                        {GOV: {"/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor": "powersave"}}, "warn"),
    "os.memlock": ({"memlock": -1}, {"memlock": 8 << 20}, "warn"),
    "os.shm": ({"shm_bytes": 64 << 30}, {"shm_bytes": 64 << 20}, "fail"),
    "os.omp_threads": ({"env": {"OMP_NUM_THREADS": "8"}, "affinity": list(range(16))},
                       {"env": {"OMP_NUM_THREADS": "64"}, "affinity": list(range(16))}, "fail"),
    "os.numa": ({**smi(), **NUMA, "affinity": [0, 1, 2, 3]}, {**smi(), **NUMA, "affinity": [8, 9, 10]}, "warn"),
    "os.cores_per_gpu": ({**smi(), "affinity": list(range(8))}, {**smi(*[GOOD_GPU] * 8), "affinity": [0, 1, 2]},
                         "fail"),
    "io.scheduler": ({SCHED: {"/sys/block/nvme0n1/queue/scheduler": "[none] mq-deadline"}},
                     {SCHED: {"/sys/block/nvme0n1/queue/scheduler": "none mq-deadline [bfq]"}}, "warn"),
    "io.read_ahead": ({RA: {"/sys/block/nvme0n1/queue/read_ahead_kb": "4096"}},
                      {RA: {"/sys/block/nvme0n1/queue/read_ahead_kb": "128"}}, "warn"),
    "io.rotational": ({ROT: {"/sys/block/nvme0n1/queue/rotational": "0"}},
                      {ROT: {"/sys/block/sda/queue/rotational": "1", "/sys/block/loop0/queue/rotational": "0"}}, "warn"),
    "io.noatime": ({"file:/proc/mounts": "/dev/nvme0n1p1 / xfs rw,noatime 0 0"},
                   {"file:/proc/mounts": "/dev/vda / ext4 rw,relatime 0 0"}, "warn"),
    "io.gds": ({"modules": {"kvikio": True}}, {"modules": {"kvikio": False, "cufile": False}}, "warn"),
    "net.nccl_env": ({"env": {"NCCL_BUFFSIZE": "8388608"}}, {"env": {"NCCL_P2P_DISABLE": "1"}}, "warn"),
    "net.nccl_debug": ({"env": {"NCCL_DEBUG": "WARN"}}, {"env": {"NCCL_DEBUG": "INFO"}}, "warn"),
    "net.rdma": (IB, {"glob:/sys/class/infiniband/*/node_type": {}}, "warn"),
    "net.nics_per_gpu": ({**IB, **smi()}, {**IB, **smi(*[GOOD_GPU] * 8)}, "warn"),
    "net.mtu": ({"glob:/sys/class/net/*/mtu": {"/sys/class/net/lo/mtu": "65536", "/sys/class/net/eth0/mtu": "9000"}},
                {"glob:/sys/class/net/*/mtu": {"/sys/class/net/lo/mtu": "65536", "/sys/class/net/eth0/mtu": "1500"}},
                "warn"),
    "net.socket_buffers": (NET, {**NET, "file:/proc/sys/net/core/rmem_max": "212992"}, "warn"),
    "net.congestion": ({"file:/proc/sys/net/ipv4/tcp_congestion_control": "bbr"},
                       {"file:/proc/sys/net/ipv4/tcp_congestion_control": "cubic"}, "warn"),
    "gpu.driver": ({**smi(), **TORCH_OK}, {**smi(), **TORCH_OK, "torch.cuda_ok": False}, "fail"),
    "gpu.persistence": (smi(), smi(gpu(persistence_mode="Disabled")), "warn"),
    "gpu.ecc": (smi(), smi(gpu(ecc__mode__current="Disabled")), "warn"),
    "gpu.ecc_errors": (smi(), smi(GOOD_GPU, gpu(index="1", ecc__errors__uncorrected__volatile__total="2")), "fail"),
    "gpu.ecc_history": (smi(), smi(gpu(ecc__errors__uncorrected__aggregate__total="1")), "warn"),
    "gpu.mig": (smi(), smi(gpu(mig__mode__current="Enabled")), "warn"),
    "gpu.compute_mode": (smi(), smi(gpu(compute_mode="Prohibited")), "fail"),
    "gpu.memory": (smi(), smi(gpu(memory__used="140000")), "fail"),
    "gpu.p2p": ({"torch.gpus": 2, "torch.p2p_blocked": []}, {"torch.gpus": 2, "torch.p2p_blocked": [(0, 1)]}, "warn"),
    "gpu.pcie": (smi(), smi(gpu(pcie__link__width__current="8")), "warn"),
    "gpu.throttle": (smi(gpu(clocks_throttle_reasons__active="0x0000000000000001")),
                     smi(gpu(clocks_throttle_reasons__active="0x0000000000000040")), "fail"),
    "gpu.power_cap": (smi(), smi(gpu(enforced__power__limit="500.00")), "warn"),
    "gpu.power_draw": (smi(), smi(gpu(power__draw="699.0")), "warn"),
    "gpu.temperature": (smi(), smi(gpu(temperature__gpu="97")), "fail"),
    "torch.tf32": ({"torch.matmul_precision": "high"}, {"torch.matmul_precision": "highest"}, "warn"),
    "torch.cudnn_tf32": ({"torch.cudnn_tf32": True}, {"torch.cudnn_tf32": False}, "warn"),
    "torch.bf16": ({"torch.bf16": True}, {"torch.bf16": False}, "warn"),
    "torch.fp8": ({"torch.capability": (9, 0)}, {"torch.capability": (7, 5)}, "warn"),
    "torch.sdpa": ({"torch.sdpa": {"flash": True, "mem_efficient": True, "math": True}},
                   {"torch.sdpa": {"flash": False, "mem_efficient": True, "math": True}}, "warn"),
    "torch.cudnn_benchmark": ({"torch.cudnn_benchmark": True}, {"torch.cudnn_benchmark": False}, "warn"),
    "torch.cudnn_deterministic": ({"torch.cudnn_deterministic": False}, {"torch.cudnn_deterministic": True}, "warn"),
    "torch.deterministic": ({"torch.deterministic": False}, {"torch.deterministic": True}, "warn"),
    "torch.alloc_conf": ({"env": {"PYTORCH_ALLOC_CONF": "expandable_segments:True"}}, {"env": {}}, "warn"),
    "torch.pinned": ({"torch.pinned_ok": True}, {"torch.pinned_ok": False}, "fail"),
    "torch.threads": ({"torch.threads": 4, "affinity": [0, 1, 2, 3]}, {"torch.threads": 32, "affinity": [0, 1]}, "warn"),
    "debug.launch_blocking": ({"env": {}}, {"env": {"CUDA_LAUNCH_BLOCKING": "1"}}, "fail"),
    "debug.anomaly": ({"torch.anomaly": False}, {"torch.anomaly": True}, "fail"),
    "debug.module_loading": ({"env": {"CUDA_MODULE_LOADING": "LAZY"}}, {"env": {"CUDA_MODULE_LOADING": "EAGER"}}, "warn"),
    "debug.compile_logs": ({"env": {}}, {"env": {"TORCH_COMPILE_DEBUG": "1"}}, "warn"),
    "data.num_workers": ({"loader": LOADER}, {"loader": {**LOADER, "num_workers": 0}}, "warn"),
    "data.pin_memory": ({"loader": LOADER}, {"loader": {**LOADER, "pin_memory": False}}, "warn"),
    "data.persistent_workers": ({"loader": LOADER}, {"loader": {**LOADER, "persistent_workers": False}}, "warn"),
    "data.prefetch": ({"loader": LOADER}, {"loader": {**LOADER, "prefetch_factor": 1}}, "warn"),
    "data.sampler": ({"loader": {**LOADER, "sampler": "DistributedSampler"}, "env": {"WORLD_SIZE": "8"}},
                     {"loader": LOADER, "env": {"WORLD_SIZE": "8"}}, "fail"),
    "data.non_blocking": ({"script": "x = x.to('cuda', non_blocking=True)\n"},
                          {"script": "x = x.to('cuda', non_blocking=True)\ny = y.cuda()\n"}, "warn"),
    "repro.git_clean": ({"git_status": ""}, {"git_status": " M perflab/cli.py\n"}, "warn"),
}
IDS = [c.id for c in CHECKS if c.id != "io.small_files"]      # needs a real folder: tested below


def run(check_id, values):
    return audit(Facts(values, live=False), only=[check_id]).rows[0].result


def test_every_check_has_a_case():
    assert sorted(CASES) == sorted(IDS)
    assert len(CHECKS) >= 55 and len({c.id for c in CHECKS}) == len(CHECKS)


@pytest.mark.parametrize("check_id", IDS)
def test_check_passes_on_a_good_machine_and_flags_a_bad_one(check_id):
    good, bad, status = CASES[check_id]
    r = run(check_id, good)
    assert r.status == "pass" and r.evidence, r
    r = run(check_id, bad)
    assert r.status == status and r.advice and r.evidence, r


@pytest.mark.parametrize("check_id", [c.id for c in CHECKS])
def test_check_is_unknown_when_the_fact_is_missing(check_id):
    r = run(check_id, {})
    assert r.status == "unknown" and "cannot read" in r.evidence


def test_no_gpu_means_unknown_not_fail():
    for c in CHECKS:
        if c.id.startswith("gpu."):
            r = c.run(Facts({"smi": [], "torch.gpus": 0, **TORCH_OK}, live=False))
            assert r.status == "unknown", (c.id, r)


def test_smi_not_available_reads_as_unknown(monkeypatch):
    def missing(fields):
        raise core.MissingFact("nvidia-smi", "not installed")
    monkeypatch.setattr(core, "_smi_run", missing)
    r = audit(Facts({"torch.cuda_ok": True}), only=["gpu.temperature"]).rows[0].result
    assert r.status == "unknown" and "nvidia-smi" in r.evidence


def test_gpu_checks_are_not_applicable_without_a_gpu():
    facts = Facts({"torch.cuda_ok": False, "torch.matmul_precision": "highest"}, live=False)
    a = audit(facts, only=["torch.tf32", "gpu.ecc", "os.thp"])
    status = {r.check.id: r.result.status for r in a.rows}
    assert status["torch.tf32"] == "n/a" and status["gpu.ecc"] == "n/a"
    assert status["os.thp"] == "unknown"            # a host check is still asked, not waved through
    assert "n/a" in a.text() and a.text().count("\nOS and driver") <= 1


def test_categories_are_listed_once():
    a = audit(Facts({}, live=False))
    cats = [line for line in a.text().splitlines() if line and not line.startswith(" ")][1:]
    assert len(cats) == len(set(cats)), cats


def test_smi_falls_back_to_one_field_at_a_time(monkeypatch):
    def fake(fields):
        if len(fields) > 1 or fields == ["clocks_throttle_reasons.active"]:
            return None                                   # "not a valid field" on this driver
        return [["0x1" if fields[0] == "clocks_event_reasons.active" else "[N/A]"]]
    monkeypatch.setattr(core, "_smi_run", fake)
    gpus = core._smi()
    assert gpus[0]["clocks_throttle_reasons.active"] == "0x1" and gpus[0]["temperature.gpu"] is None


def test_throttle_lists_reasons_and_clocks():
    r = run("gpu.throttle", smi(gpu(clocks_throttle_reasons__active="0x4", clocks__sm="1410")))
    assert r.status == "warn" and "SwPowerCap" in r.evidence and "1410/1980 MHz" in r.evidence


def test_probe_error_is_unknown_not_a_crash():
    r = run("os.swappiness", {"file:/proc/sys/vm/swappiness": "lots"})
    assert r.status == "unknown" and "probe error" in r.evidence


def test_small_files(tmp_path):
    for i in range(5):
        (tmp_path / f"{i}.bin").write_bytes(b"x" * 10)
    r = audit(Facts({"data_dir": str(tmp_path)}, live=False), only=["io.small_files"]).rows[0].result
    assert r.status == "pass" and "5 of 5 files" in r.evidence


def test_live_loader_and_script(tmp_path):
    import torch
    from torch.utils.data import DataLoader
    dl = DataLoader(torch.arange(10), batch_size=2)
    script = tmp_path / "train.py"
    script.write_text("for x in dl:\n    x = x.to('cuda')\n")
    a = audit(Facts(loader=dl, script=script, live=False), only=["data."])
    got = {r.check.id: r.result.status for r in a.rows}
    assert got["data.num_workers"] == "warn" and got["data.pin_memory"] == "warn"
    assert got["data.non_blocking"] == "warn" and "lines [2]" in a.rows[-1].result.evidence


def test_a_bad_status_and_unknown_ids_are_refused():
    with pytest.raises(ValueError, match="status"):
        Result("ok", "x")
    with pytest.raises(ValueError, match="no audit check matches"):
        audit(Facts({}, live=False), only=["nope"])


def test_checklist_has_180_items_and_every_check_id_named_exists():
    items = remaining.items()
    assert len(items) == 180 and len(remaining.CATEGORIES) == 18
    ids = {c.id for c in CHECKS}
    assert {i for r in items for i in r["checks"]} <= ids
    assert all(r["notebook"].startswith(("notebooks/ch", "ch")) for r in items)


def test_the_by_hand_table_lists_exactly_the_items_no_check_reads():
    manual = [r["item"] for r in remaining.items() if not r["checks"]]
    t = remaining.table()
    assert 0 < len(manual) < 180 and [row[1] for row in t.rows] == manual
    assert f"{len(manual)} of 180 items" in t.title
