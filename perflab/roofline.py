"""Rooflines: where a kernel sits between this device's bandwidth slope and its compute peaks."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

KINDS = ("bandwidth", "compute")


@dataclass(frozen=True)
class Ceiling:
    """The measured rate that bounds a variant: a link's bandwidth or a precision's matmul peak.

    Results files keep its ``label`` ("copy", "h2d_pinned", "matmul bfloat16"); code works on this value.

    >>> c = Ceiling("compute", "tf32", 371.0)
    >>> c.label, c.unit, Ceiling.from_label(c.label, 371.0) == c
    ('matmul tf32', 'TFLOP/s', True)
    """
    kind: str           # "bandwidth" or "compute"
    name: str           # the link ("copy", "h2d_pinned", ...) or the precision ("float16", "tf32", ...)
    value: float        # GB/s for a bandwidth, TFLOP/s for a compute peak

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"a ceiling's kind is one of {KINDS}, got {self.kind!r}")

    @property
    def unit(self) -> str:
        return "GB/s" if self.kind == "bandwidth" else "TFLOP/s"

    @property
    def label(self) -> str:
        return self.name if self.kind == "bandwidth" else f"matmul {self.name}"

    @classmethod
    def from_label(cls, label: str, value: float) -> "Ceiling":
        kind, _, name = label.partition(" ") if label.startswith("matmul ") else ("bandwidth", "", label)
        return cls("compute" if kind == "matmul" else kind, name, value)

    @classmethod
    def of(cls, record) -> "Ceiling | None":
        """The ceiling a record was scored against (its value recovered from the rate and the fraction)."""
        if record is None or not record.ceiling:
            return None
        c = cls.from_label(record.ceiling, float("nan"))
        rate = record.gbps if c.kind == "bandwidth" else record.tflops
        return replace(c, value=rate / record.ceiling_fraction) if rate and record.ceiling_fraction else c

    def precision(self, default: str) -> str:
        """The precision whose peak this ceiling is (a bandwidth ceiling: ``default``, the arithmetic)."""
        return self.name if self.kind == "compute" else default

    def achieved(self, m) -> float | None:
        """The measurement's rate in this ceiling's unit (GB/s or TFLOP/s)."""
        return m.gbps if self.kind == "bandwidth" else m.tflops

    def fraction(self, m) -> float | None:
        rate = self.achieved(m)
        return rate / self.value if rate else None


@dataclass
class Point:
    label: str
    flops: float
    bytes: float
    seconds: float
    precision: str = "float32"
    source: str = "yours"          # "yours" or the reference device's name

    @property
    def intensity(self) -> float:
        """Arithmetic intensity, FLOP per byte of the minimum traffic."""
        return self.flops / self.bytes

    @property
    def tflops(self) -> float:
        return self.flops / self.seconds / 1e12


@dataclass
class Roofline:
    """Measured ceilings of one device (GB/s, TFLOP/s per precision), datasheet values, and points.

    >>> r = Roofline(device="toy", bandwidth_gbps=1000, peaks={"float32": 10})
    >>> r.ridge("float32")                      # FLOP/B where memory- and compute-bound meet
    10.0
    >>> r.attainable_tflops(1.0, "float32")     # memory-bound: 1 FLOP/B × 1000 GB/s
    1.0
    """
    device: str
    bandwidth_gbps: float
    peaks: dict
    datasheet_gbps: float | None = None
    datasheet_peaks: dict = field(default_factory=dict)
    points: list = field(default_factory=list)

    @classmethod
    def from_ceilings(cls, c) -> "Roofline":
        ds = c.datasheet or {}
        return cls(device=c.device, bandwidth_gbps=c.copy_gbps, peaks=dict(c.matmul_tflops),
                   datasheet_gbps=ds.get("memory_gbps"),
                   datasheet_peaks={k: v for k, v in ds.get("matmul_tflops", {}).items() if v})

    def ridge(self, precision: str) -> float:
        return self.peaks[precision] * 1e12 / (self.bandwidth_gbps * 1e9)

    def attainable_tflops(self, intensity: float, precision: str) -> float:
        peak = self.peaks.get(precision, max(self.peaks.values(), default=float("inf")))
        return min(peak, intensity * self.bandwidth_gbps / 1e3)

    def add(self, label: str, flops: float, bytes: float, seconds: float, precision: str = "float32",
            source: str = "yours") -> "Roofline":
        if flops <= 0 or bytes <= 0 or seconds <= 0:
            raise ValueError(f"point {label!r} needs positive flops, bytes and seconds "
                             f"(got {flops}, {bytes}, {seconds}); pure data movement has no place "
                             f"on a roofline: compare its GB/s with the bandwidth instead")
        self.points.append(Point(label, flops, bytes, seconds, precision, source))
        return self

    def __str__(self):
        lines = [f"Roofline of {self.device}: bandwidth {self.bandwidth_gbps:,.0f} GB/s; peaks " +
                 ", ".join(f"{k} {v:,.3g}" for k, v in self.peaks.items()) + " TFLOP/s"]
        for p in self.points:
            att = self.attainable_tflops(p.intensity, p.precision)
            if p.precision in self.peaks:
                bound = "memory" if p.intensity < self.ridge(p.precision) else "compute"
            else:
                bound = "?"
            lines.append(f"  {p.label:<28} {p.intensity:9.3g} FLOP/B  {p.tflops:9.3g} TFLOP/s  "
                         f"{p.tflops / att:6.1%} of attainable ({bound}-bound) [{p.source}]")
        return "\n".join(lines)

    __repr__ = __str__

    def figure(self, others: "list[Roofline] | None" = None, title: str | None = None):
        """A plotly log-log figure: measured ceilings solid, datasheet dashed, points labelled.

        others: more rooflines (e.g. the H200 reference) drawn in the same axes.
        """
        import plotly.graph_objects as go
        fig = go.Figure()
        all_lines = [self] + list(others or [])
        xs = [p.intensity for r in all_lines for p in r.points] or [1.0]
        x_lo, x_hi = min(xs + [0.05]) / 2, max(xs + [2e3]) * 2
        for i, r in enumerate(all_lines):
            dash = "solid" if i == 0 else "dot"
            _ceiling_lines(fig, r.device, r.bandwidth_gbps, r.peaks, x_lo, x_hi, dash, "measured")
            if i == 0 and r.datasheet_gbps:
                _ceiling_lines(fig, r.device, r.datasheet_gbps, r.datasheet_peaks, x_lo, x_hi, "dash",
                               "datasheet")
            for p in r.points:
                fig.add_trace(go.Scatter(        # reference points: hover labels only, to keep it legible
                    x=[p.intensity], y=[p.tflops], mode="markers+text" if i == 0 else "markers", text=[p.label],
                    textposition="top center", marker=dict(size=10, symbol="circle" if i == 0 else "diamond"),
                    name=f"{p.label} ({r.device})", showlegend=False,
                    hovertemplate=f"{p.label}<br>{p.intensity:.3g} FLOP/B<br>{p.tflops:.3g} TFLOP/s"))
        fig.update_layout(title=title or f"Roofline · {self.device}", xaxis_type="log", yaxis_type="log",
                          xaxis_title="arithmetic intensity (FLOP/byte)", yaxis_title="TFLOP/s",
                          height=460, margin=dict(l=60, r=20, t=50, b=50))
        return fig


def _ceiling_lines(fig, device, gbps, peaks, x_lo, x_hi, dash, kind):
    import plotly.graph_objects as go
    for prec, peak in peaks.items():
        ridge = peak * 1e12 / (gbps * 1e9)
        xs = [x_lo, min(ridge, x_hi), x_hi]
        ys = [min(peak, x * gbps / 1e3) for x in xs]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(dash=dash),
                                 name=f"{device} {prec} ({kind})"))
