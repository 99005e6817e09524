"""Memory over one training step, event by event: the CUDA caching allocator's recorded history (a memory
snapshot) on a GPU, torch.profiler's memory timeline on the CPU; with and without activation checkpointing.

On a GPU, ``torch.cuda.memory._record_memory_history`` makes the allocator log every allocation and free
with the Python stack that asked for it, and ``torch.cuda.memory._snapshot()`` hands the log back (the
same file https://pytorch.org/memory_viz draws). The log's length is read between the step's phases, so each
event is charged to forward (activations), backward (gradients, temporaries, recomputation) or optimizer.
(The Python stacks the log can carry do not say this reliably: backward runs on autograd's own thread.) On a CPU there is no allocator log; torch.profiler(profile_memory=True) still sees every tensor
the step creates and frees, and sorts them into categories (activation, gradient, parameter, ...).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import perflab as pl  # noqa: F401  (first: sets TRITON_INTERPRET on machines without a GPU)
import torch

from labs.ch13_profiling_pytorch import model as M

SIZES = {"cpu": (4, 53, 52), "gpu": (24, 509, 512)}    # (batch, seq, d_model), as the checkpointing lab
LAYERS = 4
NEEDS_GPU = ("allocator history needs a CUDA GPU (torch.cuda.memory._record_memory_history); "
             "showing torch.profiler's memory timeline of the same step on the CPU instead")
PHASES = ("forward", "backward", "optimizer")
MAX_ENTRIES = 200_000                                   # allocator events kept (a ring buffer)


@dataclass
class Timeline:
    """Bytes live after each memory event of one training step, split by category.

    ``frame``: a pandas DataFrame, one row per event (its index), one column per category, in bytes.
    ``peak_bytes``: the largest total in the timeline. ``allocator_peak_bytes``: what
    torch.cuda.max_memory_allocated says for the same step (None off the GPU: a cross-check of the log).
    ``source`` says which tool recorded it; ``device`` where it ran.
    """
    checkpoint: int         # checkpoint every n-th block: 0 none, 1 all, 2 every other
    source: str
    device: str
    frame: object
    peak_bytes: int
    allocator_peak_bytes: int | None = None
    notes: list = field(default_factory=list)

    @property
    def events(self) -> int:
        return len(self.frame)

    def peak_by_category(self) -> dict:
        """Each category's bytes at the moment of the total peak."""
        total = self.frame.sum(axis=1)
        return {k: int(v) for k, v in self.frame.loc[total.idxmax()].items() if v}


# ---- the step, in three phases ------------------------------------------------------------------------------

def _forward(model, x, y):
    return M.loss_fn(model, x, y)


def _backward(loss):
    loss.backward()


def _optimizer(opt):
    opt.step()
    opt.zero_grad(set_to_none=True)


def _step(model, opt, x, y, between=lambda phase: None):
    """One training step; ``between(phase)`` is called as each phase ends."""
    loss = _forward(model, x, y)
    between("forward")
    _backward(loss)
    between("backward")
    _optimizer(opt)
    between("optimizer")


class Checkpointed(torch.nn.Module):
    """A block whose activations are recomputed in backward instead of stored (non-reentrant checkpoint)."""

    def __init__(self, block: torch.nn.Module):
        super().__init__()
        self.block = block

    def forward(self, x):
        if not torch.is_grad_enabled():
            return self.block(x)
        return torch.utils.checkpoint.checkpoint(self.block, x, use_reentrant=False)


def checkpoint_every(model: M.TinyLM, every: int) -> M.TinyLM:
    """Wrap blocks 0, every, 2·every, ... in :class:`Checkpointed` (every = 1: all blocks; 0: none)."""
    if isinstance(every, bool) or not isinstance(every, int) or every < 0:
        raise ValueError(f"checkpoint is a block stride (0 none, 1 every block, 2 every other, ...), got {every!r}")
    if every:
        for i in range(0, len(model.blocks), every):
            model.blocks[i] = Checkpointed(model.blocks[i])
    return model


def _setup(size, checkpoint: int, device, seed: int = 0):
    batch, seq, d = size
    c = M.Config(batch=batch, seq=seq, d_model=d, layers=LAYERS, steps=2)
    model = M.TinyLM(c)
    M.load_state(model, M.init_state(c, seed))
    model = checkpoint_every(model, int(checkpoint)).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x, y = M.make_data(c, seed, device)
    _step(model, opt, x[0], y[0])           # step 1 creates the optimizer state; step 2 is the one recorded
    return model, opt, x[1], y[1]


# ---- GPU: the allocator's own log ------------------------------------------------------------------------

def _phase(index: int, ends: dict) -> str:
    for phase in PHASES:
        if index < ends.get(phase, 0):
            return phase
    return "after the step"


def allocator_timeline(trace: list, start_bytes: int, ends: dict) -> tuple[list[dict], int]:
    """Replay allocator events (``_snapshot()["device_traces"][d]``) into bytes live by phase after each one.

    ``start_bytes`` were allocated before recording began (weights, gradients' buffers, optimizer state).
    ``ends`` maps each phase to the log's length when it ended ({"forward": 120, "backward": 300, ...}).
    An allocation counts from its 'alloc' event until its 'free_completed' (the allocator's own counter
    moves then too); a free is charged to the phase that made the block.

    >>> rows, peak = allocator_timeline([{"action": "alloc", "addr": 0, "size": 512},
    ...     {"action": "free_requested", "addr": 0, "size": 512}, {"action": "free_completed", "addr": 0, "size": 512}],
    ...     100, {"forward": 1, "backward": 3})
    >>> [r["forward"] for r in rows], peak
    ([512, 0], 612)
    """
    live = {"before the step": start_bytes, **{p: 0 for p in PHASES}, "after the step": 0}
    owner: dict[int, str] = {}
    rows, peak = [], start_bytes
    for i, e in enumerate(trace):
        if e["action"] == "alloc":
            owner[e["addr"]] = phase = _phase(i, ends)
            live[phase] += e["size"]
        elif e["action"] == "free_completed":
            live[owner.pop(e["addr"], "before the step")] -= e["size"]
        else:
            continue
        rows.append(dict(live))
        peak = max(peak, sum(live.values()))
    return rows, peak


def record_gpu(size=None, checkpoint: int = 0, seed: int = 0) -> Timeline:
    """Record the allocator history of one training step on the GPU and replay it into a Timeline."""
    import pandas as pd
    if not torch.cuda.is_available():
        raise RuntimeError(NEEDS_GPU.split(";")[0])
    size = size or SIZES["gpu"]
    model, opt, x, y = _setup(size, checkpoint, "cuda", seed)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    start = torch.cuda.memory_allocated()
    dev = torch.cuda.current_device()
    ends: dict[str, int] = {}

    def between(phase):             # the log's length at the end of each phase (a snapshot is cheap here)
        torch.cuda.synchronize()
        ends[phase] = len(torch.cuda.memory._snapshot()["device_traces"][dev])

    torch.cuda.memory._record_memory_history(max_entries=MAX_ENTRIES, stacks="python")
    try:
        _step(model, opt, x, y, between)
        snap = torch.cuda.memory._snapshot()
    finally:
        torch.cuda.memory._record_memory_history(enabled=None)
    trace = snap["device_traces"][dev]
    rows, peak = allocator_timeline(trace, start, ends)
    notes = [f"{len(trace):,} allocator events logged (ring buffer of {MAX_ENTRIES:,}); reserved by the caching "
             f"allocator at its peak: {torch.cuda.max_memory_reserved() / 2**20:,.1f} MiB"]
    return Timeline(checkpoint, "CUDA caching allocator history (torch.cuda.memory._snapshot)",
                    torch.cuda.get_device_name(), pd.DataFrame(rows), peak, torch.cuda.max_memory_allocated(), notes)


# ---- CPU: torch.profiler's memory timeline ------------------------------------------------------------------

def record_profiler(size=None, checkpoint: int = 0, seed: int = 0) -> Timeline:
    """Profile one training step on the CPU with profile_memory=True and read the memory timeline by category."""
    import pandas as pd
    from torch.profiler import ProfilerActivity, profile
    from torch.profiler._memory_profiler import _CATEGORY_TO_INDEX, MemoryProfileTimeline
    size = size or SIZES["cpu"]
    model, opt, x, y = _setup(size, checkpoint, "cpu", seed)
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True, record_shapes=True, with_stack=True) as prof:
        _step(model, opt, x, y)
    _, sizes = MemoryProfileTimeline(prof._memory_profile())._coalesce_timeline("cpu")
    names = {i + 1: (c.name.lower().replace("_", " ") if c else "unknown") for c, i in _CATEGORY_TO_INDEX.items()}
    frame = pd.DataFrame([{names[i]: v for i, v in enumerate(row) if i in names} for row in sizes])
    frame = frame.loc[:, (frame != 0).any(axis=0)]
    peak = int(frame.sum(axis=1).max()) if len(frame) else 0
    return Timeline(checkpoint, "torch.profiler memory timeline (profile_memory=True)", pl.env().device, frame, peak)


# ---- the comparison ---------------------------------------------------------------------------------------

def _label(every: int) -> str:
    return {0: "store every activation", 1: "checkpoint every block"}.get(int(every), f"checkpoint every {every}th block")


@dataclass
class CheckpointComparison:
    """One training step recorded twice: storing every activation, and checkpointing some blocks.
    ``skipped`` is the one line saying what this device could not record (empty on a GPU)."""
    plain: Timeline
    checkpointed: Timeline
    size: tuple
    skipped: str = ""

    def table(self):
        from perflab.table import Table
        mib = lambda b: "—" if b is None else f"{b / 2**20:,.2f} MiB"   # noqa: E731
        rows = []
        for t in (self.plain, self.checkpointed):
            top = sorted(t.peak_by_category().items(), key=lambda kv: -kv[1])[:3]
            rows.append([_label(t.checkpoint), f"{t.events:,}",
                         mib(t.peak_bytes), mib(t.allocator_peak_bytes),
                         ", ".join(f"{k} {mib(v)}" for k, v in top)])
        saved = 1 - self.checkpointed.peak_bytes / self.plain.peak_bytes
        notes = [f"{_label(self.checkpointed.checkpoint)} lowers this step's peak by {saved:.0%}; size (batch, seq, d_model) = {self.size}, "
                 f"{LAYERS} blocks, AdamW", f"source: {self.plain.source} · {self.plain.device}"]
        if self.skipped:
            notes.insert(0, self.skipped)
        return Table(["forward keeps", "memory events", "peak (timeline)", "peak (max_memory_allocated)",
                      "largest parts at the peak"], rows, title="Memory of one training step, event by event",
                     notes=notes)

    def figure(self):
        """Plotly: bytes live over the step's memory events, stacked by category, one panel per variant."""
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
        fig = make_subplots(rows=1, cols=2, shared_yaxes=True, subplot_titles=(
            _label(self.plain.checkpoint), _label(self.checkpointed.checkpoint)))
        colors = {}
        palette = ["#7f7f7f", "#d62728", "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"]
        for col, t in enumerate((self.plain, self.checkpointed), start=1):
            for name in t.frame.columns:
                color = colors.setdefault(name, palette[len(colors) % len(palette)])
                fig.add_trace(go.Scatter(x=list(range(t.events)), y=(t.frame[name] / 2**20).tolist(), name=name,
                                         stackgroup=f"s{col}", line=dict(width=0.5, color=color),
                                         legendgroup=name, showlegend=col == 1), row=1, col=col)
        fig.update_xaxes(title_text="memory event (allocation or free)")
        fig.update_yaxes(title_text="MiB live", row=1, col=1)
        fig.update_layout(title=f"One training step's memory · {self.plain.source} · {self.plain.device}",
                          height=380)
        return fig


def compare(size=None, seed: int = 0, checkpoint: int = 1) -> CheckpointComparison:
    """Record the step storing every activation and with ``checkpoint`` (every n-th block recomputed): the
    allocator history on a GPU, the profiler's timeline on a CPU (then ``skipped`` says what a GPU records)."""
    if torch.cuda.is_available():
        size = size or SIZES["gpu"]
        return CheckpointComparison(record_gpu(size, 0, seed), record_gpu(size, checkpoint, seed), size)
    size = size or SIZES["cpu"]
    return CheckpointComparison(record_profiler(size, 0, seed), record_profiler(size, checkpoint, seed), size,
                                skipped=NEEDS_GPU)


def record(size=None, checkpoint: int = 0, seed: int = 0) -> Timeline:
    """One step's Timeline on this machine: the allocator history on a GPU, the profiler's timeline on a CPU."""
    if torch.cuda.is_available():
        return record_gpu(size, checkpoint, seed)
    return record_profiler(size, checkpoint, seed)


def book_table(cmp: CheckpointComparison):
    """The book's checkpointing claim (qualitative, L5348–L5354) beside this run and the reference step times."""
    from perflab import book, results
    from perflab.table import Table
    saved = 1 - cmp.checkpointed.peak_bytes / cmp.plain.peak_bytes
    cost = book.ratio(results.reference("ch13.checkpointing"), "ch13.checkpointing", "checkpoint_blocks", "store_all")
    cost = (f"{cost:.2f}× the step time (ch13.checkpointing reference)" if cost
            else "step time: run ch13.checkpointing on a GPU")
    rows = [["L5348 · checkpointing trades activation memory for a second forward pass", "no number",
             f"peak −{saved:.0%} here ({cmp.plain.device}); {cost}",
             "the saving is the blocks' internal activations; weights, gradients and optimizer state stay"]]
    return Table(["book claim", "book", "ours", "why"], rows, title="Book check · activation checkpointing")


# ---- claims (perflab.claims): checked on the value compare() returns ----------------------------------------
from perflab.claims import Holds  # noqa: E402

CLAIMS = [
    Holds("ch13.memory_snapshot", "checkpointing every block lowers one training step's peak memory by ≥ 30%",
          lambda cmp: 1 - cmp.checkpointed.peak_bytes / cmp.plain.peak_bytes, at_least=0.3, unit="%",
          text="checkpointing every block lowers the step's peak by ≥ 30% (59% on an H200, 36% on a CPU)"),
]
