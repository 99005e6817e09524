"""What this machine is: tier, device facts read from the driver, versions and available tools."""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib.util
import os
import platform
import shutil
from dataclasses import asdict, dataclass, field

from perflab import _tier


@dataclass(frozen=True)
class Env:
    tier: str                      # "gpu" or "cpu"
    device: str                    # "NVIDIA H200", or the CPU model
    device_key: str                # file-name form: "nvidia-h200", "cpu-x86_64"
    capability: tuple[int, int] | None   # (9, 0) on Hopper; None on the cpu tier
    sms: int | None                # streaming multiprocessors (read from the driver)
    memory_gb: float | None        # device memory in GB (1e9 bytes)
    l2_mb: float | None            # L2 cache in MB, where the driver says
    cpu_cores: int
    versions: dict = field(default_factory=dict)   # python, torch, triton, cuda, driver, cupy
    tools: dict = field(default_factory=dict)      # name -> short description of its state

    @property
    def sm(self) -> str | None:
        """'sm_90' style name of the compute capability."""
        return f"sm_{self.capability[0]}{self.capability[1]}" if self.capability else None

    def has(self, need: str) -> bool:
        """Whether a requirement such as 'cuda', 'cupy', 'sm_80', 'ncu' or 'triton-compiled' holds."""
        if need == "cuda":
            return self.tier == "gpu"
        if need.startswith("sm_"):
            return self.capability is not None and self.capability >= (int(need[3:-1]), int(need[-1]))
        if need in ("cupy", "ncu", "nsys"):
            return self.tools.get(need, "").startswith("available")
        if need == "triton-compiled":
            return self.tools.get("triton", "").startswith("compiled")
        raise ValueError(f"unknown requirement {need!r}: use 'cuda', 'cupy', 'ncu', 'nsys', "
                         f"'triton-compiled' or 'sm_XY'")

    def summary(self) -> str:
        """One line: tier, device and the key versions."""
        if self.tier == "gpu":
            dev = f"{self.device} ({self.sm}, {self.sms} SMs, {self.memory_gb:.0f} GB)"
        else:
            dev = f"{self.device} ({self.cpu_cores} cores)"
        return (f"tier {self.tier} · {dev} · torch {self.versions.get('torch')} · "
                f"triton {self.versions.get('triton')} ({self.tools.get('triton', '?').split(':')[0]})")

    def as_dict(self) -> dict:
        return asdict(self)

    def __repr__(self):
        lines = [f"Env: {self.summary()}"]
        lines += [f"  {k:<18} {v}" for k, v in self.tools.items()]
        return "\n".join(lines)


def _version(module: str) -> str | None:
    if importlib.util.find_spec(module) is None:
        return None
    try:
        from importlib.metadata import version
        return version({"cupy": _cupy_dist()}.get(module, module) or module)
    except Exception:
        return "installed"


def _cupy_dist() -> str | None:
    from importlib.metadata import distributions
    for d in distributions():
        name = (d.metadata.get("Name") or "").lower()
        if name.startswith("cupy"):
            return d.metadata["Name"]
    return None


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _slug(text: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


def _tools(tier: str, torch) -> dict:
    tools = {}
    interp = os.environ.get("TRITON_INTERPRET") == "1"
    if importlib.util.find_spec("triton") is None:
        tools["triton"] = "missing: pip install triton"
    else:
        tools["triton"] = ("interpreted: TRITON_INTERPRET=1, kernels run on the CPU (correct, not fast)"
                           if interp else "compiled: kernels run on the GPU")
    if tier != "gpu" and importlib.util.find_spec("cupy") is None:
        tools["cupy"] = "not needed here: CuPy runs CUDA C++ kernels, and this machine has no GPU"
    elif importlib.util.find_spec("cupy") is None:
        tools["cupy"] = "missing: pip install 'perflab[cuda12]' or '[cuda13]' for CUDA C++ kernels"
    elif tier != "gpu":
        tools["cupy"] = "unavailable: installed, but there is no GPU to allocate on"
    else:
        tools["cupy"] = "available"
    for exe in ("ncu", "nsys", "compute-sanitizer"):
        path = shutil.which(exe) or _nsight_path(exe)
        tools[exe] = f"available: {path}" if path else f"missing: {exe} not on PATH"
    if tier == "gpu":
        tools["torch.compile"] = "available: inductor generates Triton kernels"
    elif shutil.which(os.environ.get("CXX", "g++")) or shutil.which("c++"):
        tools["torch.compile"] = "available: inductor generates C++ (a compiler was found)"
    else:
        tools["torch.compile"] = "unavailable: inductor on the CPU needs a C++ compiler"
    return tools


def _nsight_path(exe: str) -> str | None:
    """Nsight tools often live outside PATH (/opt/nvidia/nsight-compute/<ver>/ncu)."""
    import glob
    roots = {"ncu": "/opt/nvidia/nsight-compute/*/ncu", "nsys": "/opt/nvidia/nsight-systems/*/bin/nsys",
             "compute-sanitizer": "/usr/local/cuda*/bin/compute-sanitizer"}
    hits = sorted(glob.glob(roots.get(exe, "")))
    return hits[-1] if hits else None


_COUNTING_TIER: str | None = None      # set only inside counting_tier()


def env() -> Env:
    """Read this machine once: tier, device, capability, SMs, memory, versions, tools.

    >>> e = env()
    >>> e.tier in ("gpu", "cpu")
    True
    """
    e = _read_env()
    return e if _COUNTING_TIER is None else dataclasses.replace(e, tier=_COUNTING_TIER)


@contextlib.contextmanager
def counting_tier(tier: str):
    """Inside the block ``env().tier`` reads ``tier``, so that labs whose models are sized per tier
    count the bytes and FLOPs of a record measured on another machine (the reference check of a GPU
    reference, run on a laptop). Only for arithmetic: nothing may run on a device inside it.

    >>> with counting_tier("gpu"):
    ...     env().tier
    'gpu'
    """
    global _COUNTING_TIER
    if tier not in ("gpu", "cpu"):
        raise ValueError(f"tier is 'gpu' or 'cpu', got {tier!r}")
    before, _COUNTING_TIER = _COUNTING_TIER, tier
    try:
        yield
    finally:
        _COUNTING_TIER = before


@functools.cache
def _read_env() -> Env:
    import torch
    tier = _tier.TIER
    if tier == "gpu" and not torch.cuda.is_available():
        tier = "cpu"
    versions = {"python": platform.python_version(), "torch": torch.__version__,
                "triton": _version("triton"), "cupy": _version("cupy"), "cuda": torch.version.cuda,
                "driver": None}
    if tier == "gpu":
        props = torch.cuda.get_device_properties(0)
        cap = (props.major, props.minor)
        name, sms = props.name, props.multi_processor_count
        mem = props.total_memory / 1e9
        l2 = getattr(props, "L2_cache_size", 0) / 1e6 or None
        versions["driver"] = _driver_version()
        key = _slug(name)
    else:
        cap = sms = mem = l2 = None
        name = _cpu_name()
        key = f"cpu-{platform.machine().lower()}"
    return Env(tier=tier, device=name, device_key=key, capability=cap, sms=sms, memory_gb=mem,
               l2_mb=l2, cpu_cores=os.cpu_count() or 1, versions=versions, tools=_tools(tier, torch))


def _driver_version() -> str | None:
    try:
        import subprocess
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None
    except (OSError, subprocess.SubprocessError):
        return None


@functools.cache
def nvml_facts() -> dict:
    """GPU 0's clocks, power limit and driver read through NVML (``pip install nvidia-ml-py``):
    sm_clock_mhz and memory_clock_mhz (the maximum the board allows), power_limit_w, driver.
    {} where NVML or a GPU is absent (the cpu tier)."""
    try:
        import pynvml
    except ImportError:
        return {}
    try:
        pynvml.nvmlInit()
        try:
            h = pynvml.nvmlDeviceGetHandleByIndex(0)
            driver = pynvml.nvmlSystemGetDriverVersion()
            return {"sm_clock_mhz": pynvml.nvmlDeviceGetMaxClockInfo(h, pynvml.NVML_CLOCK_SM),
                    "memory_clock_mhz": pynvml.nvmlDeviceGetMaxClockInfo(h, pynvml.NVML_CLOCK_MEM),
                    "power_limit_w": pynvml.nvmlDeviceGetPowerManagementLimit(h) / 1000,
                    "driver": driver.decode() if isinstance(driver, bytes) else driver}
        finally:
            pynvml.nvmlShutdown()
    except pynvml.NVMLError:
        return {}


def device() -> "torch.device":
    """The torch device labs run on: cuda:0 on the gpu tier, cpu otherwise."""
    import torch
    return torch.device("cuda:0" if env().tier == "gpu" else "cpu")
