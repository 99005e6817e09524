"""torch.profiler on one training step, and NVTX ranges: the book's nesting (L5095–L5101) and the fixed one."""
from __future__ import annotations

from dataclasses import dataclass, field

import perflab as pl  # noqa: F401  (first: sets TRITON_INTERPRET on machines without a GPU)
import torch

from labs.ch13_profiling_pytorch import model as M
from perflab.validate import calculator_inputs

PHASES = ("train_step", "forward", "backward", "optimizer_step")


class Ranges:
    """push/pop named ranges: NVTX on a GPU (what Nsight Systems shows) and a torch.profiler
    record_function everywhere (what the profiler table and trace show). Both are stacks: ``pop``
    closes the most recently opened range, whatever its name."""

    def __init__(self):
        self._open: list = []
        self._nvtx = torch.cuda.is_available()

    def push(self, name: str) -> None:
        if self._nvtx:
            torch.cuda.nvtx.range_push(name)
        rf = torch.profiler.record_function(name)
        rf.__enter__()
        self._open.append(rf)

    def pop(self) -> None:
        if self._nvtx:
            torch.cuda.nvtx.range_pop()
        self._open.pop().__exit__(None, None, None)


def step_book_order(model, opt, xb, yb, r: Ranges):
    """The listing's order of calls (paraphrased): backward's range is still open when the optimizer's
    range is pushed, so optimizer_step and zero_grad land *inside* backward."""
    r.push("train_step")
    r.push("forward")
    loss = M.loss_fn(model, xb, yb)
    r.pop()
    r.push("backward")
    loss.backward()
    r.push("optimizer_step")        # pushed before backward was popped
    opt.step()
    opt.zero_grad()
    r.pop()
    r.pop()                          # this pop closes backward, after the optimizer ran
    r.pop()
    return loss


def step_fixed(model, opt, xb, yb, r: Ranges):
    """Each phase opened and closed before the next: three siblings under train_step."""
    r.push("train_step")
    r.push("forward")
    loss = M.loss_fn(model, xb, yb)
    r.pop()
    r.push("backward")
    loss.backward()
    r.pop()
    r.push("optimizer_step")
    opt.step()
    opt.zero_grad(set_to_none=True)
    r.pop()
    r.pop()
    return loss


@dataclass
class Node:
    name: str
    start_us: float
    end_us: float
    children: list = field(default_factory=list)

    @property
    def ms(self) -> float:
        return (self.end_us - self.start_us) / 1e3


def range_tree(prof, names=PHASES) -> list[Node]:
    """Rebuild the nesting of our named ranges from the profiler's events (by time containment)."""
    events = sorted((e for e in prof.events() if e.name in names),
                    key=lambda e: (e.time_range.start, -e.time_range.end))
    roots, stack = [], []
    for e in events:
        n = Node(e.name, e.time_range.start, e.time_range.end)
        while stack and not (stack[-1].start_us <= n.start_us and n.end_us <= stack[-1].end_us):
            stack.pop()
        (stack[-1].children if stack else roots).append(n)
        stack.append(n)
    return roots


def render(nodes: list[Node], depth: int = 0) -> str:
    lines = []
    for n in nodes:
        lines.append(f"{'    ' * depth}{n.name:<{24 - 4 * depth}} {n.ms:8.3f} ms")
        lines.append(render(n.children, depth + 1)) if n.children else None
    return "\n".join(line for line in lines if line)


@dataclass
class StepProfile:
    """A profiled training run: the top-operator table (two steps) and the range tree of the last step."""
    table: str
    tree: list
    device: str

    def __str__(self):
        return f"ranges (from torch.profiler events, {self.device}):\n{render(self.tree)}"


def profile_step(order: str = "fixed", size=(6, 37, 52), seed: int = 0, row_limit: int = 10) -> StepProfile:
    """Profile one training step of the tiny model (after one warm-up step) with the given range order:
    "book" (the listing's nesting) or "fixed"."""
    from torch.profiler import ProfilerActivity, profile
    from perflab.machine import device, env
    dev = device()
    batch, seq, d = size
    c = M.Config(batch=batch, seq=seq, d_model=d)
    model = M.TinyLM(c).to(dev)
    model.load_state_dict(M.init_state(c, seed))
    x, y = M.make_data(c, seed, dev)
    opt = torch.optim.AdamW(model.parameters(), lr=c.lr)
    step = {"book": step_book_order, "fixed": step_fixed}[order]
    r = Ranges()
    step(model, opt, x[0], y[0], r)                       # warm-up: first-call costs stay out
    gpu = env().tier == "gpu"
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if gpu else [])
    with profile(activities=acts, record_shapes=True, profile_memory=True, with_flops=True) as prof:
        for i in (1, 2):                                  # two steps: the first pays the profiler's start-up
            step(model, opt, x[i], y[i], r)
        if gpu:
            torch.cuda.synchronize()
    key = "device_time_total" if gpu else "cpu_time_total"
    table = prof.key_averages().table(sort_by=key, row_limit=row_limit, max_name_column_width=36)
    return StepProfile(table, range_tree(prof)[-1:], env().device)


# CPU-time shares of the book's perf breakdown (L5181–L5185), in percent
PERF_SHARES = {"py::forward": 45.0, "aten::matmul": 20.5, "dataloader_iter_next": 10.2, "ncclAllReduce": 8.7,
               "read syscall": 5.3}


@calculator_inputs()
def amdahl(target: str = "py::forward", cut_percent: float = 100.0) -> str:
    """Amdahl's law over the book's breakdown: remove ``cut_percent`` of one share, what does the step gain?

    >>> amdahl("py::forward", 100)[:44]
    'cut 100% of py::forward (45.0% of the step):'
    """
    share = PERF_SHARES[target] / 100
    saved = share * cut_percent / 100
    cap = 1 / (1 - share)
    return (f"cut {cut_percent:.0f}% of {target} ({share:.1%} of the step): step ×{1 / (1 - saved):.2f} faster "
            f"(at most ×{cap:.2f} if it vanished; shares from L5181–L5185)")


def nesting_summary(book: StepProfile, fixed: StepProfile) -> str:
    """One line: where optimizer_step sits in each tree, and how much of 'backward' it was."""
    def find(nodes, name, parent=None):
        for n in nodes:
            if n.name == name:
                return n, parent
            hit = find(n.children, name, n)
            if hit[0]:
                return hit
        return None, None
    opt_b, parent_b = find(book.tree, "optimizer_step")
    bwd_b, _ = find(book.tree, "backward")
    _, parent_f = find(fixed.tree, "optimizer_step")
    if not (opt_b and bwd_b and parent_b and parent_f):
        return "ranges not found in the profile"
    return (f"book order: optimizer_step under {parent_b.name} ({opt_b.ms / bwd_b.ms:.0%} of the 'backward' "
            f"range); fixed: under {parent_f.name}")


def nsys_line() -> str:
    """The Nsight Systems command for the NVTX view, or why it cannot run here."""
    import shutil
    from perflab.machine import env
    cmd = "nsys profile -t cuda,nvtx --stats=true -o ch13_step python my_train.py"
    if env().tier != "gpu":
        return f"needs a CUDA GPU and nsys: `{cmd}` would list GPU time per NVTX range (as L5120–L5136)"
    if not shutil.which("nsys"):
        return f"nsys is not installed: `{cmd}` would list GPU time per NVTX range"
    return f"run in a terminal: `{cmd}`; its nvtx_sum report gives GPU time per range"
