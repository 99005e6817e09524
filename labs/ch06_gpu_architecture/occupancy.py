"""Occupancy calculator: resident blocks and warps per SM from a kernel's threads, registers and shared memory.

The per-SM limits come from a small table keyed by compute capability (the book's Table 6-3,
L2617–L2621, gives Blackwell's; the others are [ext]: the CUDA C++ Programming Guide's
compute-capability table, and the allocation rules of ``cuda_occupancy.h`` in CUDA 13.0). On a GPU
they are read from the driver instead, and the kernel's registers and shared memory are read off
the compiled kernel, never typed in.

    >>> occ = occupancy(limits("sm_90"), threads_per_block=256, regs_per_thread=64)
    >>> occ.blocks_per_sm, occ.limiter, f"{occ.fraction:.0%}"
    (4, 'registers', '50%')
    >>> occupancy(limits("sm_75"), threads_per_block=256, regs_per_thread=32).fraction   # T4: 32 warps per SM
    1.0
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from perflab.validate import calculator_inputs

KIB = 1024
GUIDE = "[ext] CUDA C++ Programming Guide, compute-capability table; allocation units from cuda_occupancy.h (CUDA 13.0)"


@dataclass(frozen=True)
class SMLimits:
    """What one streaming multiprocessor can hold at once, for one architecture."""
    name: str                          # "sm_90 · Hopper (H100, H200)"
    max_threads_per_sm: int            # resident threads (warps × 32)
    max_blocks_per_sm: int             # resident blocks, however small
    smem_per_sm: int                   # bytes of shared memory at the largest carve-out
    smem_per_block_optin: int          # bytes one block may use after opting in
    smem_reserved_per_block: int       # bytes the driver keeps per block (1 KiB from sm_80 on)
    regs_per_sm: int = 65_536          # 32-bit registers
    max_threads_per_block: int = 1024
    max_regs_per_thread: int = 255
    warp_size: int = 32
    reg_unit: int = 256                # registers go to a warp in multiples of this
    smem_unit: int = 128               # shared memory goes to a block in multiples of this
    partitions: int = 4                # warp schedulers per SM; registers are split between them
    source: str = GUIDE

    @property
    def max_warps_per_sm(self) -> int:
        return self.max_threads_per_sm // self.warp_size

    @property
    def arch(self) -> str:
        """The compute capability alone, as the presets are keyed: 'sm_90'."""
        return self.name.split(" ")[0]

    def __str__(self):
        return (f"{self.arch}: {self.max_warps_per_sm} warps, {self.max_blocks_per_sm} blocks, {self.regs_per_sm:,} "
                f"registers and {self.smem_per_sm / 1024:.0f} KiB of shared memory per SM")


ARCHS = {
    "sm_75": SMLimits("sm_75 · Turing (T4)", 1024, 16, 64 * KIB, 64 * KIB, 0, smem_unit=256),
    "sm_80": SMLimits("sm_80 · Ampere (A100)", 2048, 32, 164 * KIB, 163 * KIB, KIB),
    "sm_86": SMLimits("sm_86 · Ampere (A10, RTX 30)", 1536, 16, 100 * KIB, 99 * KIB, KIB),
    "sm_89": SMLimits("sm_89 · Ada (L4, RTX 40)", 1536, 24, 100 * KIB, 99 * KIB, KIB),
    "sm_90": SMLimits("sm_90 · Hopper (H100, H200)", 2048, 32, 228 * KIB, 227 * KIB, KIB),
    "sm_100": SMLimits("sm_100 · Blackwell (B200)", 2048, 32, 228 * KIB, 227 * KIB, KIB,
                       source="book Table 6-3 (L2617–L2621) and L2500–L2502; allocation units [ext] cuda_occupancy.h"),
}


def limits(arch: "str | tuple[int, int]") -> SMLimits:
    """The preset for an architecture: 'sm_90', '9.0' or (9, 0).

    >>> limits((7, 5)).max_warps_per_sm
    32
    """
    key = arch if isinstance(arch, str) else f"sm_{arch[0]}{arch[1]}"
    key = key if key.startswith("sm_") else "sm_" + key.replace(".", "")
    if key not in ARCHS:
        raise ValueError(f"no occupancy preset for {key!r}; presets: {sorted(ARCHS)}. On a GPU, "
                         f"device_limits() reads the limits from the driver instead.")
    return ARCHS[key]


# ---- device facts, read from the driver ---------------------------------------------------------

# cudaDeviceAttr numbers (driver_types.h, a stable ABI)
ATTRIBUTES = {"max_threads_per_block": 1, "max_grid_x": 5, "max_grid_y": 6, "max_grid_z": 7, "warp_size": 10,
              "max_threads_per_sm": 39, "smem_per_sm": 81, "regs_per_sm": 82, "concurrent_managed_access": 89,
              "smem_per_block_optin": 97, "max_blocks_per_sm": 106, "smem_reserved_per_block": 111}


def device_attributes(index: int = 0) -> dict:
    """cudaDeviceGetAttribute for the chapter's limits through CuPy; {} where CuPy or a GPU is missing."""
    try:
        from cupy.cuda import runtime
        return {name: int(runtime.deviceGetAttribute(num, index)) for name, num in ATTRIBUTES.items()}
    except Exception:                    # no CuPy, no GPU, an old driver: the caller falls back to torch
        return {}


def device_limits(index: int = 0) -> tuple[SMLimits, dict]:
    """This GPU's limits and where each came from ({field: 'driver' | 'torch' | 'table'}).

    torch.cuda.get_device_properties gives threads, registers and shared memory per SM; the driver
    attributes (through CuPy) add blocks per SM and the per-block reservation; the table fills gaps.
    """
    import torch
    props = torch.cuda.get_device_properties(index)
    cap = f"sm_{props.major}{props.minor}"
    base = ARCHS.get(cap) or ARCHS["sm_90" if props.major >= 9 else "sm_80"]
    attrs = device_attributes(index)
    torch_facts = {"max_threads_per_sm": getattr(props, "max_threads_per_multi_processor", None),
                   "regs_per_sm": getattr(props, "regs_per_multiprocessor", None),
                   "smem_per_sm": getattr(props, "shared_memory_per_multiprocessor", None),
                   "smem_per_block_optin": getattr(props, "shared_memory_per_block_optin", None),
                   "warp_size": getattr(props, "warp_size", None)}
    values, origin = {}, {}
    for name in ("max_threads_per_sm", "max_blocks_per_sm", "smem_per_sm", "smem_per_block_optin",
                 "smem_reserved_per_block", "regs_per_sm", "max_threads_per_block", "warp_size"):
        if name in attrs:
            values[name], origin[name] = attrs[name], "driver"
        elif torch_facts.get(name):
            values[name], origin[name] = int(torch_facts[name]), "torch"
        else:
            values[name], origin[name] = getattr(base, name), "table"
    if cap not in ARCHS:
        origin["preset"] = f"no preset for {cap}: allocation units borrowed from {base.name}"
    name = f"{cap} · {props.name} ({props.multi_processor_count} SMs)"
    return replace(base, name=name, source="read from this GPU", **values), origin


# ---- the calculator -----------------------------------------------------------------------------

def _round_up(x: int, unit: int) -> int:
    return -(-x // unit) * unit


@dataclass
class Occupancy:
    """Resident blocks per SM for one kernel launch, and which resource runs out first."""
    limits: SMLimits
    threads_per_block: int
    regs_per_thread: int
    smem_per_block: int
    blocks_by: dict = field(default_factory=dict)     # {"warps": n, "blocks": n, "registers": n, "shared memory": n}

    @property
    def warps_per_block(self) -> int:
        return -(-self.threads_per_block // self.limits.warp_size)

    @property
    def blocks_per_sm(self) -> int:
        return min(self.blocks_by.values())

    @property
    def limiter(self) -> str:
        """The resource that sets blocks_per_sm (ties: the first of warps, blocks, registers, shared)."""
        return min(self.blocks_by, key=lambda k: self.blocks_by[k])

    @property
    def active_warps(self) -> int:
        return self.blocks_per_sm * self.warps_per_block

    @property
    def fraction(self) -> float:
        """Theoretical occupancy: resident warps over the SM's maximum."""
        return self.active_warps / self.limits.max_warps_per_sm

    @property
    def busy_lanes(self) -> float:
        """Resident threads over the SM's maximum: below `fraction` when warps are partly empty (33 threads)."""
        return self.blocks_per_sm * self.threads_per_block / self.limits.max_threads_per_sm

    def explain(self) -> str:
        lim = self.limits
        head = (f"{lim.name}: {self.threads_per_block} threads ({self.warps_per_block} warps), "
                f"{self.regs_per_thread} registers, {self.smem_per_block:,} B shared")
        if self.blocks_per_sm == 0:
            return f"{head} → cannot launch: {self.limiter} exceed what one SM holds"
        waste = (f"; only {self.busy_lanes:.0%} of thread slots hold a thread"
                 if self.busy_lanes < self.fraction - 1e-9 else "")
        blocks = f"{self.blocks_per_sm} block{'s' * (self.blocks_per_sm != 1)}"
        return (f"{head} → {blocks} per SM (limited by {self.limiter}) → "
                f"{self.active_warps} of {lim.max_warps_per_sm} warps = {self.fraction:.0%} occupancy{waste}")

    __str__ = explain


def occupancy(lim: SMLimits, threads_per_block: int, regs_per_thread: int, smem_per_block: int = 0) -> Occupancy:
    """Resident blocks per SM: the smallest of the warp, block, register and shared-memory limits.

    Registers: each warp gets regs × 32 rounded up to ``reg_unit``; each of the SM's ``partitions``
    holds regs_per_sm / partitions of them. Shared memory: each block gets its bytes plus the driver's
    reservation, rounded up to ``smem_unit``, out of ``smem_per_sm`` (the largest carve-out).
    """
    if threads_per_block < 1 or regs_per_thread < 0 or smem_per_block < 0:
        raise ValueError(f"need threads ≥ 1, registers ≥ 0, shared bytes ≥ 0; got {threads_per_block}, "
                         f"{regs_per_thread}, {smem_per_block}")
    occ = Occupancy(lim, threads_per_block, regs_per_thread, smem_per_block)
    warps = occ.warps_per_block
    fits = threads_per_block <= lim.max_threads_per_block
    by = {"warps": lim.max_warps_per_sm // warps if fits else 0, "blocks": lim.max_blocks_per_sm}
    per_warp = _round_up(regs_per_thread * lim.warp_size, lim.reg_unit)
    if regs_per_thread > lim.max_regs_per_thread or per_warp * _round_up(warps, lim.partitions) > lim.regs_per_sm:
        by["registers"] = 0
    elif per_warp == 0:
        by["registers"] = by["blocks"]
    else:
        warps_by_regs = (lim.regs_per_sm // lim.partitions // per_warp) * lim.partitions
        by["registers"] = warps_by_regs // warps
    smem = _round_up(smem_per_block + lim.smem_reserved_per_block, lim.smem_unit)
    if smem_per_block > lim.smem_per_block_optin:
        by["shared memory"] = 0
    else:
        by["shared memory"] = lim.smem_per_sm // smem if smem else by["blocks"]
    occ.blocks_by = by
    return occ


def sweep(lim: SMLimits, regs_per_thread: int, smem_per_block: int = 0,
          threads=(32, 33, 64, 96, 128, 256, 512, 1024)):
    """A Table: occupancy of one kernel (registers, shared memory) at each block size."""
    from perflab.table import Table
    rows = []
    for t in threads:
        o = occupancy(lim, t, regs_per_thread, smem_per_block)
        rows.append([str(t), str(o.warps_per_block), f"{t / (32 * o.warps_per_block):.0%}", str(o.blocks_per_sm),
                     o.limiter, f"{o.active_warps}/{lim.max_warps_per_sm}", f"{o.fraction:.0%}", f"{o.busy_lanes:.0%}"])
    return Table(["threads/block", "warps/block", "lanes used", "blocks/SM", "limited by", "warps/SM",
                  "occupancy", "threads/SM used"], rows,
                 title=f"Occupancy on {lim.name} · {regs_per_thread} registers, {smem_per_block:,} B shared per block",
                 notes=[f"limits: {lim.source}"])


# ---- what a compiled kernel uses ----------------------------------------------------------------

@dataclass(frozen=True)
class KernelResources:
    """Registers and shared memory one compiled kernel uses, and where the numbers came from."""
    name: str
    regs: int
    shared_bytes: int
    threads_per_block: int
    spill_bytes: int | None = None      # local memory (CUDA) or spilled registers (Triton)
    source: str = ""


def from_cupy(name: str, kern, threads_per_block: int) -> KernelResources:
    """Read a CuPy RawKernel's attributes: num_regs, shared_size_bytes, local_size_bytes (needs a GPU)."""
    if threads_per_block > kern.max_threads_per_block:
        raise ValueError(f"{name} allows at most {kern.max_threads_per_block} threads per block "
                         f"(its launch bounds), not {threads_per_block}")
    return KernelResources(name, int(kern.num_regs), int(kern.shared_size_bytes), threads_per_block,
                           int(kern.local_size_bytes), "CuPy RawKernel attributes (num_regs, shared_size_bytes)")


def from_triton(name: str, compiled) -> KernelResources:
    """Read a launched Triton kernel: n_regs, n_spills and metadata.shared, num_warps × 32 threads."""
    return KernelResources(name, int(compiled.n_regs), int(compiled.metadata.shared),
                           32 * int(compiled.metadata.num_warps), int(compiled.n_spills) * 4,
                           "Triton compiled kernel (n_regs, metadata.shared) after a launch")


# Example counts for the cpu tier, compiled offline here for sm_90 (CUDA 13.0 nvcc/ptxas -v; Triton
# 3.7.1's PTX through ptxas -arch=sm_90a). A GPU reads its own kernels instead (see chapter_kernels).
OFFLINE = "example: compiled offline for sm_90 (ptxas 13.0 -v), not read from a kernel on this machine"
EXAMPLES = [
    KernelResources("cuda saxpy (first_kernel)", 12, 0, 256, 0, OFFLINE),
    KernelResources("triton saxpy BLOCK=1024, 4 warps", 30, 0, 128, 0, OFFLINE),
    KernelResources("triton saxpy BLOCK=32, 1 warp", 14, 0, 32, 0, OFFLINE),
    KernelResources("triton saxpy BLOCK=4096, 4 warps", 96, 0, 128, 0, OFFLINE),
    KernelResources("heavy, no launch bounds", 64, 0, 256, 0, OFFLINE),
    KernelResources("heavy, __launch_bounds__(256, 8)", 32, 0, 256, 176, OFFLINE),
    KernelResources("heavy, __launch_bounds__(256, 16)", 80, 0, 256, 0, OFFLINE),
]


def kernel_table(kernels: list, lim: SMLimits):
    """A Table: each kernel's resources and the occupancy they allow on ``lim``."""
    from perflab.table import Table
    rows = []
    for k in kernels:
        o = occupancy(lim, k.threads_per_block, k.regs, k.shared_bytes)
        rows.append([k.name, str(k.regs), f"{k.shared_bytes:,}", "—" if k.spill_bytes is None else f"{k.spill_bytes:,}",
                     str(k.threads_per_block), str(o.blocks_per_sm), o.limiter, f"{o.fraction:.0%}"])
    sources = sorted({k.source for k in kernels})
    return Table(["kernel", "registers", "shared B", "spill/local B", "threads/block", "blocks/SM",
                  "limited by", "occupancy"], rows, title=f"The chapter's kernels on {lim.name}",
                 notes=[f"resources: {s}" for s in sources] + [f"limits: {lim.source}"])


def chapter_kernels() -> tuple[list, bool]:
    """(resources, live): the chapter's kernels as compiled on this GPU, or the offline EXAMPLES.

    Live means read off real kernels here: CuPy attributes for the CUDA C kernels, the launched
    kernel's n_regs and metadata.shared for Triton (which needs one launch on a small input).
    """
    from perflab.machine import env
    e = env()
    if e.tier != "gpu":
        return EXAMPLES, False
    import torch
    from labs.ch06_gpu_architecture import _cuda, first_kernel
    out = []
    if e.has("cupy"):
        out.append(from_cupy("cuda saxpy (first_kernel)", _cuda.kernel("saxpy"), first_kernel.THREADS))
    x = torch.randn(4_099, device="cuda")
    for block, warps in ((1024, 4), (32, 1), (4096, 4)):
        _, compiled = first_kernel.triton_saxpy_launch(x, x, 1.0, block, warps)
        out.append(from_triton(f"triton saxpy BLOCK={block}, {warps} warp{'s' * (warps > 1)}", compiled))
    if e.has("cupy"):
        for label, name in (("heavy, no launch bounds", "heavy_free"),
                            ("heavy, __launch_bounds__(256, 8)", "heavy_bounds_256_8"),
                            ("heavy, __launch_bounds__(256, 16)", "heavy_bounds_256_16")):
            out.append(from_cupy(label, _cuda.kernel(name), 256))
    return out, True


def presets() -> list[str]:
    """Menu for the calculator: 'this GPU' first on the gpu tier, else the H200's sm_90; then every preset."""
    from perflab.machine import env
    first = ["this GPU"] if env().tier == "gpu" else ["sm_90"]
    return first + [a for a in ARCHS if a not in first]


@calculator_inputs(positive="threads regs")
def explain(arch: str = "sm_90", threads: int = 256, regs: int = 32, smem_kib: int = 0) -> str:
    """One line for the calculator widget; arch is a preset name or 'this GPU' (read from the driver)."""
    lim = device_limits()[0] if arch == "this GPU" else limits(arch)
    return occupancy(lim, threads, regs, smem_kib * KIB).explain()


def limits_here(preset: str = "sm_90") -> tuple[SMLimits, str]:
    """(limits, one line saying where they came from): this GPU's, or a preset on the cpu tier."""
    from perflab.machine import env
    if env().tier == "gpu":
        lim, origin = device_limits()
        where = ", ".join(sorted({v for k, v in origin.items() if k != "preset"}))
        return lim, f"limits of this GPU, read from: {where}" + (f" ({origin['preset']})" if "preset" in origin else "")
    lim = limits(preset)
    return lim, (f"cpu tier: no GPU to read, so the calculator uses the {lim.name} preset and example "
                 f"register counts; it is not reading a real kernel")
