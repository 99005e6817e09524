"""Back-of-envelope models of the chapter: launch overhead, the size of a persistent grid, and how the
order tiles are handed out changes the operand traffic that reaches DRAM (an LRU model of L2).

    >>> print(launch_overhead(tasks=1000, work_ms=100, launch_us=20))      # the book's example (L4288)
    1,000 launches × 20 µs = 20 ms of launch overhead on top of 100 ms of work: 1.20× the time.
    One persistent launch pays 20 µs once: 100 ms.
    >>> persistent_grid(132, 256)                                          # L4275
    '132 SMs × 1 block × 256 threads = 33,792 threads resident at once'
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from perflab.validate import calculator_inputs


@calculator_inputs(positive="tasks work_ms")
def launch_overhead(tasks: int = 1000, work_ms: float = 100.0, launch_us: float = 20.0) -> str:
    """Time of ``tasks`` separate launches (each costing ``launch_us``) vs one persistent launch."""
    over_ms = tasks * launch_us / 1e3
    return (f"{tasks:,} launches × {launch_us:g} µs = {over_ms:,.4g} ms of launch overhead on top of "
            f"{work_ms:g} ms of work: {(work_ms + over_ms) / work_ms:.2f}× the time.\n"
            f"One persistent launch pays {launch_us:g} µs once: {work_ms + launch_us / 1e3:,.4g} ms.")


def persistent_grid(sms: int, threads: int = 256, blocks_per_sm: int = 1) -> str:
    """Threads of a persistent grid sized to the machine."""
    return (f"{sms} SMs × {blocks_per_sm} block{'s' * (blocks_per_sm > 1)} × {threads} threads = "
            f"{sms * blocks_per_sm * threads:,} threads resident at once")


def per_launch_us(run) -> float | None:
    """Launch cost per task measured in a ch10.persistent run: (one launch per task − one launch) / tasks."""
    by = {r.variant: r for r in run.records if r.median_s}
    many, one = by.get("launch_per_task"), by.get("one_launch")
    if many is None or one is None:
        return None
    return (many.median_s - one.median_s) / run.size[0] * 1e6


# ---- tile order and L2 ---------------------------------------------------------------------------

def tile_order(grid_m: int, grid_n: int, group_m: int) -> list[tuple[int, int]]:
    """(tile row, tile column) of each program id, as the kernel's ``tile_of`` hands them out.

    >>> tile_order(3, 4, 1)[:5]             # row by row
    [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0)]
    >>> tile_order(3, 4, 2)[:5]             # bands of 2 rows, walked column by column
    [(0, 0), (1, 0), (0, 1), (1, 1), (0, 2)]
    """
    out = []
    for pid in range(grid_m * grid_n):
        band = pid // (group_m * grid_n)
        first = band * group_m
        rows = min(grid_m - first, group_m)
        within = pid - band * group_m * grid_n
        out.append((first + within % rows, within // rows))
    return out


@dataclass(frozen=True)
class L2Traffic:
    """The L2 model's answer for one tile order: waves run, operand bytes read from DRAM, the minimum
    (A and B read once) and their ratio."""
    group_m: int
    waves: int
    dram_bytes: int
    ideal_bytes: int
    ratio: float


def l2_traffic(size, tile=(128, 256), group_m: int = 1, wave: int = 132, l2_bytes: float = 50e6,
               itemsize: int = 2) -> L2Traffic:
    """Operand bytes read from DRAM when ``wave`` programs run at a time in this tile order.

    Model: a program needs its row panel of A (BLOCK_M × K) and column panel of B (K × BLOCK_N). The
    programs of one wave run together, so a panel they share is read once per wave. Panels stay in an
    L2 of ``l2_bytes`` (least recently used out first) from one wave to the next. Real L2 holds lines,
    not panels, and waves overlap; the model keeps only the reuse that tile order changes.
    """
    m, n, k = size
    bm, bn = tile
    grid_m, grid_n = -(-m // bm), -(-n // bn)
    a_panel, b_panel = bm * k * itemsize, k * bn * itemsize
    order = tile_order(grid_m, grid_n, group_m)
    cache: OrderedDict = OrderedDict()
    held = 0
    dram = 0
    waves = 0
    for start in range(0, len(order), wave):
        waves += 1
        need = {("A", r) for r, _ in order[start:start + wave]} | {("B", c) for _, c in order[start:start + wave]}
        for p in sorted(need):
            if p in cache:
                cache.move_to_end(p)
                continue
            nbytes = a_panel if p[0] == "A" else b_panel
            dram += nbytes
            cache[p] = nbytes
            held += nbytes
        while held > l2_bytes and cache:
            _, nbytes = cache.popitem(last=False)
            held -= nbytes
    ideal = (m * k + k * n) * itemsize
    return L2Traffic(group_m, waves, dram, ideal, dram / ideal)


def tile_order_table(size, tile=(128, 256), wave: int = 132, l2_mb: float = 50.0, gbps: float | None = None,
                     groups=(1, 2, 4, 8, 16), device: str = "") -> "Table":
    """The L2 model for several GROUP_M values as a Table (operand GB from DRAM, × the minimum)."""
    from perflab.table import Table
    rows = []
    for g in groups:
        t = l2_traffic(size, tile, g, wave, l2_mb * 1e6)
        row = [f"GROUP_M={g}" + (" (row by row)" if g == 1 else ""), f"{t.dram_bytes / 1e9:,.2f}", f"{t.ratio:.1f}×"]
        if gbps:
            row.append(f"{t.dram_bytes / (gbps * 1e9) * 1e3:,.3f}")
        rows.append(row)
    cols = ["tile order", "A+B read from DRAM (GB)", "× minimum"] + (["at the copy bandwidth (ms)"] if gbps else [])
    m, n, k = size
    return Table(cols, rows, title=f"L2 model · ({m}, {n}, {k}) in {tile[0]}×{tile[1]} tiles, {wave} programs "
                                   f"at a time, {l2_mb:.0f} MB of L2{' · ' + device if device else ''}",
                 notes=["the minimum reads A and B once; a panel shared inside a wave is read once per wave",
                        "time at the copy bandwidth is the floor this traffic sets, to set against the compute time"])


def order_text(grid_m: int, grid_n: int, group_m: int, wave: int) -> str:
    """The launch order as text: each tile of C shown as the wave that computes it (0-9, then a-z).

    >>> print(order_text(2, 4, 2, 4))
    GROUP_M=2, 4 programs per wave:
      0011
      0011
    """
    marks = "0123456789abcdefghijklmnopqrstuvwxyz"
    z = [[" "] * grid_n for _ in range(grid_m)]
    for pid, (r, c) in enumerate(tile_order(grid_m, grid_n, group_m)):
        z[r][c] = marks[min(pid // wave, len(marks) - 1)]
    return "\n".join([f"GROUP_M={group_m}, {wave} programs per wave:"] + ["  " + "".join(row) for row in z])


def order_figure(grid_m: int, grid_n: int, group_m: int, wave: int):
    """Heat map of the launch order: each tile colored by the wave that computes it (plotly)."""
    import plotly.graph_objects as go
    z = [[0] * grid_n for _ in range(grid_m)]
    for pid, (r, c) in enumerate(tile_order(grid_m, grid_n, group_m)):
        z[r][c] = pid // wave
    fig = go.Figure(go.Heatmap(z=z, colorscale="Viridis", colorbar=dict(title="wave")))
    fig.update_layout(title=f"GROUP_M={group_m}: which wave computes each tile of C ({wave} programs per wave)",
                      xaxis_title="tile column (N)", yaxis_title="tile row (M)", yaxis_autorange="reversed",
                      height=300, margin=dict(l=60, r=20, t=50, b=40))
    return fig
