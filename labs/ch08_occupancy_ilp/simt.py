"""A SIMT model of one if/else: which lanes each path runs with, and the lane efficiency that results.

A warp issues one instruction for all its 32 lanes. At an if/else whose condition differs between
lanes, the warp runs the *then* path with the other lanes masked off, then the *else* path with the
first group masked off. Issued lane-cycles = 32 × instructions issued; useful lane-cycles = the
lanes that were active for each. Efficiency = useful / issued (what Nsight Compute reports as
average active threads per instruction, divided by 32).

    >>> w = run_warp([i % 2 == 1 for i in range(32)], then_cost=10, else_cost=10)   # odd lanes take 'then'
    >>> w.issued, w.useful, f"{w.efficiency:.0%}"
    (20, 320, '50%')
    >>> run_warp([True] * 32, 10, 10).efficiency
    1.0
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from perflab.validate import calculator_inputs

WARP = 32
PATTERNS = ("lane-parity", "lane-random", "warp-uniform", "sorted", "one-lane")


def pattern(name: str, n: int = WARP, p: float = 0.5, seed: int = 0) -> list[bool]:
    """Branch conditions for ``n`` consecutive threads.

    lane-parity   odd threads take the branch (the classic ``if (threadIdx.x % 2)``)
    lane-random   each thread flips a coin with probability p (data-dependent flags)
    warp-uniform  one coin per warp of 32 threads: all lanes of a warp agree
    sorted        the lane-random flags sorted, False first: warps agree except at one boundary
    one-lane      only the first lane of each warp takes the branch

    >>> "".join("1" if c else "0" for c in pattern("lane-parity", 8))
    '01010101'
    """
    if name not in PATTERNS:
        raise ValueError(f"pattern {name!r} is not one of {PATTERNS}")
    rng = random.Random(seed)
    if name == "lane-parity":
        return [i % 2 == 1 for i in range(n)]
    if name == "one-lane":
        return [i % WARP == 0 for i in range(n)]
    if name == "warp-uniform":
        coins = [rng.random() < p for _ in range(-(-n // WARP))]
        return [coins[i // WARP] for i in range(n)]
    flags = [rng.random() < p for _ in range(n)]
    return sorted(flags) if name == "sorted" else flags


def mask(conds: list[bool]) -> int:
    """The active-lane mask of a condition: bit i set when lane i takes the path.

    >>> hex(mask([True, False] * 16))
    '0x55555555'
    """
    return sum(1 << i for i, c in enumerate(conds) if c)


def mask_text(m: int, lanes: int = WARP) -> str:
    """Lane 0 first: '1' active, '.' masked off."""
    return "".join("1" if m >> i & 1 else "." for i in range(lanes))


@dataclass(frozen=True)
class WarpRun:
    """One warp through ``common`` shared instructions and an if/else."""
    then_mask: int
    else_mask: int
    lanes: int                      # threads that exist in this warp (the last warp may be partial)
    then_cost: int
    else_cost: int
    common: int = 0

    @property
    def issued(self) -> int:
        """Warp instructions issued: a path runs if any lane needs it."""
        return self.common + self.then_cost * bool(self.then_mask) + self.else_cost * bool(self.else_mask)

    @property
    def useful(self) -> int:
        """Lane-instructions that did work: each lane runs the common code and its own path."""
        n_then = bin(self.then_mask).count("1")
        return self.lanes * self.common + n_then * self.then_cost + (self.lanes - n_then) * self.else_cost

    @property
    def efficiency(self) -> float:
        return self.useful / (WARP * self.issued) if self.issued else 1.0

    @property
    def diverged(self) -> bool:
        return bool(self.then_mask) and bool(self.else_mask)

    def __str__(self):
        return (f"then  {mask_text(self.then_mask)}  {self.then_cost if self.then_mask else 0} instr\n"
                f"else  {mask_text(self.else_mask)}  {self.else_cost if self.else_mask else 0} instr\n"
                f"issued {self.issued} warp-instr = {WARP * self.issued} lane-slots, useful {self.useful} "
                f"→ efficiency {self.efficiency:.0%}")


def run_warp(conds: list[bool], then_cost: int, else_cost: int, common: int = 0) -> WarpRun:
    """Run one warp (up to 32 conditions) through an if/else."""
    if not 1 <= len(conds) <= WARP:
        raise ValueError(f"a warp has 1..{WARP} lanes, got {len(conds)} conditions")
    if min(then_cost, else_cost, common) < 0:
        raise ValueError(f"instruction counts must be ≥ 0, got then={then_cost}, else={else_cost}, common={common}")
    t = mask(conds)
    full = (1 << len(conds)) - 1
    return WarpRun(t, full & ~t, len(conds), then_cost, else_cost, common)


@dataclass(frozen=True)
class Run:
    """Many warps: totals of issued and useful lane-cycles, and warps that ran both paths."""
    warps: int
    diverged_warps: int
    issued: int                     # warp instructions
    useful: int                     # lane instructions

    @property
    def efficiency(self) -> float:
        return self.useful / (WARP * self.issued) if self.issued else 1.0


def run_flags(flags, then_cost: int, else_cost: int, common: int = 0) -> Run:
    """Run every warp of a flag array (a list or a bool tensor, thread i = flag i) through the if/else.

    >>> r = run_flags(pattern("sorted", 1000, seed=1), 10, 10)
    >>> r.diverged_warps, r.warps
    (1, 32)
    """
    import torch
    f = flags if isinstance(flags, torch.Tensor) else torch.tensor(list(flags), dtype=torch.bool)
    f = f.detach().to("cpu", torch.bool).flatten()
    n = f.numel()
    warps = -(-n // WARP)
    padded = torch.zeros(warps * WARP, dtype=torch.int32)
    padded[:n] = f.int()
    taken = padded.view(warps, WARP).sum(1)                      # lanes on the then path, per warp
    lanes = torch.full((warps,), WARP, dtype=torch.int32)
    lanes[-1] = n - (warps - 1) * WARP                           # the last warp may be partial
    has_then, has_else = taken > 0, taken < lanes
    issued = warps * common + then_cost * int(has_then.sum()) + else_cost * int(has_else.sum())
    useful = n * common + then_cost * int(taken.sum()) + else_cost * int((lanes - taken).sum())
    return Run(warps, int((has_then & has_else).sum()), issued, useful)


@calculator_inputs()
def explain(pattern_name: str = "lane-parity", then_cost: int = 10, else_cost: int = 10, common: int = 2) -> str:
    """The calculator's text: the masks of the first warp of a pattern, and the efficiency over many warps."""
    w = run_warp(pattern(pattern_name, WARP), then_cost, else_cost, common)
    many = run_flags(pattern(pattern_name, 32 * WARP, seed=1), then_cost, else_cost, common)
    return (f"{pattern_name}, then={then_cost}, else={else_cost}, common={common} instructions\n{w}\n"
            f"over 32 warps of this pattern: {many.diverged_warps} ran both paths, efficiency {many.efficiency:.0%}")


def pattern_table(then_cost: int = 10, else_cost: int = 10, common: int = 0, warps: int = 1024):
    """Efficiency of each pattern over many warps (a Table)."""
    from perflab.table import Table
    rows = []
    for name in PATTERNS:
        r = run_flags(pattern(name, warps * WARP, seed=3), then_cost, else_cost, common)
        rows.append([name, f"{r.diverged_warps:,} of {r.warps:,}", f"{r.issued / r.warps:.1f}", f"{r.efficiency:.0%}"])
    return Table(["pattern", "warps running both paths", "instructions issued per warp", "lane efficiency"], rows,
                 title=f"SIMT model · if/else with then={then_cost}, else={else_cost}, common={common} instructions")
