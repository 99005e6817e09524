"""Back-of-envelope calculators used across chapters; each returns numbers and explains itself.

>>> round(ridge_point(989, 4800), 1)           # H200 datasheet: bf16 TFLOP/s over HBM GB/s
206.0
>>> transfer_seconds(1e9, 50)                   # 1 GB over a 50 GB/s link
0.02
"""
from __future__ import annotations

from perflab.validate import calculator_inputs


@calculator_inputs(positive="peak_tflops bandwidth_gbps")
def ridge_point(peak_tflops: float, bandwidth_gbps: float) -> float:
    """FLOP per byte where a kernel turns from memory-bound to compute-bound."""
    return peak_tflops * 1e12 / (bandwidth_gbps * 1e9)


@calculator_inputs(positive="peak_tflops bandwidth_gbps")
def attainable_tflops(intensity: float, peak_tflops: float, bandwidth_gbps: float) -> float:
    """The roofline: min(peak, intensity × bandwidth)."""
    return min(peak_tflops, intensity * bandwidth_gbps / 1e3)


@calculator_inputs(positive="gbps")
def transfer_seconds(nbytes: float, gbps: float, latency_s: float = 0.0) -> float:
    """Time to move nbytes over a link: latency + bytes / bandwidth (the α–β model)."""
    return latency_s + nbytes / (gbps * 1e9)


@calculator_inputs()
def bytes_in_flight(bandwidth_gbps: float, latency_ns: float) -> float:
    """Little's law: the bytes that must be in flight to sustain a bandwidth at a latency."""
    return bandwidth_gbps * latency_ns        # GB/s × ns = bytes


@calculator_inputs(positive="m n k bytes_per_element")
def matmul_intensity(m: int, n: int, k: int, bytes_per_element: float) -> float:
    """FLOP per byte of C = A @ B when each matrix crosses memory exactly once."""
    return 2 * m * n * k / (bytes_per_element * (m * k + k * n + m * n))


@calculator_inputs(positive="peak_tflops bandwidth_gbps")
def explain_roofline(intensity: float, peak_tflops: float, bandwidth_gbps: float) -> str:
    """One plain-text line: attainable rate and which ceiling binds."""
    ridge = ridge_point(peak_tflops, bandwidth_gbps)
    att = attainable_tflops(intensity, peak_tflops, bandwidth_gbps)
    bound = "memory-bound" if intensity < ridge else "compute-bound"
    return (f"intensity {intensity:,.3g} FLOP/B vs ridge {ridge:,.1f} FLOP/B → {bound}: at most "
            f"{att:,.3g} TFLOP/s ({att / peak_tflops:.1%} of the {peak_tflops:,.0f} TFLOP/s peak)")
