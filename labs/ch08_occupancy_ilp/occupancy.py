"""Occupancy and latency hiding, as arithmetic: resident warps per SM, and warps needed by Little's law.

Occupancy is the warps resident on an SM over the most it can hold. Blocks are resident whole, so
blocks per SM is the smallest of four limits (the book's list, Chapter 8 "Tuning occupancy"): the
warp slots, the block slots, the register file and shared memory. Per-architecture limits and
allocation rules are from the CUDA C++ Programming Guide (compute-capability tables) and the CUDA
occupancy calculator, not from the book.

    >>> o = occupancy(256, 40, limits=ARCH["sm_90"])
    >>> o.blocks_per_sm, o.active_warps, o.limiter
    (6, 48, 'registers')
    >>> f"{o.fraction:.0%}"
    '75%'

Little's law turns a bandwidth and a latency into the work that must be in flight: to stream loads at
B bytes/s through a memory with latency L, B x L bytes must be requested and not yet returned.

    >>> h = littles_law(load_gbps=2000, latency_ns=600, sms=132, bytes_per_load=4, ilp=1)
    >>> round(h.bytes_per_sm), round(h.warps_per_sm, 1)
    (9091, 71.0)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from perflab.validate import calculator_inputs

from labs.ch06_gpu_architecture import occupancy as ch06
from labs.ch06_gpu_architecture.occupancy import ARCHS as ARCH, Occupancy, SMLimits  # one table for both chapters

WARP = 32
SLOTS = {"warps": "warp slots", "blocks": "block slots"}     # this chapter's names for two of chapter 6's limits


def device_limits() -> SMLimits:
    """This GPU's limits, read from the driver by chapter 6's calculator. On the cpu tier, the H200's
    (sm_90), which the reference numbers come from."""
    from perflab.machine import env
    return ch06.device_limits()[0] if env().tier == "gpu" else ARCH["sm_90"]


def occupancy(threads: int, regs_per_thread: int, smem_per_block: int = 0,
              limits: SMLimits | None = None) -> Occupancy:
    """Theoretical occupancy of a launch (what the CUDA occupancy calculator computes): chapter 6's calculator.

    threads: per block; regs_per_thread: what ptxas reports; smem_per_block: static + dynamic bytes.

    >>> occupancy(1024, 64, limits=ARCH["sm_90"]).blocks_per_sm        # the book's 1,024-thread case: one block
    1
    >>> occupancy(256, 32, limits=ARCH["sm_90"]).fraction
    1.0
    >>> occupancy(128, 16, smem_per_block=48 * 1024, limits=ARCH["sm_90"]).limiter
    'shared memory'
    """
    lim = limits or device_limits()
    if not 1 <= threads <= lim.max_threads_per_block:
        raise ValueError(f"threads per block must be 1..{lim.max_threads_per_block}, got {threads}")
    if not 1 <= regs_per_thread <= lim.max_regs_per_thread:
        raise ValueError(f"registers per thread must be 1..{lim.max_regs_per_thread}, got {regs_per_thread}")
    if smem_per_block < 0:
        raise ValueError(f"shared memory per block must be ≥ 0 bytes, got {smem_per_block}")
    o = ch06.occupancy(lim, threads, regs_per_thread, smem_per_block)
    o.blocks_by = {SLOTS.get(k, k): n for k, n in o.blocks_by.items()}
    return o


@calculator_inputs(positive="threads regs_per_thread")
def explain_occupancy(threads: int = 256, regs_per_thread: int = 32, smem_kb: float = 0.0,
                      arch: str = "sm_90") -> str:
    """One line for the calculator widget.

    >>> explain_occupancy(1024, 64, 0, "sm_90")[:60]
    '1024 threads × 64 registers, 0 B shared on sm_90: 1 blocks ='
    """
    o = occupancy(threads, regs_per_thread, int(smem_kb * 1024), ARCH[arch])
    per = ", ".join(f"{k} {v}" for k, v in o.blocks_by.items())
    return (f"{threads} threads × {regs_per_thread} registers, {o.smem_per_block:,} B shared on {arch}: "
            f"{o.blocks_per_sm} blocks = {o.active_warps} of {o.limits.max_warps_per_sm} warps per SM → "
            f"occupancy {o.fraction:.0%}, limited by {o.limiter} (blocks allowed by: {per})")


@dataclass(frozen=True)
class LatencyHiding:
    """Little's law for loads: what must be in flight, per SM and per warp, to sustain a bandwidth."""
    load_gbps: float
    latency_ns: float
    sms: int
    bytes_per_load: int
    ilp: int
    max_warps: int = 64

    @property
    def bytes_in_flight(self) -> float:
        from perflab.calc import bytes_in_flight
        return bytes_in_flight(self.load_gbps, self.latency_ns)

    @property
    def bytes_per_sm(self) -> float:
        return self.bytes_in_flight / self.sms

    @property
    def bytes_per_warp(self) -> int:
        return WARP * self.bytes_per_load * self.ilp           # one warp, ILP loads per thread

    @property
    def warps_per_sm(self) -> float:
        return self.bytes_per_sm / self.bytes_per_warp

    @property
    def occupancy_needed(self) -> float:
        return self.warps_per_sm / self.max_warps

    def __str__(self):
        verdict = (f"needs {self.occupancy_needed:.0%} occupancy" if self.occupancy_needed <= 1 else
                   f"more than the SM's {self.max_warps} warps can give ({self.occupancy_needed:.0%}): raise ILP")
        return (f"loads at {self.load_gbps:,.0f} GB/s × {self.latency_ns:,.0f} ns = {self.bytes_in_flight / 1e6:.2f} MB in "
                f"flight = {self.bytes_per_sm / 1024:.1f} KiB per SM ({self.sms} SMs). A warp with {self.ilp} "
                f"load(s) of {self.bytes_per_load} B per thread holds {self.bytes_per_warp:,} B → "
                f"{self.warps_per_sm:.0f} warps per SM: {verdict}")


def littles_law(load_gbps: float, latency_ns: float, sms: int, bytes_per_load: int = 4, ilp: int = 1,
                max_warps: int = 64) -> LatencyHiding:
    """Warps per SM needed to keep ``load_gbps`` of loads in flight at ``latency_ns`` (Little's law).

    load_gbps is the rate the loads must deliver (a copy's read half: half its GB/s).
    """
    if min(load_gbps, latency_ns, sms, bytes_per_load, ilp) <= 0:
        raise ValueError("bandwidth, latency, SMs, bytes per load and ILP must all be positive, got "
                         f"{load_gbps}, {latency_ns}, {sms}, {bytes_per_load}, {ilp}")
    return LatencyHiding(load_gbps, latency_ns, sms, bytes_per_load, ilp, max_warps)


@calculator_inputs(positive="copy_gbps latency_ns sms bytes_per_load ilp")
def explain_littles_law(copy_gbps: float = 4200, latency_ns: float = 600, sms: int = 132,
                        bytes_per_load: int = 4, ilp: int = 1) -> str:
    """One line for the widget: a copy-type kernel at ``copy_gbps`` (read + write) needs half of it
    in loads; how many warps per SM keep those loads in flight?"""
    return f"a copy at {copy_gbps:,.0f} GB/s reads half of it: " + str(littles_law(copy_gbps / 2, latency_ns, sms,
                                                                              bytes_per_load, ilp))


def warps_for_pipeline(latency_cycles: float, ilp: int = 1, schedulers: int = 4, issue_per_cycle: float = 1.0) -> int:
    """Warps per SM that keep every scheduler issuing a dependent-chain instruction each cycle.

    Each scheduler needs latency × issue rate independent instructions in flight; a warp offers ILP.

    >>> warps_for_pipeline(4, ilp=1), warps_for_pipeline(4, ilp=4)     # FFMA-like latency of 4 cycles
    (16, 4)
    """
    if latency_cycles <= 0 or ilp <= 0:
        raise ValueError(f"latency and ILP must be positive, got {latency_cycles}, {ilp}")
    return schedulers * math.ceil(latency_cycles * issue_per_cycle / ilp)


def implied_latency_ns(copy_gbps: float, warps_per_sm: float, ilp: int, sms: int, bytes_per_load: int = 4) -> float:
    """Little's law backwards: the latency that explains a measured, latency-bound copy rate.

    >>> round(implied_latency_ns(copy_gbps=400, warps_per_sm=8, ilp=1, sms=132))
    676
    """
    in_flight = warps_per_sm * WARP * bytes_per_load * ilp * sms           # bytes of loads outstanding
    return in_flight / (copy_gbps / 2)                                       # bytes / (GB/s) = ns
