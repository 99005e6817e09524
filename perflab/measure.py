"""A Measurement: timing samples plus what was timed; statistics are derived, and it prints itself."""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field

SPREAD_WARN = 0.10   # (p80 - p20) / median above this gets a warning in the repr


def select_unit(seconds: float) -> tuple[str, float]:
    """The unit to print a time in, and its scale (format_time prints with it).

    >>> select_unit(3.2e-6), format_time(0.0042)
    (('us', 1e-06), '4.2 ms')
    """
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return unit, scale
    return "ns", 1e-9


def format_time(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    unit, scale = select_unit(seconds)
    return f"{seconds / scale:.3g} {unit}"


def quantile(values, q: float) -> float:
    """The q-quantile (0 <= q <= 1, in whole percent) of values: perflab's one definition, the standard
    library's ``statistics.quantiles(method="inclusive")`` (linear interpolation between order statistics;
    numpy's default). p20 means quantile(samples, 0.2) everywhere in perflab and the labs.

    >>> quantile([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 0.2)
    2.0
    """
    values = list(values)
    if not values:
        raise ValueError("quantile of no values")
    pct = round(q * 100)
    if not 0 <= q <= 1 or abs(q * 100 - pct) > 1e-9:
        raise ValueError(f"q must be a whole percent between 0 and 1 (0.2 for p20), got {q!r}")
    if len(values) == 1 or pct in (0, 100):
        return min(values) if pct == 0 else max(values)
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


@dataclass
class Measurement:
    """Samples of one timed callable (seconds per call) and its identity.

    >>> m = Measurement([1e-3, 1.1e-3, 0.9e-3], label="copy", bytes=2e9, device="cpu")
    >>> round(m.median * 1e3, 3), round(m.gbps)
    (1.0, 2000)
    """
    samples: list[float]
    label: str = ""
    device: str = ""
    bytes: float | None = None
    flops: float | None = None
    first_call_s: float | None = None   # the first call alone: compile, module load, autotune
    method: str = ""                    # how it was timed: "cuda-events+l2-flush", "cuda-graph", "cpu-timer"
    meta: dict = field(default_factory=dict)
    calls_per_sample: int = 1           # each sample is the mean of this many back-to-back calls
    threads: int | None = None          # torch intra-op threads the calls ran with (cpu timing)
    busy: str = ""                      # why the machine was busy during the timing, "" when it was not

    def __post_init__(self):
        from perflab.validate import number
        if isinstance(self.samples, (str, bytes)) or not hasattr(self.samples, "__iter__"):
            raise TypeError(f"Measurement {self.label!r}: samples is a list of seconds, got {self.samples!r}")
        self.samples = list(self.samples)
        if not self.samples:
            raise ValueError(f"Measurement {self.label!r} has no samples")
        for i, s in enumerate(self.samples):
            number(f"sample {i}", s, positive=True, where=f"Measurement {self.label!r} (seconds per call)")
        for name in ("bytes", "flops", "first_call_s"):
            if getattr(self, name) is not None:
                number(name, getattr(self, name), where=f"Measurement {self.label!r}")
        number("calls_per_sample", self.calls_per_sample, positive=True, integer=True)
        self._sorted = sorted(self.samples)

    @property
    def n(self) -> int:
        return len(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self._sorted)

    @property
    def p20(self) -> float:
        return quantile(self._sorted, 0.2)

    @property
    def p80(self) -> float:
        return quantile(self._sorted, 0.8)

    @property
    def spread(self) -> float:
        """(p80 - p20) / median: the relative noise of this measurement."""
        return (self.p80 - self.p20) / self.median

    @property
    def gbps(self) -> float | None:
        """Achieved GB/s (1e9 bytes per second) over the bytes the operation must move."""
        return self.bytes / self.median / 1e9 if self.bytes else None

    @property
    def tflops(self) -> float | None:
        return self.flops / self.median / 1e12 if self.flops else None

    def faster_than(self, other: "Measurement") -> bool | None:
        """True/False when the p20–p80 ranges do not overlap; None when the difference is noise."""
        if self.p80 < other.p20:
            return True
        if other.p80 < self.p20:
            return False
        return None

    def __repr__(self):
        lines = [f"Measurement {self.label} on {self.device}".rstrip(),
                 f"  median {format_time(self.median)}   p20–p80 {format_time(self.p20)} – "
                 f"{format_time(self.p80)}   {self.n} samples ({self.method}"
                 + (f", {self.calls_per_sample} calls each" if self.calls_per_sample > 1 else "")
                 + (f", {self.threads} threads" if self.threads else "") + ")"]
        rates = []
        if self.gbps:
            rates.append(f"{self.gbps:,.1f} GB/s")
        if self.tflops:
            rates.append(f"{self.tflops:,.2f} TFLOP/s")
        if self.first_call_s is not None:
            rates.append(f"first call {format_time(self.first_call_s)}")
        if rates:
            lines.append("  " + "   ".join(rates))
        if self.busy:
            lines.append(f"  BUSY MACHINE: {self.busy}; these timings are likely slower than this device can do")
        if self.spread > SPREAD_WARN:
            lines.append(f"  WARNING: spread {self.spread:.0%} of the median; the machine is noisy "
                         f"or the work is too short to time well")
        return "\n".join(lines)
