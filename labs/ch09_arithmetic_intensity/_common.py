"""Plumbing shared by the chapter 9 labs: torch.compile once per function, row-kernel launch plans, Kernel."""
from __future__ import annotations

import functools
from dataclasses import dataclass

import perflab as pl  # noqa: F401  (first: sets TRITON_INTERPRET on machines without a GPU)
import torch

MAX_ONE_PASS = 8192     # widest row (elements) a Triton program keeps in registers; wider rows are looped
LOOP_BLOCK = 4096       # columns per step when a program loops over a wide row


@dataclass(frozen=True)
class Kernel:
    """One kernel of a variant, as the traffic model sees it: bytes it loads and stores, FLOPs it does."""
    name: str
    read: int           # bytes loaded from global memory (what the code asks for; caches may catch some)
    written: int        # bytes stored to global memory
    flops: int

    @property
    def bytes(self) -> int:
        return self.read + self.written

    @property
    def intensity(self) -> float:
        """FLOP per byte this kernel moves."""
        return self.flops / self.bytes if self.bytes else float("inf")


@dataclass(frozen=True)
class RowPlan:
    """How a Triton row kernel covers its rows: the whole row in registers, or a loop over blocks; one
    program per row, or ``programs`` programs that each take every programs-th row."""
    block: int           # columns per program step (a power of two)
    one_pass: bool       # True: the row is loaded once and kept in registers
    num_warps: int
    programs: int = 0    # 0: one program per row; else a fixed grid, so few rows are in flight at once

    @property
    def reads(self) -> str:
        return "once" if self.one_pass else "in a loop"

    def grid(self, rows: int) -> tuple[int]:
        return (min(rows, self.programs) if self.programs else rows,)


# Measured on an H100 (launch_sweep, % of the copy bandwidth; 2026-12-07): the best one-pass warps per
# kernel, and the looped plan for rows that do not fit one program.
ONE_PASS_WARPS = {"l2norm": 4, "rmsnorm": 4, "softmax": 8, "layernorm": 8}
LOOPED = {"layernorm": (1024, 16)}         # kernels that loop even when the row would fit: (BLOCK, warps)
PROGRAMS_PER_SM = 2                        # looped wide rows: rows in flight ≈ 2 per SM, so pass 2 reads L2


def _sms() -> int:
    try:
        if torch.cuda.is_available():
            return torch.cuda.get_device_properties(0).multi_processor_count
    except RuntimeError:
        pass
    return 132


def row_plan(cols: int, kernel: str = "l2norm", dtype="float32") -> RowPlan:
    """The Triton launch plan for ``kernel`` on rows of ``cols`` elements.

    >>> row_plan(4099)
    RowPlan(block=8192, one_pass=True, num_warps=4, programs=0)
    >>> row_plan(32771).one_pass
    False
    >>> row_plan(4099, "layernorm")
    RowPlan(block=1024, one_pass=False, num_warps=16, programs=0)
    """
    if cols < 1:
        raise ValueError(f"rows need at least one column, got {cols}")
    if kernel not in ONE_PASS_WARPS:
        raise ValueError(f"no launch plan for kernel {kernel!r}; kernels: {sorted(ONE_PASS_WARPS)}")
    block = 1 << (cols - 1).bit_length()             # next power of two ≥ cols
    if block > MAX_ONE_PASS:
        return RowPlan(LOOP_BLOCK, False, 16, PROGRAMS_PER_SM * _sms())
    if kernel in LOOPED and block > LOOPED[kernel][0]:
        loop_block, loop_warps = LOOPED[kernel]
        return RowPlan(loop_block, False, loop_warps)
    warps = ONE_PASS_WARPS[kernel] if block >= 4096 else 4 if block <= 1024 else 8
    return RowPlan(block, True, min(warps, max(1, block // 256)))


def fused(variant: str, variants: list, kernel: str, size, dtype: str, device: str, nflops: int,
          extra: int = 0) -> list[Kernel]:
    """The one kernel of a row lab's ``torch_compile`` or ``triton_fused``: x read once or twice plus ``extra``
    bytes (weights), y written once. inductor keeps a row on chip ("persistent reduction") only up to 1,024
    columns on a GPU; wider rows, and its C++ loops on a CPU, read the row twice: the book's two-pass kernel.
    Triton reads as its RowPlan says. A ValueError for a variant the lab does not have or the model lacks."""
    rows, cols = size
    names = [v.__name__ for v in variants]
    if variant not in names or variant not in ("torch_compile", "triton_fused"):
        raise ValueError(f"no traffic model for variant {variant!r}; variants: {names}")
    if variant == "torch_compile":
        passes = 1 if device != "cpu" and cols <= 1024 else 2
    else:
        passes = 1 if row_plan(cols, kernel, dtype).one_pass else 2
    n, b = rows * cols, nbytes(dtype)
    return [Kernel(f"fused ({passes} read{'s' if passes > 1 else ''})", passes * n * b + extra, n * b, nflops)]


def row_shape(x) -> tuple[int, int]:
    """(rows, cols) of a matrix whose rows are contiguous, as the row kernels need; a clear error otherwise."""
    if x.dim() != 2 or x.stride(1) != 1:
        raise ValueError(f"x must be a (rows, cols) matrix with contiguous rows, got shape {tuple(x.shape)}")
    return tuple(x.shape)


def compiled(fn):
    """``fn`` through torch.compile, built on the first call (inductor writes Triton kernels on a GPU and
    C++ loops on a CPU). ``dynamic=False``: one kernel specialised to each shape it meets."""
    holder = {}

    @functools.wraps(fn)
    def call(*args, **kwargs):
        if "fn" not in holder:
            from perflab.machine import env
            state = env().tools.get("torch.compile", "")
            if state.startswith("unavailable"):
                raise RuntimeError(f"torch.compile cannot run here: {state.split(':', 1)[-1].strip()}; "
                                   f"install g++ (or set CXX) and restart the kernel")
            holder["fn"] = torch.compile(fn, dynamic=False)
        return holder["fn"](*args, **kwargs)
    return call


def row_inputs(size, device, dtype, seed) -> torch.Tensor:
    """A (rows, cols) random matrix; each row gets its own scale (and offset) so a kernel that reads the
    wrong row's statistics cannot pass."""
    rows, cols = size
    g = torch.Generator(device=device).manual_seed(seed)
    x = torch.randn(rows, cols, generator=g, device=device)
    scale = 0.5 + 2.5 * torch.rand(rows, 1, generator=g, device=device)     # in [0.5, 3)
    shift = torch.randn(rows, 1, generator=g, device=device)
    return (x * scale + shift).to(getattr(torch, dtype))


def nbytes(dtype: str) -> int:
    return getattr(torch, dtype).itemsize
