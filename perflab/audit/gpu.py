"""GPU and driver checks (ch3, ch8, ch16): one read-only `nvidia-smi --query-gpu` call, never a setter."""
from __future__ import annotations

from perflab.audit.core import MissingFact, Result, check

DRV, RES, POWER = "OS and driver", "GPU resource management", "Power and thermal management"
SMI = "nvidia-smi --query-gpu"

# NVML clock-throttle reason bits (nvml.h, nvmlClocksThrottleReason*)
THROTTLE_BITS = {0x1: "GpuIdle", 0x2: "ApplicationsClocksSetting", 0x4: "SwPowerCap", 0x8: "HwSlowdown",
                 0x10: "SyncBoost", 0x20: "SwThermalSlowdown", 0x40: "HwThermalSlowdown",
                 0x80: "HwPowerBrakeSlowdown", 0x100: "DisplayClockSetting"}
THROTTLE_FAIL = 0x8 | 0x20 | 0x40 | 0x80
THROTTLE_WARN = 0x2 | 0x4


def per_gpu(f, field: str) -> list[tuple[str, str]]:
    """[(gpu index, value)] for one nvidia-smi field; MissingFact when no GPU reports it."""
    gpus = f["smi"]
    if not gpus:
        raise MissingFact("nvidia-smi", "lists no GPU")
    pairs = [(g.get("index") or str(i), g.get(field)) for i, g in enumerate(gpus)]
    if all(v is None for _, v in pairs):
        raise MissingFact(field, "nvidia-smi reports N/A or does not know this field")
    return [(i, v) for i, v in pairs if v is not None]


def _ev(pairs, unit: str = "") -> str:
    return ", ".join(f"GPU{i}={v}{unit}" for i, v in pairs) + f" · {SMI}"


def _smi_numbers(f, *fields: str) -> list[tuple]:
    """[(gpu index, float, ...)] for the GPUs that report every field; MissingFact when none does."""
    rows = [(g.get("index"), *(g.get(k) for k in fields)) for g in f["smi"]]
    rows = [(r[0], *map(float, r[1:])) for r in rows if all(r[1:])]
    if not rows:
        raise MissingFact(fields[0], "nvidia-smi reports N/A")
    return rows


def _by_value(f, field, good, status_bad, advice, unit=""):
    pairs = per_gpu(f, field)
    return Result.judge(all(good(v) for _, v in pairs), _ev(pairs, unit), advice, status_bad)


@check("gpu.persistence", "persistence mode on", 3, DRV, "L1249, L9067", needs_gpu=True)
def persistence(f) -> Result:
    return _by_value(f, "persistence_mode", lambda v: v == "Enabled", "warn",
                     "sudo nvidia-smi -pm 1 (or enable nvidia-persistenced): saves 1–2 s of driver init per "
                     "process start")


@check("gpu.mig", "MIG off (whole GPU)", 3, RES, "L1292, L9097", needs_gpu=True)
def mig(f) -> Result:
    return _by_value(f, "mig.mode.current", lambda v: v == "Disabled", "warn",
                     "MIG is on: this process sees a slice of the GPU. Fine if intended, else disable it")


@check("gpu.ecc", "ECC enabled", 3, DRV, "L1354, L9106", needs_gpu=True)
def ecc_mode(f) -> Result:
    return _by_value(f, "ecc.mode.current", lambda v: v == "Enabled", "warn",
                     "keep ECC on for long jobs: turning it off gains only a few percent")


@check("gpu.ecc_errors", "no uncorrectable ECC errors (volatile)", 16, DRV, "L6266, L9106", needs_gpu=True)
def ecc_errors(f) -> Result:
    return _by_value(f, "ecc.errors.uncorrected.volatile.total", lambda v: int(v) == 0, "fail",
                     "uncorrectable ECC errors since boot: drain this GPU and have it checked")


@check("gpu.ecc_history", "no uncorrectable ECC errors (lifetime)", 16, DRV, "L6266", needs_gpu=True)
def ecc_history(f) -> Result:
    return _by_value(f, "ecc.errors.uncorrected.aggregate.total", lambda v: int(v) == 0, "warn",
                     "this GPU has had uncorrectable errors in its lifetime: watch for retired/remapped pages")


@check("gpu.throttle", "no clock throttling (thermal/power)", 8, POWER, "L3642–3648, L9504", needs_gpu=True)
def throttle(f) -> Result:
    pairs = per_gpu(f, "clocks_throttle_reasons.active")
    clocks = {g.get("index"): (g.get("clocks.sm"), g.get("clocks.max.sm")) for g in f["smi"]}
    worst, parts = "pass", []
    for i, v in pairs:
        mask = int(v, 16)
        names = [n for b, n in THROTTLE_BITS.items() if mask & b] or ["none"]
        sm, top = clocks.get(i, (None, None))
        parts.append(f"GPU{i}: {'+'.join(names)}" + (f" ({sm}/{top} MHz)" if sm and top else ""))
        if mask & THROTTLE_FAIL:
            worst = "fail"
        elif mask & THROTTLE_WARN and worst == "pass":
            worst = "warn"
    advice = {"pass": "", "warn": "clocks held down by a power cap or application clocks: check power and "
              "nvidia-smi -q -d PERFORMANCE", "fail": "thermal or hardware slowdown: check cooling, airflow "
              "and power delivery"}[worst]
    return Result(worst, "; ".join(parts) + f" · {SMI}", advice)


@check("gpu.power_cap", "power limit at its default", 3, POWER, "L9510, L9522", needs_gpu=True)
def power_cap(f) -> Result:
    pairs = _smi_numbers(f, "enforced.power.limit", "power.default_limit")
    capped = [i for i, e, d in pairs if e < 0.98 * d]
    ev = ", ".join(f"GPU{i}={e:.0f}/{d:.0f} W" for i, e, d in pairs) + f" (enforced/default) · {SMI}"
    return Result("warn" if capped else "pass", ev,
                  "the power limit is below default: intended for perf/W? (root: nvidia-smi -pl)" if capped else "")


@check("gpu.power_draw", "drawing below the power limit", 16, POWER, "L9510", needs_gpu=True)
def power_draw(f) -> Result:
    pairs = _smi_numbers(f, "power.draw", "enforced.power.limit")
    at_cap = [i for i, p, lim in pairs if p >= 0.98 * lim]
    ev = ", ".join(f"GPU{i}={p:.0f}/{lim:.0f} W" for i, p, lim in pairs) + f" (draw/limit) · {SMI}"
    return Result("warn" if at_cap else "pass", ev,
                  "drawing at the power limit: clocks will drop; watch SwPowerCap" if at_cap else "")


@check("gpu.temperature", "temperature < 85 °C", 16, POWER, "L6261–6262, L9504", needs_gpu=True)
def temperature(f) -> Result:
    pairs = per_gpu(f, "temperature.gpu")
    hottest = max(int(v) for _, v in pairs)
    status = "pass" if hottest < 85 else "warn" if hottest < 95 else "fail"
    return Result(status, _ev(pairs, " °C"), "" if status == "pass" else
                  "≥ 85 °C warning, ≥ 95 °C critical: check cooling before the GPU throttles")


@check("gpu.memory", "device memory used < 80 %", 16, RES, "L6259–6260, L9230", needs_gpu=True)
def memory_used(f) -> Result:
    rows = _smi_numbers(f, "memory.used", "memory.total")
    top = max(u / t for _, u, t in rows)
    status = "pass" if top < 0.80 else "warn" if top < 0.95 else "fail"
    ev = ", ".join(f"GPU{i}={u / t:.0%} of {t / 1024:.0f} GiB" for i, u, t in rows) + f" · {SMI}"
    return Result(status, ev, "" if status == "pass" else
                  "under 80 % leaves room for activations and the KV cache; ≥ 95 % risks OOM")


@check("gpu.pcie", "PCIe link at full width", 2, RES, "L6265", needs_gpu=True)
def pcie_width(f) -> Result:
    rows = [(g.get("index"), g.get("pcie.link.width.current"), g.get("pcie.link.width.max"),
             g.get("pcie.link.gen.current"), g.get("pcie.link.gen.max")) for g in f["smi"]]
    rows = [r for r in rows if r[1] and r[2]]
    if not rows:
        raise MissingFact("pcie.link.width", "nvidia-smi reports N/A")
    narrow = [i for i, w, wm, _, _ in rows if int(w) < int(wm)]
    ev = ", ".join(f"GPU{i}=x{w}/x{wm} gen{g}/{gm}" for i, w, wm, g, gm in rows) + f" (now/max) · {SMI}"
    return Result("warn" if narrow else "pass", ev, "a link runs narrower than it can: check the slot and "
                  "riser (the generation drops at idle, which is normal)" if narrow else "")


@check("gpu.compute_mode", "compute mode allows processes", 3, RES, "L9094", needs_gpu=True)
def compute_mode(f) -> Result:
    return _by_value(f, "compute_mode", lambda v: v != "Prohibited", "fail",
                     "compute mode Prohibited: no process may use this GPU (root: nvidia-smi -c 0)")


@check("gpu.driver", "torch's CUDA runs on this driver", 3, DRV, "L9067", needs_gpu=True)
def driver_runtime(f) -> Result:
    driver = per_gpu(f, "driver_version")[0][1]       # no driver: unknown, there is nothing to match
    v = f["torch.version"]
    if not v.get("cuda"):
        return Result("fail", f"torch {v['torch']} is a CPU-only build, driver {driver} · torch.version, {SMI}",
                      "install a CUDA build of torch: this one cannot use the GPU")
    ev = f"torch {v['torch']} built for CUDA {v['cuda']}, driver {driver} · torch.version, {SMI}"
    return Result.judge(f["torch.cuda_ok"], ev, "torch cannot use the driver: the driver is older than torch's "
                        "CUDA needs; update it", "fail")


@check("gpu.p2p", "peer access between all GPU pairs", 4, RES, "L9013–9016", needs_gpu=True)
def p2p(f) -> Result:
    n = f["torch.gpus"]
    if n < 2:
        raise MissingFact("peer access", f"{n} GPU visible: needs two to compare")
    blocked = f["torch.p2p_blocked"]
    pairs = n * (n - 1)
    ev = f"{pairs - len(blocked)}/{pairs} GPU pairs have peer access · torch.cuda.can_device_access_peer"
    return Result("warn" if blocked else "pass", ev,
                  "some pairs go through the host: check nvidia-smi topo -m and NVLink state" if blocked else "")


CHECKS = [driver_runtime, persistence, ecc_mode, ecc_errors, ecc_history, mig, compute_mode, memory_used, p2p,
          pcie_width, throttle, power_cap, power_draw, temperature]
