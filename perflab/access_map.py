"""See a Triton kernel's memory accesses: each program's loads and stores, and 32-byte sectors per warp request.

    from perflab import access_map
    m = access_map.trace(copy_kernel, (4,), x, y, n, BLOCK=64)     # a small launch, interpreted on the CPU
    m.sectors_per_request()          # {('load', 'x_ptr'): 4.0, ('store', 'y_ptr'): 4.0}
    m.show()                         # address map: program × address, loads and stores

The kernel runs in Triton's interpreter (on any machine, GPU or not) while every load and store is
recorded with the program that issued it. A warp-sized request is 32 neighbouring lanes of one
tl.load/tl.store (the kernel's flattened block, in order); the memory system serves it in 32-byte
sectors, so a coalesced float32 request costs 4 sectors and a request whose lanes sit 128 bytes apart
costs 32. Lanes masked off issue nothing; a request with no active lane is not issued at all.
"""
from __future__ import annotations

import contextlib
import inspect
import sys
import threading
from dataclasses import dataclass, field

import numpy as np

SECTOR = 32          # bytes per DRAM/L2 sector
WARP = 32            # lanes per request
_LOCK = threading.Lock()


@dataclass
class Access:
    """One tl.load or tl.store of one program: the byte addresses of its active lanes, in lane order."""
    program: tuple
    op: str                              # "load" or "store"
    buffer: str                          # the kernel argument the addresses fall in ('?' if none)
    offsets: np.ndarray                  # byte offsets into that buffer, -1 where the lane is masked off
    addresses: np.ndarray                # absolute byte addresses, same shape
    elem_bytes: int

    def requests(self) -> list[int]:
        """Sectors touched by each issued warp-sized request (32 lanes), in order."""
        active = self.offsets >= 0
        out = []
        for start in range(0, len(self.offsets), WARP):
            lanes = active[start:start + WARP]
            if not lanes.any():
                continue
            a = self.addresses[start:start + WARP][lanes]
            first, last = a // SECTOR, (a + self.elem_bytes - 1) // SECTOR
            sectors = set(first.tolist()) | set(last.tolist())
            out.append(len(sectors))
        return out


@dataclass
class AccessMap:
    """Every recorded access of one launch, with the kernel's buffers (name -> (base address, bytes))."""
    kernel: str
    grid: tuple
    buffers: dict
    accesses: list = field(default_factory=list)

    def sectors_per_request(self) -> dict:
        """{(op, buffer): mean 32-byte sectors per issued warp-sized request}."""
        return {k: v["sectors"] / v["requests"] for k, v in self.counts().items() if v["requests"]}

    def counts(self) -> dict:
        """{(op, buffer): {'requests', 'sectors', 'lanes', 'useful_bytes'}} summed over the launch."""
        out: dict = {}
        for a in self.accesses:
            c = out.setdefault((a.op, a.buffer), {"requests": 0, "sectors": 0, "lanes": 0, "useful_bytes": 0})
            reqs = a.requests()
            active = int((a.offsets >= 0).sum())
            c["requests"] += len(reqs)
            c["sectors"] += sum(reqs)
            c["lanes"] += active
            c["useful_bytes"] += active * a.elem_bytes
        return out

    def table(self):
        """Requests, sectors, sectors per request and the fraction of fetched bytes used, per op and buffer."""
        from perflab.table import Table
        rows = []
        for (op, buf), c in self.counts().items():
            fetched = c["sectors"] * SECTOR
            rows.append([f"{op} {buf}", c["lanes"], c["requests"], c["sectors"],
                         f"{c['sectors'] / c['requests']:.1f}" if c["requests"] else "—",
                         f"{c['useful_bytes'] / fetched:.0%}" if fetched else "—"])
        return Table(["access", "lanes", "requests", "sectors", "sectors/request", "bytes used"], rows,
                     f"{self.kernel} · grid {self.grid} · 32-lane requests, 32-byte sectors",
                     ["a coalesced 4-byte request needs 4 sectors (128 B); 32 means every lane paid for its own sector"])

    def grid_points(self) -> list[tuple]:
        """(program index, element index, op, buffer) for every active lane: the address map's dots."""
        programs = sorted({a.program for a in self.accesses})
        index = {p: i for i, p in enumerate(programs)}
        pts = []
        for a in self.accesses:
            elems = a.offsets[a.offsets >= 0] // a.elem_bytes
            pts += [(index[a.program], int(e), a.op, a.buffer) for e in elems]
        return pts

    def text(self, width: int = 64, table: bool = True) -> str:
        """The address map as characters: a row per program and buffer, L load, S store, B both, . untouched."""
        lines = [str(self.table()), ""] if table else []
        by_buffer: dict = {}
        for prog, elem, op, buf in self.grid_points():
            by_buffer.setdefault(buf, {}).setdefault(prog, {}).setdefault(elem, set()).add(op)
        for buf, progs in by_buffer.items():
            n = max(e for p in progs.values() for e in p) + 1
            per = max(1, -(-n // width))
            lines.append(f"{buf}: elements 0..{n - 1}, {per} per column")
            for prog in sorted(progs):
                cells = ["."] * (-(-n // per))
                for e, ops in progs[prog].items():
                    mark = "B" if len(ops) == 2 else ("L" if "load" in ops else "S")
                    c = cells[e // per]
                    cells[e // per] = mark if c in (".", mark) else "B"
                lines.append(f"  program {prog:>3} {''.join(cells)}")
        return "\n".join(lines)

    def figure(self):
        """A plotly address map: x the element index in each buffer, y the program; loads and stores."""
        return figure({self.kernel: self})

    def show(self):
        from perflab.display import show
        show(self.table())
        show(self.figure(), fallback=self.text())

    def __repr__(self):
        return self.text()


def figure(maps: dict):
    """Address maps side by side: a row of panels per traced launch (name -> AccessMap), a column per buffer;
    each panel's title gives its sectors per request."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots
    names = list(maps)
    buffers = list(dict.fromkeys(b for m in maps.values() for b in _touched(m)))
    titles = []
    for n in names:
        spr = maps[n].sectors_per_request()
        for b in buffers:
            per = ", ".join(f"{op} {spr[(op, b)]:.1f}" for op in ("load", "store") if (op, b) in spr)
            titles.append(f"{n} · {b}" + (f" · sectors/request: {per}" if per else ""))
    fig = make_subplots(rows=len(names), cols=len(buffers), subplot_titles=titles,
                        vertical_spacing=min(0.16, 0.5 / len(names)), horizontal_spacing=0.06)
    style = {"load": dict(color="#1f77b4", symbol="square"), "store": dict(color="#ff7f0e", symbol="x")}
    shown = set()
    for i, n in enumerate(names, 1):
        pts = maps[n].grid_points()
        for j, b in enumerate(buffers, 1):
            for op in ("load", "store"):
                sel = [(p, e) for p, e, o, bb in pts if o == op and bb == b]
                if not sel:
                    continue
                fig.add_trace(go.Scatter(x=[e for _, e in sel], y=[p for p, _ in sel], mode="markers", name=op,
                                         legendgroup=op, showlegend=op not in shown,
                                         marker=dict(size=5, **style[op])), row=i, col=j)
                shown.add(op)
            fig.update_xaxes(title_text="element index" if i == len(names) else None, row=i, col=j)
            fig.update_yaxes(title_text="program", row=i, col=j, autorange="reversed")
    fig.update_layout(title="Which addresses each program touches (interpreted Triton)",
                      height=280 * len(names) + 100, margin=dict(l=60, r=20, t=90, b=50))
    return fig


def summary(maps: dict):
    """One Table for several traced launches (name -> AccessMap): a row per launch, op and buffer."""
    from perflab.table import Table
    rows = []
    for name, m in maps.items():
        for r in m.table().rows:
            rows.append([name] + r)
    return Table(["launch", "access", "lanes", "requests", "sectors", "sectors/request", "bytes used"], rows,
                 "Sectors per warp request (32 lanes, 32-byte sectors), interpreted Triton",
                 ["4 sectors per request is a coalesced float32 request; 32 means every lane fetched its own sector",
                  "'bytes used' is the share of the fetched sectors' bytes that active lanes asked for"])


def show_all(maps: dict) -> None:
    """The summary table, then the address maps (plotly; text where there is no notebook)."""
    from perflab.display import show
    show(summary(maps))
    show(figure(maps), fallback="\n\n".join(f"{n}\n{m.text(table=False)}" for n, m in maps.items()))


def _touched(m: AccessMap) -> list[str]:
    return list(dict.fromkeys(a.buffer for a in m.accesses))


def trace(kernel, grid, *args, **kwargs) -> AccessMap:
    """Run ``kernel[grid](*args, **kwargs)`` in Triton's interpreter on CPU copies of the tensors and
    record every load and store. Keep the launch small (a few programs, small BLOCK): the map is for
    reading, not timing."""
    import torch
    from triton.runtime import interpreter as ti
    fn = getattr(kernel, "fn", None)
    if fn is None or not callable(fn):
        raise TypeError(f"trace needs a @triton.jit kernel, got {kernel!r}")
    if isinstance(grid, int):
        grid = (grid,)
    if not isinstance(grid, tuple) or not all(isinstance(g, int) and g > 0 for g in grid):
        raise ValueError(f"grid is a tuple of positive ints such as (4,), got {grid!r}")
    if int(np.prod(grid)) > 4096:
        raise ValueError(f"grid {grid} has {int(np.prod(grid))} programs; trace a small launch (≤ 4096 programs)")
    args = [a.cpu() if isinstance(a, torch.Tensor) else a for a in args]
    kwargs = {k: (v.cpu() if isinstance(v, torch.Tensor) else v) for k, v in kwargs.items()}
    names = inspect.getfullargspec(fn).args
    result = AccessMap(getattr(fn, "__name__", "kernel"), grid, {})
    with _LOCK, _recording(result, names), _interpreted_helpers(fn):
        interpreted = kernel if isinstance(kernel, ti.InterpretedFunction) else ti.InterpretedFunction(fn)
        interpreted[grid](*args, **kwargs)
    return result


@contextlib.contextmanager
def _interpreted_helpers(fn):
    """On a GPU every @triton.jit function was compiled at import: the kernel's own helpers and triton.language's
    (``tl.sum``, ``tl.max``, ``x.sum()``...), and a compiled one refuses a call from Python. For the trace each
    is swapped for its interpreted twin in the namespaces the interpreter looks them up in (the kernel's module,
    every loaded ``triton.language`` module, the ``tl.tensor`` class), then put back."""
    import triton.language as tl
    from triton.runtime import interpreter as ti
    from triton.runtime.jit import JITFunction
    with contextlib.suppress(ImportError):   # imported lazily by the interpreter: import it while tl is compiled
        import triton.experimental.gluon  # noqa: F401
    spaces = [fn.__globals__] + [vars(m) for name, m in list(sys.modules.items())
                                 if m is not None and name.split(".")[:2] == ["triton", "language"]]
    swapped = []
    for space in spaces:
        compiled = {k: v for k, v in space.items() if isinstance(v, JITFunction) and v.fn is not fn}
        space.update({k: ti.InterpretedFunction(v.fn) for k, v in compiled.items()})
        swapped.append((space, compiled))
    members = {k: v for k, v in vars(tl.tensor).items() if isinstance(v, JITFunction)}
    for k, v in members.items():
        setattr(tl.tensor, k, ti.InterpretedFunction(v.fn))
    try:
        yield
    finally:
        for space, compiled in swapped:
            space.update(compiled)
        for k, v in members.items():
            setattr(tl.tensor, k, v)


@contextlib.contextmanager
def _recording(result: AccessMap, names: list[str]):
    """Patch the interpreter's masked load/store (every load and store ends there) and its argument copy."""
    from triton.runtime import interpreter as ti
    builder_cls, executor = ti.InterpreterBuilder, ti.GridExecutor
    orig_load, orig_store = builder_cls.create_masked_load, builder_cls.create_masked_store
    orig_init = executor._init_args_hst

    def init_args(self, args_dev, kwargs):
        args_hst, kwargs_hst = orig_init(self, args_dev, kwargs)
        named = list(zip(names, args_hst)) + list(kwargs_hst.items())
        for name, a in named:
            if hasattr(a, "data_ptr"):
                result.buffers[name] = (a.data_ptr(), a.numel() * a.element_size())
        return args_hst, kwargs_hst

    def record(builder, op, ptrs, mask):
        addr = np.asarray(ptrs.data, dtype=np.uint64).reshape(-1).astype(np.int64)
        on = np.broadcast_to(np.asarray(mask.data, dtype=bool), np.shape(ptrs.data)).reshape(-1)
        elem = max(1, ptrs.get_element_ty().primitive_bitwidth // 8)
        buf, base = "?", 0
        hits = addr[on]
        for name, (start, nbytes) in result.buffers.items():
            if hits.size and start <= hits.min() and hits.max() < start + nbytes:
                buf, base = name, start
                break
        offsets = np.where(on, addr - base, -1)
        result.accesses.append(Access(tuple(builder.grid_idx), op, buf, offsets, np.where(on, addr, -1), elem))

    def load(self, ptrs, mask, other, *rest):
        record(self, "load", ptrs, mask)
        return orig_load(self, ptrs, mask, other, *rest)

    def store(self, ptrs, value, mask, *rest):
        record(self, "store", ptrs, mask)
        return orig_store(self, ptrs, value, mask, *rest)

    builder_cls.create_masked_load, builder_cls.create_masked_store = load, store
    executor._init_args_hst = init_args
    try:
        yield
    finally:
        builder_cls.create_masked_load, builder_cls.create_masked_store = orig_load, orig_store
        executor._init_args_hst = orig_init
