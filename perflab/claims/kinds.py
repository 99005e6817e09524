"""The claim vocabulary: Faster, About, AtLeast, AtMost, Scales, Holds, and the verdict each gives."""
from __future__ import annotations

import dataclasses
import json
import math
import re
import statistics
from dataclasses import dataclass, field
from typing import Any, Callable

from perflab.results import Record

TIERS_HELP = "'any', 'cpu', 'gpu' or a minimum capability such as 'sm_90'"
DEVICE_CLASSES = ("cpu", "small_gpu", "gpu", "hopper")
METRICS = ("median_s", "gbps", "tflops", "ceiling_fraction", "speedup_vs_baseline", "first_call_s")
LAWS = {"constant": 0.0, "linear": 1.0, "quadratic": 2.0}
DEFAULT_WHY = {
    "cpu": "CPU tier: Triton is interpreted (checked, not timed), there are no tensor cores and no GPU "
           "launch costs, so a GPU-shaped outcome need not hold here",
    "small_gpu": "small GPU (T4/L4 class): less bandwidth, a smaller L2 and fewer SMs, so fixed launch "
                 "costs weigh more at the default size",
    "gpu": "expected to hold on this GPU: rerun the lab; if it fails again, the lab's code or the "
           "lesson is wrong (report it)",
    "hopper": "expected to hold on Hopper: rerun the lab; if it fails again, the lab's code or the "
              "lesson is wrong (report it)",
}


@dataclass(frozen=True)
class Verdict:
    mark: str            # "✅", "❌" or "—"
    shown: str = ""      # the numbers: "2.31×", "91% of copy"
    reason: str = ""     # why it is "—", or the likely reason it failed on this class of device

    def __str__(self):
        return f"{self.mark} {self.shown}".strip()


def device_class(manifest: dict) -> str:
    """'cpu', 'small_gpu' (T4, L4, consumer cards), 'gpu' (A100 class) or 'hopper' (sm_90 and newer)."""
    if manifest.get("tier") != "gpu":
        return "cpu"
    cap = _capability(manifest.get("capability"))
    if cap >= 90:
        return "hopper"
    if cap < 80 or (manifest.get("memory_gb") or 0) < 40:
        return "small_gpu"
    return "gpu"


def _capability(sm) -> int:
    m = re.fullmatch(r"sm_(\d+)", str(sm or ""))
    return int(m.group(1)) if m else 0


def _check_tier(tier: str) -> None:
    if tier not in ("any", "cpu", "gpu") and not re.fullmatch(r"sm_\d{2,3}", str(tier)):
        raise ValueError(f"tier {tier!r} is not one of {TIERS_HELP}")


@dataclass(frozen=True)
class Claim:
    """Common fields: where it holds (tier), why it may fail per device class, and optional words."""
    lab: str
    tier: str = field(default="any", kw_only=True)
    why_not: dict = field(default_factory=dict, kw_only=True)   # device class -> likely reason ("gpu": Hopper too)
    text: str = field(default="", kw_only=True)                 # the claim in words (default: generated)

    def __post_init__(self):
        if not isinstance(self.lab, str) or not re.fullmatch(r"ch\d\d\.\w+", self.lab):
            raise ValueError(f"a claim names its lab or experiment like 'ch09.l2norm', got {self.lab!r}")
        _check_tier(self.tier)
        bad = set(self.why_not) - set(DEVICE_CLASSES)
        if bad:
            raise ValueError(f"why_not keys {sorted(bad)} are not device classes {DEVICE_CLASSES}")

    @property
    def chapter(self) -> str:
        return self.lab.split(".")[0]

    @property
    def words(self) -> str:
        return self.text or self._words()

    def _words(self) -> str:
        raise NotImplementedError

    def applies(self, manifest: dict) -> bool:
        """Whether this claim is made for that device (its tier or capability)."""
        if self.tier == "any":
            return True
        if self.tier in ("cpu", "gpu"):
            return manifest.get("tier") == self.tier
        return manifest.get("tier") == "gpu" and _capability(manifest.get("capability")) >= _capability(self.tier)

    def evaluate(self, data, manifest: dict) -> Verdict:
        """✅/❌/— on records of one run (lab claims) or a dict of experiment values (Holds)."""
        got = self._measure(data)
        if got is None:
            return Verdict("—", "", "not measured here")
        value, shown = got
        if not self.applies(manifest):
            return Verdict("—", shown, f"claimed for {self.tier} only")
        if self._holds(value):
            return Verdict("✅", shown)
        cls = device_class(manifest)
        why = self.why_not.get(cls) or self.why_not.get("gpu" if cls == "hopper" else cls) or DEFAULT_WHY[cls]
        return Verdict("❌", shown, why)

    def _measure(self, data) -> "tuple[float, str] | None":
        raise NotImplementedError

    def _holds(self, value) -> bool:
        raise NotImplementedError


def _groups(records, lab: str, dtype: str | None) -> list[dict]:
    """Timed, correct records of a lab grouped by (size, dtype), largest size first: [{variant: Record}]."""
    groups: dict = {}
    for r in records:
        if r.lab == lab and (dtype is None or r.dtype == dtype):
            groups.setdefault((json.dumps(r.size), r.dtype), {})[r.variant] = r
    return [g for _, g in sorted(groups.items(), key=lambda kv: -_volume(json.loads(kv[0][0])))]


def _volume(size) -> float:
    return math.prod(size) if isinstance(size, (list, tuple)) else float(size or 0)


def _pick(records, lab, variants, dtype, size) -> "dict | None":
    """The run's records of these variants at one size (the given one, else the largest measured)."""
    for g in _groups(records, lab, dtype):
        if size is not None and json.dumps(next(iter(g.values())).size) != json.dumps(
                list(size) if isinstance(size, tuple) else size):
            continue
        if all(v in g for v in variants):
            return g
    return None


def _timed(rec: Record) -> bool:
    return bool(rec.correct and rec.median_s)


@dataclass(frozen=True)
class _Pair(Claim):
    """A claim on two variants' median times: ``than`` / ``variant`` (how many times faster), at one dtype
    and size if given (default: the largest size both were measured at)."""
    variant: str = ""
    than: str = ""
    dtype: str | None = field(default=None, kw_only=True)
    size: Any = field(default=None, kw_only=True)

    def __post_init__(self):
        super().__post_init__()
        if not self.variant or not self.than:
            raise ValueError(f"{type(self).__name__} needs variant and than= (two variant names of {self.lab})")

    def _measure(self, data):
        g = _pick(data, self.lab, (self.variant, self.than), self.dtype, self.size)
        if g is None or not (_timed(g[self.variant]) and _timed(g[self.than])):
            return None
        r = g[self.than].median_s / g[self.variant].median_s
        return r, f"{r:.2f}×"


@dataclass(frozen=True)
class Faster(_Pair):
    """``variant`` runs at least ``by``× faster than ``than`` (median time of ``than`` / ``variant``)."""
    by: float = 1.0

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.by, (int, float)) or self.by <= 0:
            raise ValueError(f"by={self.by!r} must be a positive ratio, e.g. by=2.0 for 'twice as fast'")

    def _words(self):
        return f"{self.lab}: {self.variant} is faster than {self.than}" + (f" by ≥ {self.by:g}×" if self.by != 1 else "")

    def _holds(self, value):
        return value >= self.by


@dataclass(frozen=True)
class About(_Pair):
    """``than`` / ``variant`` median time is ``ratio`` within ±``within`` (relative): "about 3× faster"."""
    ratio: float = 1.0
    within: float = 0.25

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.ratio, (int, float)) or self.ratio <= 0 or not 0 < self.within < 10:
            raise ValueError(f"About needs ratio > 0 and 0 < within < 10, got ratio={self.ratio!r}, "
                             f"within={self.within!r}")

    def _words(self):
        return f"{self.lab}: {self.variant} is about {self.ratio:g}× faster than {self.than} (±{self.within:.0%})"

    def _holds(self, value):
        return abs(value / self.ratio - 1) <= self.within


@dataclass(frozen=True)
class AtLeast(Claim):
    """A record field of ``variant`` (``ceiling_fraction``, ``gbps``, ...) is at least ``value``."""
    variant: str = ""
    metric: str = "ceiling_fraction"
    value: float = 0.0
    dtype: str | None = None
    size: Any = None
    _op = "≥"

    def __post_init__(self):
        super().__post_init__()
        if self.metric not in METRICS:
            raise ValueError(f"metric {self.metric!r} is not a record field; use one of {METRICS}")
        if not self.variant or not isinstance(self.value, (int, float)):
            raise ValueError(f"{type(self).__name__} needs a variant and a numeric value, got "
                             f"variant={self.variant!r}, value={self.value!r}")

    def _fmt(self, v):
        return f"{v:.0%}" if self.metric == "ceiling_fraction" else f"{v:,.3g}"

    def _words(self):
        what = "of its ceiling" if self.metric == "ceiling_fraction" else self.metric
        return f"{self.lab}: {self.variant} {self._op} {self._fmt(self.value)} {what}"

    def _measure(self, data):
        g = _pick(data, self.lab, (self.variant,), self.dtype, self.size)
        v = getattr(g[self.variant], self.metric) if g and g[self.variant].correct else None
        return None if v is None else (v, self._fmt(v))

    def _holds(self, value):
        return value >= self.value


@dataclass(frozen=True)
class AtMost(AtLeast):
    """A record field of ``variant`` is at most ``value``."""
    _op = "≤"

    def _holds(self, value):
        return value <= self.value


@dataclass(frozen=True)
class Scales(Claim):
    """Median time of ``variant`` grows with size as ``law`` ('constant', 'linear', 'quadratic' or a
    log-log slope), ± ``within`` in slope, across the sizes measured (``axis`` picks one size entry)."""
    variant: str = ""
    law: "str | float" = "linear"
    axis: int | None = None
    within: float = 0.25
    dtype: str | None = None

    def __post_init__(self):
        super().__post_init__()
        if not (isinstance(self.law, (int, float)) or self.law in LAWS):
            raise ValueError(f"law {self.law!r} must be one of {sorted(LAWS)} or a log-log slope (a number)")

    @property
    def slope(self) -> float:
        return LAWS.get(self.law, self.law) if isinstance(self.law, str) else float(self.law)

    def _words(self):
        return f"{self.lab}: {self.variant} time grows {self.law} with size"

    def _measure(self, data):
        pts = []
        for g in _groups(data, self.lab, self.dtype):
            r = g.get(self.variant)
            if r and _timed(r):
                x = r.size[self.axis] if self.axis is not None else _volume(r.size)
                pts.append((float(x), r.median_s))
        if len({x for x, _ in pts}) < 2:
            return None
        s = fit_slope(pts)
        return s, f"slope {s:.2f}"

    def _holds(self, value):
        return abs(value - self.slope) <= self.within


def fit_slope(points) -> float:
    """Least-squares slope of log(y) on log(x): 1 for linear growth, 0 for constant."""
    return statistics.linear_regression([math.log(x) for x, _ in points], [math.log(y) for _, y in points]).slope


@dataclass(frozen=True)
class Holds(Claim):
    """A claim over an experiment's returned value (simulators, sweeps): ``measure(value)`` -> number
    (or bool), compared with at_least / at_most / about±within. ``model``: a zero-argument function that
    computes the value anywhere (deterministic models only), used when no value is given."""
    says: str = ""
    measure: Callable | None = None
    at_least: float | None = None
    at_most: float | None = None
    about: float | None = None
    within: float = 0.25
    unit: str = "×"
    model: Callable | None = None
    from_manifest: str | None = None     # e.g. "ceilings": on a results file, the value is manifest["ceilings"]

    def __post_init__(self):
        super().__post_init__()
        if not self.says or not callable(self.measure):
            raise ValueError("Holds needs says='the claim in words' and measure=callable(value) -> number or bool")

    def _words(self):
        return f"{self.lab}: {self.says}"

    def value_of(self, values: dict):
        if self.lab in values:
            return values[self.lab]
        if self.from_manifest and self.from_manifest in values.get("manifest", {}):
            return values["manifest"][self.from_manifest]
        return self.model() if self.model else None

    def _measure(self, data):
        value = self.value_of(data if isinstance(data, dict) else {})
        if value is None:
            return None
        if self.from_manifest and dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = dataclasses.asdict(value)            # a Ceilings measured here reads like the manifest's dict
        v = self.measure(value)
        if v is None:
            return None                                  # the value lacks what this claim reads
        if isinstance(v, bool):
            return v, "yes" if v else "no"
        return v, (f"{v:.0%}" if self.unit == "%" else f"{v:,.3g}{self.unit}")

    def _holds(self, v):
        if isinstance(v, bool):
            return v
        return ((self.at_least is None or v >= self.at_least) and (self.at_most is None or v <= self.at_most)
                and (self.about is None or abs(v / self.about - 1) <= self.within))
