"""Page-size sweep: the same KV bytes copied page by page, for pages of 8 to 512 tokens, and the fitted α.

Each copy costs a fixed α (issue + setup) plus its bytes over the link's bandwidth β, so moving one
request in ``n`` pages takes ``t(n) = n·α + bytes/β``. β is this device's measured ceiling
(``pl.ceilings()``: the device copy, or the pinned device-to-host link), so the byte time is known;
the sweep times ``t`` for several page sizes and fits the one unknown, α: the per-transfer overhead
that collation removes.

    >>> round(fit_alpha([100, 10], [1.1e-3, 2e-4], 1e-4) * 1e6, 1)   # 100 copies 1.1 ms, 10 copies 0.2 ms
    10.0
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from labs.ch18_kv_tuning import paging

PAGE_SIZES = (8, 16, 32, 64, 128, 256, 512)
DIRECTIONS = {"d2d": "device → device", "d2h": "device → pinned host"}


@dataclass(frozen=True)
class Fit:
    """t(n) = n·alpha_s + byte_s: the fitted per-copy overhead and the byte time at the measured bandwidth."""
    alpha_s: float
    byte_s: float
    gbps: float              # the measured ceiling the byte time comes from
    ceiling: str             # its name

    def predict(self, copies: int) -> float:
        return copies * self.alpha_s + self.byte_s


def fit_alpha(copies: list[int], seconds: list[float], byte_s: float) -> float:
    """Least-squares α in seconds = copies·α + byte_s, each point weighted by 1/seconds (relative error,
    so the fast large-page points count as much as the slow small-page ones)."""
    if not copies or len(copies) != len(seconds):
        raise ValueError(f"need one time per copy count, got {len(copies)} counts and {len(seconds)} times")
    num = sum(n * (t - byte_s) / t**2 for n, t in zip(copies, seconds))
    den = sum(n * n / t**2 for n, t in zip(copies, seconds))
    return max(num / den, 0.0)


@dataclass
class Sweep:
    """Measured times per page size for one direction, and the α–β fit through them."""
    direction: str
    device: str
    n_tokens: int
    width: int
    nbytes: int
    rows: list = field(default_factory=list)       # (page_tokens, copies, Measurement)
    fit: Fit | None = None

    def table(self):
        from perflab.measure import format_time
        from perflab.table import Table
        rows = [[str(p), f"{n:,}", f"{self.nbytes / n / 1024:,.0f} KiB", format_time(m.median),
                 f"{m.gbps:,.1f}", format_time(self.fit.predict(n)) if self.fit else "—"]
                for p, n, m in self.rows]
        notes = []
        if self.fit:
            notes.append(f"model t = copies·α + bytes/β with β = the measured {self.fit.ceiling} ceiling "
                         f"({self.fit.gbps:,.1f} GB/s, {self.fit.byte_s * 1e6:,.0f} µs of byte time): "
                         f"fitted α = {self.fit.alpha_s * 1e6:.1f} µs per copy")
        return Table(["page tokens", "copies", "bytes per copy", "median", "GB/s", "α–β model"], rows,
                     title=f"{DIRECTIONS[self.direction]}: {self.n_tokens:,} tokens × {self.width} values "
                           f"({self.nbytes / 2**20:.1f} MiB) · measured on {self.device}", notes=notes)

    def __repr__(self):
        return str(self.table())


def run(n_tokens: int, width: int, direction: str = "d2d", page_sizes=PAGE_SIZES, dtype: str = "bfloat16",
        rep_ms: float = 40, seed: int = 0) -> Sweep | None:
    """Time copy_pages for each page size (same request, same bytes); None where the direction cannot run."""
    import perflab as pl
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {sorted(DIRECTIONS)}, got {direction!r}")
    e = pl.env()
    if direction == "d2h" and e.tier != "gpu":
        return None
    c = pl.ceilings()
    device = pl.device()
    g = torch.Generator(device=device).manual_seed(seed)
    dt = getattr(torch, dtype)
    kv = torch.randn(n_tokens, width, generator=g, device=device, dtype=dt)
    out = paging.host_buffer(kv.shape, dt) if direction == "d2h" else torch.empty_like(kv)
    s = Sweep(direction, e.device, n_tokens, width, kv.numel() * kv.element_size())
    for page in page_sizes:
        pool, pages = paging.paged_pool(kv, page, g, spare=0.25)
        pages = pages.cpu()                      # the page table on the host: no device sync per call
        fn = (lambda: paging.wait_for(paging.copy_pages(pool, pages, out), pool))  # noqa: E731
        m = pl.bench(fn, bytes=s.nbytes, rep_ms=rep_ms, warmup_ms=10, label=f"{direction} {page}-token pages")
        if not torch.equal(out.to(kv.device), kv):
            raise RuntimeError(f"the {page}-token copy did not reproduce the request's KV")
        s.rows.append((page, paging.n_pages(n_tokens, page), m))
        del pool, pages
    if direction == "d2h":
        name, gbps, moved = "pinned device→host", c.d2h_pinned_gbps, s.nbytes
    else:
        name, gbps, moved = "device copy", c.copy_gbps, 2 * s.nbytes     # the copy ceiling counts read + write
    byte_s = moved / (gbps * 1e9)
    alpha = fit_alpha([n for _, n, _ in s.rows], [m.median for _, _, m in s.rows], byte_s)
    s.fit = Fit(alpha, byte_s, gbps, name)
    return s


def figure(*sweeps: Sweep):
    """Milliseconds per transfer vs page size (log-log), measured points and the α–β line, per direction."""
    import plotly.graph_objects as go
    fig = go.Figure()
    for s in sweeps:
        if s is None:
            continue
        pages = [p for p, _, _ in s.rows]
        fig.add_trace(go.Scatter(x=pages, y=[m.median * 1e3 for _, _, m in s.rows], mode="markers+lines",
                                 name=f"{DIRECTIONS[s.direction]} (measured)"))
        if s.fit:
            fig.add_trace(go.Scatter(x=pages, y=[s.fit.predict(n) * 1e3 for _, n, _ in s.rows], mode="lines",
                                     line=dict(dash="dot"), name=f"{DIRECTIONS[s.direction]} (model, fitted α)"))
    dev = next((s.device for s in sweeps if s), "")
    fig.update_layout(title=f"Same KV bytes, different page sizes · {dev}", xaxis_type="log", yaxis_type="log",
                      xaxis_title="tokens per page (one copy each)", yaxis_title="ms per request",
                      height=400, margin=dict(l=60, r=20, t=50, b=50))
    return fig
