"""The speed of light of this device, measured once and cached: copy bandwidth, host links, matmul."""
from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import statistics
import time
from dataclasses import asdict, dataclass, field

from perflab.timer import bench
from perflab.machine import env
from perflab.paths import cache_dir, data_dir

PRECISIONS = ("float32", "tf32", "bfloat16", "float16", "float8")
# measurement sizes per tier: copy elements (float32), host-link bytes, matmul n
_SIZES = {"gpu": dict(copy=1 << 28, link=1 << 28, matmul=8192),
          "cpu": dict(copy=1 << 20, link=0, matmul=1024)}   # cpu: 4 MiB buffers, the labs' cache-sized scale
COPY_REPEATS = 5          # the copy ceiling is measured this many times; the median is kept
COPY_SPREAD_TOL = 0.25    # (max - min) / median of those samples above which the ceiling is too noisy to cache
BUSY_CORES = 0.5          # cores other processes used during a cpu-tier measurement that make it "busy"
LOCK_TIMEOUT_S = 600      # a refresh waits this long for another process's refresh (then reads its cache)
PROVISIONAL_S = 3600      # how long other processes reuse a noisy measurement (flagged) instead of re-measuring
_SESSION: dict = {}       # device_key -> ceilings measured in this process but not cached (noisy or busy)


@dataclass
class Ceilings:
    """Measured ceilings of one device, with the datasheet values beside them (GB/s, TFLOP/s)."""
    device: str
    device_key: str
    tier: str
    copy_gbps: float                         # device memory copy, bytes read + written
    h2d_pageable_gbps: float | None = None
    h2d_pinned_gbps: float | None = None
    d2h_pageable_gbps: float | None = None
    d2h_pinned_gbps: float | None = None
    matmul_tflops: dict = field(default_factory=dict)    # precision -> measured TFLOP/s
    datasheet: dict = field(default_factory=dict)
    measured_at: str = ""
    versions: dict = field(default_factory=dict)
    threads: int | None = None                           # torch CPU threads during the measurement
    copy_samples_gbps: list = field(default_factory=list)   # every copy measurement; copy_gbps is their median
    noise: str = ""                                      # why it was not cached ("" when stable and quiet)
    # a noisy measurement is kept apart (ceilings-<device>.provisional.json) and reused, flagged, for an hour

    def peak_tflops(self, precision: str) -> float | None:
        """Measured matmul ceiling for a precision name ('float32', 'tf32', 'bfloat16', ...)."""
        precision = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16",
                     "float8_e4m3fn": "float8", "fp8": "float8"}.get(precision, precision)
        return self.matmul_tflops.get(precision)

    def ridge_point(self, precision: str = "bfloat16") -> float | None:
        """FLOP per byte at which a kernel stops being memory-bound on this device."""
        peak = self.peak_tflops(precision)
        return peak * 1e12 / (self.copy_gbps * 1e9) if peak else None

    def table(self) -> str:
        """Plain-text table: measured vs datasheet."""
        ds = self.datasheet or {}
        rows = [("copy (read+write)", f"{self.copy_gbps:,.0f} GB/s", _fmt(ds.get("memory_gbps"), "GB/s"))]
        for name in ("h2d_pageable", "h2d_pinned", "d2h_pageable", "d2h_pinned"):
            val = getattr(self, f"{name}_gbps")
            if val is not None:
                rows.append((name.replace("_", " "), f"{val:,.1f} GB/s", _fmt(ds.get("pcie_gbps"), "GB/s")))
        for prec, val in self.matmul_tflops.items():
            rows.append((f"matmul {prec}", f"{val:,.3g} TFLOP/s",
                         _fmt(ds.get("matmul_tflops", {}).get(prec), "TFLOP/s")))
        w = max(len(r[0]) for r in rows)
        head = f"Ceilings of {self.device} (measured {self.measured_at[:10]})"
        lines = [head, f"  {'':<{w}}  {'measured':>18}  {'datasheet':>16}"]
        lines += [f"  {a:<{w}}  {b:>18}  {c:>16}" for a, b, c in rows]
        if self.tier == "cpu":
            lines.append(f"  (cpu tier: 4 MiB copy buffers, cache-resident like the labs' cpu sizes; "
                         f"{self.threads} threads)")
        if self.noise:
            lines.append(f"  ⚠ not cached (a new session measures again): {self.noise}")
        return "\n".join(lines)

    def __repr__(self):
        return self.table()

    def versus(self, ref: "Ceilings | None"):
        """Table of these ceilings beside a reference run's and its datasheet."""
        return compare(self, ref)

    def figure(self, ref: "Ceilings | None" = None):
        """Grouped bars of matmul TFLOP/s per precision, here and on the reference."""
        import plotly.graph_objects as go
        fig = go.Figure()
        for c in [self] + ([ref] if ref else []):
            precs = [p for p in PRECISIONS if p in c.matmul_tflops]
            vals = [c.matmul_tflops[p] for p in precs]
            fig.add_trace(go.Bar(name=c.device, x=precs, y=vals, text=[f"{v:,.3g}" for v in vals],
                                 textposition="outside"))
        fig.update_layout(barmode="group", yaxis_type="log", yaxis_title="TFLOP/s (log scale)",
                          title="Dense matmul rate per precision", height=400)
        return fig


def _fmt(v, unit):
    return "—" if v is None else f"{v:,.4g} {unit}"


def datasheet(device_name: str) -> dict:
    """The datasheet entry whose match string occurs in the device name; the cpu entry otherwise."""
    specs = json.loads((data_dir() / "devices.json").read_text())["devices"]
    for key, spec in specs.items():
        if any(m.lower() in device_name.lower() for m in spec["match"]):
            return dict(spec, key=key)
    return dict(specs["cpu"], key="cpu")


def ceilings(refresh: bool = False, quick: bool = False) -> Ceilings:
    """This device's ceilings: read from the cache, or measured now (a few seconds) and cached.

    The copy ceiling is measured ``COPY_REPEATS`` times and the median kept. A measurement whose samples
    spread widely, or (cpu tier) that other processes competed with, is used for this process only and
    not cached, with one line saying so. quick=True measures at a quarter of the sizes (for tests); it is
    never cached. Concurrent refreshes from several processes take turns (a file lock).
    """
    from perflab import results
    e = env()
    path = cache_dir() / f"ceilings-{e.device_key}.json"
    if quick:
        return measure(quick=True)
    provisional = path.with_suffix(".provisional.json")
    if not refresh:
        cached = _cached(path, e) or _SESSION.get(e.device_key) or _cached(provisional, e, PROVISIONAL_S)
        if cached is not None:
            return cached
    with results.lock(path, timeout_s=LOCK_TIMEOUT_S):
        if not refresh:                             # another process may have measured while we waited
            cached = _cached(path, e) or _cached(provisional, e, PROVISIONAL_S)
            if cached is not None:
                return cached
        c = measure()
        if c.noise:
            _SESSION[e.device_key] = c
            results.atomic_write_text(provisional, json.dumps(asdict(c), indent=1))
            print(f"perflab: ceilings of {c.device} not cached ({c.noise}); they stand in, flagged, for "
                  f"{PROVISIONAL_S // 60} minutes, until a quiet measurement (pl.ceilings(refresh=True)) "
                  f"replaces them", flush=True)
        else:
            _SESSION.pop(e.device_key, None)
            results.atomic_write_text(path, json.dumps(asdict(c), indent=1))
            provisional.unlink(missing_ok=True)
    return c


def _threads() -> int:
    import torch
    return torch.get_num_threads()


def _cached(path, e, noisy_for_s: float = 0) -> "Ceilings | None":
    """The cached ceilings when they were measured with this torch (and, on the cpu tier, this many
    threads); None when absent, stale or corrupt. With ``noisy_for_s``, a noisy measurement another
    process made (its ``noise`` says why) no older than that, so that a busy machine does not measure
    again in every process."""
    try:
        if noisy_for_s and time.time() - path.stat().st_mtime > noisy_for_s:
            return None
        data = json.loads(path.read_text())
        if data.get("versions", {}).get("torch") != e.versions["torch"] or (data.get("noise") and not noisy_for_s):
            return None
        if e.tier == "cpu" and data.get("threads") != _threads():
            return None
        return Ceilings(**data)
    except (OSError, ValueError, TypeError):
        return None                                 # absent, stale or corrupt cache: measure again


def stable_value(samples: list[float], tol: float = COPY_SPREAD_TOL) -> tuple[float, str]:
    """(median, "") of repeated measurements, or (median, why) when they spread more than ``tol`` of the
    median, so the value should not be trusted as a ceiling."""
    if not samples:
        raise ValueError("no samples to take a stable value of")
    med = statistics.median(samples)
    spread = (max(samples) - min(samples)) / med if med > 0 else float("inf")
    if spread > tol:
        return med, (f"the {len(samples)} copy measurements spread {spread:.0%} "
                     f"({min(samples):,.3g}–{max(samples):,.3g} GB/s), more than {tol:.0%}")
    return med, ""


class _OtherLoad:
    """Context manager: how many cores other processes kept busy while the block ran (psutil)."""

    def __enter__(self):
        import psutil
        self._me = psutil.Process()
        self._t0, self._sys0, self._own0 = time.monotonic(), _busy(psutil.cpu_times()), _own(self._me)
        return self

    def __exit__(self, *exc):
        import psutil
        wall = max(time.monotonic() - self._t0, 1e-6)
        others = _busy(psutil.cpu_times()) - self._sys0 - (_own(self._me) - self._own0)
        self.cores = max(0.0, others / wall)


def _busy(t) -> float:
    return sum(getattr(t, k, 0.0) for k in ("user", "nice", "system", "irq", "softirq", "steal"))


def _own(proc) -> float:
    t = proc.cpu_times()
    return t.user + t.system


def measure(quick: bool = False) -> Ceilings:
    """Measure every ceiling of this device now."""
    e = env()
    sizes = {k: (v // 4 if k != "matmul" else v // 2) if quick else v for k, v in _SIZES[e.tier].items()}
    dev = "cuda" if e.tier == "gpu" else "cpu"
    with _OtherLoad() as load:
        samples = [_copy_gbps(sizes["copy"], dev) for _ in range(3 if quick else COPY_REPEATS)]
    copy, noise = stable_value(samples)
    threads = _threads()
    if e.tier == "cpu" and load.cores >= BUSY_CORES:
        noise = "; ".join(filter(None, [noise, f"other processes kept {load.cores:.1f} of {os.cpu_count() or 1} "
                                               f"cores busy while it ran ({threads} threads here)"]))
    c = Ceilings(device=e.device, device_key=e.device_key, tier=e.tier,
                 copy_gbps=copy, datasheet=datasheet(e.device),
                 measured_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                 versions=dict(e.versions), threads=threads, copy_samples_gbps=samples, noise=noise)
    if e.tier == "gpu":
        for direction in ("h2d", "d2h"):
            for pinned in (False, True):
                kind = "pinned" if pinned else "pageable"
                setattr(c, f"{direction}_{kind}_gbps", _link_gbps(sizes["link"], direction, pinned))
    for prec in PRECISIONS:
        tf = _matmul_tflops(sizes["matmul"], prec, dev)
        if tf is not None:
            c.matmul_tflops[prec] = tf
    return c


def _copy_gbps(n: int, dev: str) -> float:
    import torch
    x = torch.randn(n, device=dev)
    y = torch.empty_like(x)
    return bench(lambda: y.copy_(x), bytes=2 * x.nbytes, label="copy").gbps


def _link_gbps(nbytes: int, direction: str, pinned: bool) -> float:
    import torch
    host = torch.empty(nbytes // 4, dtype=torch.float32, pin_memory=pinned).uniform_()
    gpu = torch.empty_like(host, device="cuda")
    src, dst = (host, gpu) if direction == "h2d" else (gpu, host)
    return bench(lambda: dst.copy_(src), bytes=host.nbytes, label=f"{direction} pinned={pinned}",
                 warmup_ms=10, rep_ms=60).gbps


def _matmul_tflops(n: int, precision: str, dev: str) -> float | None:
    """Dense n×n×n matmul rate for one precision; None where this device does not offer it."""
    import torch
    e = env()
    if precision == "tf32" and (dev == "cpu" or e.capability < (8, 0)):
        return None
    if precision == "float8" and (dev == "cpu" or e.capability < (8, 9) or not hasattr(torch, "_scaled_mm")):
        return None
    if precision in ("float16",) and dev == "cpu":
        return None
    if precision == "bfloat16" and dev == "cuda" and e.capability < (8, 0):
        return None
    flops = 2 * n ** 3
    if precision == "float8":
        a = torch.randn(n, n, device=dev).to(torch.float8_e4m3fn)
        b = torch.randn(n, n, device=dev).to(torch.float8_e4m3fn).t()   # column-major second operand
        one = torch.tensor(1.0, device=dev)
        fn = lambda: torch._scaled_mm(a, b, scale_a=one, scale_b=one, out_dtype=torch.bfloat16)  # noqa: E731
        return bench(fn, flops=flops, label="matmul float8").tflops
    dtype = {"float32": torch.float32, "tf32": torch.float32, "bfloat16": torch.bfloat16,
             "float16": torch.float16}[precision]
    a = torch.randn(n, n, device=dev, dtype=dtype)
    b = torch.randn(n, n, device=dev, dtype=dtype)
    with tf32(precision == "tf32"):
        return bench(lambda: a @ b, flops=flops, label=f"matmul {precision}").tflops


@contextlib.contextmanager
def tf32(allow: bool):
    """Allow (or forbid) TF32 tensor cores for float32 matmul inside the block, then restore."""
    import torch
    saved = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = allow
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = saved


def reference_ceilings(device_key: str = "nvidia-h200") -> Ceilings | None:
    """The ceilings measured in the committed reference run (data/reference/<device>.json)."""
    from perflab import results
    manifest = results.reference_manifest(device_key)
    c = manifest.get("ceilings")
    if not c:
        return None
    known = {f for f in Ceilings.__dataclass_fields__}
    return Ceilings(**{k: v for k, v in c.items() if k in known},
                    datasheet=datasheet(manifest.get("device", "")))


def compare(mine: Ceilings, ref: Ceilings | None):
    """Table: each ceiling on this device, in the reference run, and on the reference datasheet."""
    from perflab.table import Table
    ds = ref.datasheet if ref else {}
    rows = []
    links = ("h2d_pageable", "h2d_pinned", "d2h_pageable", "d2h_pinned")
    for label, attr, unit, sheet in [("copy (read+write)", "copy_gbps", "GB/s", ds.get("memory_gbps"))] + \
            [(n.replace("_", " "), f"{n}_gbps", "GB/s", ds.get("pcie_gbps")) for n in links]:
        a, b = getattr(mine, attr), getattr(ref, attr) if ref else None
        rows.append([label, _fmt(a, unit), _fmt(b, unit), _fmt(sheet, unit)])
    for prec in PRECISIONS:
        a = mine.matmul_tflops.get(prec)
        b = ref.matmul_tflops.get(prec) if ref else None
        rows.append([f"matmul {prec}", _fmt(a, "TFLOP/s"), _fmt(b, "TFLOP/s"),
                     _fmt(ds.get("matmul_tflops", {}).get(prec), "TFLOP/s")])
    ref_name = ref.device if ref else "H200 (no reference recorded yet)"
    return Table(["ceiling", f"yours: {mine.device}", f"reference: {ref_name}", "reference datasheet"], rows,
                 title="Speed of light: measured here, measured on the reference, and the datasheet",
                 notes=["'—' means not offered by that device or not measurable on this tier"])

