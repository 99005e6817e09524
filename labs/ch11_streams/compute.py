"""The work each pipeline chunk does: K steps of an integer hash, with an exact closed form and a dial.

Every element runs ``v = v * A + C`` (mod 2**32) ``iters`` times. That is a linear congruential step:
cheap, exact in any order, and its K-fold composition is again one step ``v * A_K + C_K``, so the
reference costs one multiply-add per element however large K is. ``iters`` is the dial: the
calibration picks it so one chunk's compute takes as long as one chunk's pinned host-to-device copy,
which makes the three pipeline stages equal (the case where overlap can approach 3x).

    >>> hash_jump(1) == (A, C)
    True
    >>> import numpy as np
    >>> v = np.array([7, -3], dtype=np.int32)
    >>> bool((hash_numpy(v, 5) == hash_numpy(hash_numpy(v, 2), 3)).all())
    True
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch
import triton
import triton.language as tl

A, C = 1664525, 1013904223     # the classic 32-bit LCG multiplier and increment (both odd, both < 2**31)
MASK = (1 << 32) - 1
BLOCK = 1024                   # elements per Triton program (4 warps: 8 independent chains per thread)
CHUNKS = 8                     # chunks per batch in the overlap lab
ALIGN = 64                     # chunk starts are multiples of 64 elements (256 B); only the tail is ragged
CPU_ITERS = 8                  # cpu tier: no copy engine to match, and the interpreter is slow


def hash_jump(iters: int) -> tuple[int, int]:
    """(A_K, C_K) such that K hash steps equal one step ``v * A_K + C_K`` (mod 2**32).

    Composing two affine maps is affine: (a2, c2) after (a1, c1) is (a2*a1, a2*c1 + c2). Squaring
    the step log2(K) times gives the K-th power.

    >>> hash_jump(0)
    (1, 0)
    >>> a, c = hash_jump(3); v = 12345
    >>> (a * v + c) & MASK == (((v * A + C) * A + C) * A + C) & MASK
    True
    """
    if iters < 0:
        raise ValueError(f"iters must be >= 0, got {iters}")
    result, power = (1, 0), (A, C)
    while iters:
        if iters & 1:
            result = ((power[0] * result[0]) & MASK, (power[0] * result[1] + power[1]) & MASK)
        power = ((power[0] * power[0]) & MASK, (power[0] * power[1] + power[1]) & MASK)
        iters >>= 1
    return result


def hash_numpy(v, iters: int):
    """The closed form on an int32 numpy array: one multiply-add in uint32, which wraps mod 2**32."""
    import numpy as np
    a, c = hash_jump(iters)
    u = np.ascontiguousarray(v).view(np.uint32)
    return (u * np.uint32(a) + np.uint32(c)).view(np.int32)


def reference(x: torch.Tensor, iters: int) -> torch.Tensor:
    """hash^iters(x) for an int32 tensor, computed on the CPU from the closed form."""
    return torch.from_numpy(hash_numpy(x.detach().cpu().numpy(), iters))


@triton.jit
def _hash_kernel(x_ptr, y_ptr, n, iters, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    v = tl.load(x_ptr + offs, mask=mask, other=0)
    for _ in range(iters):                    # int32 arithmetic wraps: exactly mod 2**32
        v = v * 1664525 + 1013904223
    tl.store(y_ptr + offs, v, mask=mask)


def hash_steps(src: torch.Tensor, dst: torch.Tensor, iters: int) -> torch.Tensor:
    """dst = hash^iters(src), one Triton kernel on the current stream (src, dst: int32, contiguous)."""
    n = src.numel()
    if dst.numel() != n or src.dtype != torch.int32 or dst.dtype != torch.int32:
        raise ValueError(f"hash_steps needs two int32 tensors of one size, got {src.dtype}[{n}] and "
                         f"{dst.dtype}[{dst.numel()}]")
    if n:
        _hash_kernel[(triton.cdiv(n, BLOCK),)](src, dst, n, iters, BLOCK=BLOCK, num_warps=4)
    return dst


def chunk_ranges(n: int, chunks: int) -> list[tuple[int, int]]:
    """Split ``range(n)`` into at most ``chunks`` pieces whose starts are multiples of ALIGN elements.

    >>> chunk_ranges(1000, 4)
    [(0, 256), (256, 512), (512, 768), (768, 1000)]
    >>> chunk_ranges(130, 8)[-1]
    (128, 130)
    """
    if chunks < 1:
        raise ValueError(f"chunks must be >= 1, got {chunks}")
    step = -(-n // chunks)
    step = max(ALIGN, -(-step // ALIGN) * ALIGN)
    return [(a, min(a + step, n)) for a in range(0, n, step)]


@dataclass(frozen=True)
class Calibration:
    """How much hashing makes one chunk's compute as long as its pinned host-to-device copy."""
    device: str
    chunk_elems: int
    iters: int
    h2d_s: float | None = None            # one chunk, pinned host -> device
    d2h_s: float | None = None            # one chunk, device -> pinned host
    kernel_s: float | None = None         # one chunk's kernel at ``iters`` steps, measured
    kernel_fit: tuple | None = None       # (t0 seconds, seconds per step) for one chunk, from two step counts

    def compute_s(self, iters: int | None = None) -> float | None:
        """Kernel time for one chunk: measured at the chosen count, from the fit at any other."""
        if iters is None and self.kernel_s is not None:
            return self.kernel_s
        if self.kernel_fit is None:
            return None
        t0, per_step = self.kernel_fit
        return t0 + per_step * (self.iters if iters is None else iters)

    def stage_ms(self, chunks: int = CHUNKS) -> tuple[float, float, float] | None:
        """Whole-batch (H2D, compute, D2H) times in ms, for the simulator."""
        if self.h2d_s is None:
            return None
        return tuple(chunks * t * 1e3 for t in (self.h2d_s, self.compute_s(), self.d2h_s))

    def __repr__(self):
        mb = self.chunk_elems * 4 / 1e6
        if self.h2d_s is None:
            return (f"Calibration on {self.device}: cpu tier, no copy engine to balance against; "
                    f"{self.iters} hash steps per element keep the Triton interpreter quick")
        t0, per = self.kernel_fit
        return "\n".join([
            f"Calibration on {self.device}, one chunk = {self.chunk_elems:,} int32 ({mb:.1f} MB):",
            f"  H2D copy (pinned)  {self.h2d_s * 1e3:.3f} ms  ({mb / 1e3 / self.h2d_s:.1f} GB/s)",
            f"  D2H copy (pinned)  {self.d2h_s * 1e3:.3f} ms  ({mb / 1e3 / self.d2h_s:.1f} GB/s)",
            f"  hash kernel        {t0 * 1e3:.3f} ms + {per * 1e6:.3f} us per step "
            f"({per / self.chunk_elems * 1e12:.3f} ps per element-step)",
            f"  -> iters = {self.iters:,} steps per element: the kernel measures {self.compute_s() * 1e3:.3f} ms "
            f"({self.compute_s() / self.h2d_s:.2f}x the H2D copy)"])


@functools.cache
def calibrate(chunk_elems: int | None = None) -> Calibration:
    """Measure one chunk's pinned copies and the hash kernel at two step counts (pl.bench), pick the step
    count whose kernel time matches the H2D copy, then measure that count and correct it once or twice
    if it missed by more than 10 %. Cached for the process; the cpu tier gets CPU_ITERS unmeasured."""
    from labs.ch11_streams import overlap
    e = pl.env()
    n = chunk_elems or chunk_ranges(overlap.SIZES["gpu"][0], CHUNKS)[0][1]
    if e.tier != "gpu":
        return Calibration(device=e.device, chunk_elems=n, iters=CPU_ITERS)
    g = torch.Generator().manual_seed(0)
    host = torch.empty(n, dtype=torch.int32, pin_memory=True).random_(-2**31, 2**31 - 1, generator=g)
    back = torch.empty_like(host).pin_memory()
    dev = torch.empty(n, dtype=torch.int32, device="cuda")
    out = torch.empty_like(dev)
    h2d = pl.bench(lambda: dev.copy_(host, non_blocking=True), rep_ms=30, label="calibrate.h2d").median
    d2h = pl.bench(lambda: back.copy_(dev, non_blocking=True), rep_ms=30, label="calibrate.d2h").median
    kernel = lambda k: pl.bench(lambda: hash_steps(dev, out, k), rep_ms=30, label=f"calibrate.k{k}").median  # noqa: E731
    k1, k2 = 256, 2048
    t1, t2 = kernel(k1), kernel(k2)
    per_step = max((t2 - t1) / (k2 - k1), 1e-12)
    t0 = max(t1 - per_step * k1, 0.0)
    iters = int(min(max(round((h2d - t0) / per_step), 1), 1 << 16))
    measured = kernel(iters)
    for _ in range(2):                        # the straight-line fit can miss (clocks, tail effects)
        if abs(measured / h2d - 1) <= 0.10:
            break
        iters = int(min(max(round(iters * h2d / measured), 1), 1 << 16))
        measured = kernel(iters)
    return Calibration(device=e.device, chunk_elems=n, iters=iters, h2d_s=h2d, d2h_s=d2h, kernel_s=measured,
                       kernel_fit=(t0, per_step))
