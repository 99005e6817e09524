"""Exercises as data: the graded steps of an exercise, what each checks on the CPU tier and on a GPU, and the probe.

A chapter declares its exercises in ``labs/chNN_*/solutions.py``, beside the answers::

    EXERCISES = [Exercise("ch09.rmsnorm", answer=triton_fused, evidence="H100: ...", steps=[
        Step("fuse the six ops into one kernel", hint="one Triton program per row ...",
             cpu=[Kernels(at_most=1), Traffic(at_most=1.5)], gpu=[Ceiling(at_least=0.75)]),
    ])]

``pl.grade`` checks correctness first, then every step's criteria for this tier, in order, and prints
each with its numbers; the first failing step shows its hint. The structure criteria (kernels, host
syncs, bytes, streams, launch shape, sectors) come from one probed call: every ATen op the call
dispatches (a kernel launch on a GPU) and every Triton launch, counted as the call runs.
"""
from __future__ import annotations

import contextlib
import math
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode, _disable_current_modes

NOT_KERNELS = {"empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided", "detach", "alias",
               "lift_fresh", "lift_fresh_copy", "set_", "resize_", "_local_scalar_dense", "is_nonzero",
               "record_stream", "_unsafe_view"}
SYNCS = {"_local_scalar_dense", "is_nonzero", "nonzero", "masked_select", "unique", "_unique2"}


@dataclass
class Launch:
    """One Triton launch: the kernel, its grid and its launch arguments (constexprs, num_warps, ...)."""
    kernel: object
    grid: object
    args: tuple
    kwargs: dict

    def meta(self, name: str, default=None):
        return self.kwargs.get(name, {"num_warps": 4, "num_stages": 3}.get(name, default))


@dataclass
class Probe:
    """What one call of a variant did: ATen kernels, host syncs, bytes its kernels read and wrote, launches."""
    ops: Counter = field(default_factory=Counter)           # kernels by ATen op name
    calls: Counter = field(default_factory=Counter)         # every dispatched op, views and allocations too
    largest: dict = field(default_factory=dict)             # op name -> most elements one call of it wrote
    read: set = field(default_factory=set)                  # data_ptr of every tensor a kernel read
    syncs: int = 0
    bytes: int = 0
    largest_op_elements: int = 0
    streams: set = field(default_factory=set)
    launches: list = field(default_factory=list)
    atomics: int = 0

    @property
    def kernels(self) -> int:
        return sum(self.ops.values()) + len(self.launches)

    def summary(self, top: int = 3) -> str:
        most = ", ".join(f"{n}×{k}" for k, n in self.ops.most_common(top))
        tri = f" + {len(self.launches)} Triton launch(es)" if self.launches else ""
        return (most or "no ATen kernels") + tri


def _nbytes(x) -> int:
    return sum(t.numel() * t.element_size() for t in _tensors(x))


def _stream_key():
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    s = torch.get_device_module(dev).current_stream()
    return getattr(s, "cuda_stream", None) or id(s)


class _Count(TorchDispatchMode):
    def __init__(self, probe: Probe):
        super().__init__()
        self.probe = probe

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = func.overloadpacket.__name__
        p = self.probe
        p.calls[name] += 1
        if name in SYNCS and not _from_optimizer():
            p.syncs += 1
        if func.is_view or name in NOT_KERNELS:
            return out
        p.ops[name] += 1
        p.streams.add(_stream_key())
        reads = args[1:] if name == "copy_" else args
        p.bytes += _nbytes(list(reads)) + _nbytes(list(kwargs.values())) + _nbytes(out)
        written = max([t.numel() for t in _tensors(out)] + [0])
        p.largest_op_elements = max(p.largest_op_elements, written)
        p.largest[name] = max(p.largest.get(name, 0), written)
        p.read.update(t.data_ptr() for t in _tensors(list(reads)))
        return out


def _from_optimizer() -> bool:
    """A scalar read inside torch.optim reads the optimizer's CPU step counter: no device wait on a GPU."""
    f = sys._getframe(2)
    for _ in range(40):
        if f is None:
            return False
        if "/torch/optim/" in f.f_code.co_filename.replace("\\", "/"):
            return True
        f = f.f_back
    return False


def _tensors(x):
    if isinstance(x, torch.Tensor):
        return [x]
    if isinstance(x, (list, tuple)):
        return [t for v in x for t in _tensors(v)]
    return []


@contextlib.contextmanager
def _triton_hooks(probe: Probe):
    """Record Triton launches (interpreted or compiled) and, in the interpreter, atomic operations."""
    try:
        from triton.runtime import interpreter as ti, jit
    except ImportError:            # no Triton: nothing to hook
        yield
        return
    patched = []

    def wrap_run(cls):
        orig = cls.run

        def run(self, *args, grid, warmup, **kwargs):
            if not warmup:
                probe.launches.append(Launch(self, grid, args, kwargs))
                probe.bytes += _nbytes(list(args))
            with _disable_current_modes():
                return orig(self, *args, grid=grid, warmup=warmup, **kwargs)
        cls.run = run
        patched.append((cls, "run", orig))

    def wrap_atomic(name):
        orig = getattr(ti.InterpreterBuilder, name)

        def atomic(self, *a, **k):
            probe.atomics += 1
            return orig(self, *a, **k)
        setattr(ti.InterpreterBuilder, name, atomic)
        patched.append((ti.InterpreterBuilder, name, orig))

    wrap_run(ti.InterpretedFunction)
    wrap_run(jit.JITFunction)
    wrap_atomic("create_atomic_rmw")
    wrap_atomic("create_atomic_cas")
    try:
        yield
    finally:
        for cls, name, orig in reversed(patched):
            setattr(cls, name, orig)


def probe(fn: Callable, inputs: dict) -> tuple[Probe, object]:
    """Call ``fn(**inputs)`` once and count what it did; returns (probe, output)."""
    p = Probe()
    with _triton_hooks(p), _Count(p):
        out = fn(**inputs)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return p, out


# ---- criteria: each checks one thing and says what it measured -------------------------------------

@dataclass
class Context:
    """What a criterion may look at: the lab, the learner's function, one input set and its probe."""
    lab: object
    fn: Callable
    size: object
    dtype: str
    inputs: dict
    probe: Probe
    output: object


@dataclass(frozen=True)
class Kernels:
    """At most this many kernels per call (ATen ops that launch work, plus Triton launches)."""
    at_most: int

    def check(self, c: Context) -> tuple[bool, str]:
        n = c.probe.kernels
        return n <= self.at_most, f"kernels per call: {n} (at most {self.at_most}); {c.probe.summary()}"


@dataclass(frozen=True)
class HostSyncs:
    """At most this many host waits per call (.item(), bool(tensor), nonzero: the host reads a device value)."""
    at_most: int = 0

    def check(self, c: Context) -> tuple[bool, str]:
        n = c.probe.syncs
        return n <= self.at_most, f"host syncs per call: {n} (at most {self.at_most})"


@dataclass(frozen=True)
class Traffic:
    """Bytes the call's kernels read and write, at most ``at_most`` × the lab's minimum (``lab.bytes``)."""
    at_most: float

    def check(self, c: Context) -> tuple[bool, str]:
        need = c.lab.bytes(c.size, c.dtype)
        ratio = c.probe.bytes / need if need else math.inf
        return ratio <= self.at_most, (f"bytes moved: {c.probe.bytes / 1e6:.2f} MB = {ratio:.1f}× the minimum "
                                       f"{need / 1e6:.2f} MB (at most {self.at_most}×)")


@dataclass(frozen=True)
class Streams:
    """The call's kernels run on at least this many streams."""
    at_least: int

    def check(self, c: Context) -> tuple[bool, str]:
        n = len(c.probe.streams)
        return n >= self.at_least, f"streams used: {n} (at least {self.at_least})"


@dataclass(frozen=True)
class Launched:
    """Every Triton launch has each named launch argument (a constexpr, num_warps, num_stages) ≥ its value."""
    at_least: dict

    def check(self, c: Context) -> tuple[bool, str]:
        if not c.probe.launches:
            return False, "no Triton launch seen: this step is about a Triton kernel's launch"
        ok, parts = True, []
        for name, want in self.at_least.items():
            got = min(L.meta(name, 0) for L in c.probe.launches)
            ok &= got >= want
            parts.append(f"{name} = {got} (at least {want})")
        return ok, "; ".join(parts)


@dataclass(frozen=True)
class PerThread:
    """Each Triton launch gives every thread at least ``at_least`` elements: ``meta / (32 · num_warps)``."""
    meta: str
    at_least: float

    def check(self, c: Context) -> tuple[bool, str]:
        if not c.probe.launches:
            return False, "no Triton launch seen: this step is about a Triton kernel's launch"
        got = min(L.meta(self.meta, 0) / (32 * L.meta("num_warps")) for L in c.probe.launches)
        return got >= self.at_least, (f"{self.meta} / (32 · num_warps) = {got:g} elements per thread "
                                      f"(at least {self.at_least:g})")


@dataclass(frozen=True)
class Atomics:
    """The Triton kernel does at least this many atomic operations (counted in the interpreter)."""
    at_least: int = 1

    def check(self, c: Context) -> tuple[bool, str]:
        n = c.probe.atomics
        return n >= self.at_least, f"atomic operations: {n} (at least {self.at_least})"


@dataclass(frozen=True)
class Sectors:
    """A small launch's 32-lane requests touch at most this many 32-byte sectors each (perflab.access_map);
    a coalesced float32 request touches 4."""
    at_most: float
    size: tuple = (37, 45)

    def check(self, c: Context) -> tuple[bool, str]:
        from perflab import access_map
        inputs = c.lab.make_inputs(self.size, "cpu", c.dtype, 0)
        p, _ = probe(c.fn, inputs)
        if not p.launches:
            return False, "no Triton launch seen: this step is about a Triton kernel's memory accesses"
        L = p.launches[0]
        grid = L.grid(L.kwargs) if callable(L.grid) else tuple(L.grid)
        kw = {k: v for k, v in L.kwargs.items() if k not in ("num_warps", "num_stages", "num_ctas")}
        per = access_map.trace(L.kernel, grid, *L.args, **kw).sectors_per_request()
        worst = max(per.values()) if per else 0.0
        return worst <= self.at_most, (f"sectors per 32-lane request at size {self.size}: worst {worst:.1f} "
                                       f"(at most {self.at_most:g}; coalesced float32 is 4)")


@dataclass(frozen=True)
class Holds:
    """A property of the call in words, with its test: ``test(context) -> (ok, what was measured)``."""
    text: str
    test: Callable

    def check(self, c: Context) -> tuple[bool, str]:
        ok, measured = self.test(c)
        return bool(ok), f"{self.text}: {measured}"


@dataclass(frozen=True)
class Speedup:
    """At least ``at_least`` × faster than the lab's variant ``over``, timed here at this tier's default size."""
    at_least: float
    over: str = "baseline"
    rep_ms: float = 60

    def check(self, c: Context) -> tuple[bool, str]:
        from perflab import timer
        base = c.lab.get_variant(self.over)
        mine = timer.bench(lambda: c.fn(**c.inputs), rep_ms=self.rep_ms, warmup_ms=5).median
        theirs = timer.bench(lambda: base(**c.inputs), rep_ms=self.rep_ms, warmup_ms=5).median
        x = theirs / mine
        return x >= self.at_least, (f"{x:.1f}× faster than {self.over} at size {c.size} "
                                    f"({mine * 1e3:.2f} ms vs {theirs * 1e3:.2f} ms; at least {self.at_least:g}×)")


@dataclass(frozen=True)
class Ceiling:
    """On a GPU: at least this fraction of the measured ceiling (perflab.runner's record), at the lab's size."""
    at_least: float

    def check(self, c: Context) -> tuple[bool, str]:
        from perflab.runner import run
        r = run(c.lab, variants=[c.fn], record=False)
        rec = r.records[0] if r.records else None
        if rec is None or rec.ceiling_fraction is None:
            return False, "not timed: " + (r.rows[0].why if r.rows else "no measurement")
        return rec.ceiling_fraction >= self.at_least, (
            f"{rec.ceiling_fraction:.0%} of the measured {rec.ceiling} ceiling on {r.device} "
            f"(at least {self.at_least:.0%}); median {rec.median_s * 1e3:.3f} ms")


@dataclass(frozen=True)
class Step:
    """One graded step: a title, the hint shown while it fails, and its criteria per tier."""
    title: str
    hint: str = ""
    cpu: tuple = ()
    gpu: tuple = ()

    def criteria(self, tier: str) -> tuple:
        return tuple(self.gpu if tier == "gpu" else self.cpu)


@dataclass(frozen=True)
class Exercise:
    """A lab's exercise: its reference answer, the steps graded in order, and the GPU evidence for the numbers."""
    lab: str
    answer: Callable
    steps: tuple = ()
    evidence: str = ""
    size: dict = field(default_factory=dict)        # tier -> the size the structure is probed at (default: first)

    def __post_init__(self):
        if not callable(self.answer):
            raise TypeError(f"Exercise({self.lab!r}) needs answer=<the reference function>, got {self.answer!r}")
        object.__setattr__(self, "steps", tuple(self.steps))


def find(lab) -> Exercise | None:
    """The exercise declared for a lab (a name or a loaded Lab) in its chapter's solutions module, or None."""
    from perflab.lab import chapter, load
    lab = load(lab)
    if not lab.module.__name__.startswith("labs."):
        return None
    return next((ex for ex in chapter(lab.chapter).exercises() if ex.lab == lab.name), None)


def every() -> list[Exercise]:
    """Every declared exercise of the workbook, in chapter order."""
    from perflab.lab import _chapter_packages, chapter
    return [ex for key in sorted(_chapter_packages()) for ex in chapter(key).exercises()]
