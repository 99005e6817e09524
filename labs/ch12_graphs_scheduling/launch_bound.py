"""Launch-bound step: 160 tiny kernels per call, issued eagerly, replayed as one CUDA graph, or compiled."""
from __future__ import annotations

import contextlib
import functools
from collections import OrderedDict

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch

from perflab.cuda import capture   # the recipe this chapter teaches (used by ch13, ch19 and labs/inference too)

TITLE = "Launch-bound step: 32 residual layers x 5 elementwise ops = 160 kernels (eager, CUDA graph, compile)"
LAYERS = 32                # each layer: x + 0.1 * tanh(x * w[l] + b[l]) -> 5 kernels eagerly
FEATURES = 257             # the width of x; w and b are (LAYERS, FEATURES)
KERNELS = 5 * LAYERS
# rows of x: 15 x 257 = 3,855 floats per tensor (launch-bound) up to 16,381 x 257 = 4.2 M (GPU-bound)
SIZES = {"gpu": [15, 1_021, 16_381], "cpu": [15, 7, 255]}
DTYPES = ["float32"]
OPTIONS = pl.LabOptions(gate_note=(
    "launch-bound by design: each op works on 15 elements, so a step is dozens of kernel launches moving "
    "almost no bytes; eager, the CUDA graph and the compiled step differ only in launch cost."),
    
    # Per step as a loop sees it: wall clock over back-to-back calls, the device synchronised per block of
    # calls (torch.utils.benchmark). CUDA events would time the GPU timeline only, and their L2 flush
    # before every call would hide part of the host's launch time.
    timing="cpu",
)


def make_inputs(size: int, device="cpu", dtype="float32", seed: int = 0) -> dict:
    """x (rows, 257) activations; w, b (32, 257) one scale and one bias per layer and feature."""
    g = torch.Generator(device=device).manual_seed(seed)
    dt = getattr(torch, dtype)
    return {"x": torch.randn(size, FEATURES, generator=g, device=device, dtype=dt),
            "w": torch.randn(LAYERS, FEATURES, generator=g, device=device, dtype=dt),
            "b": 0.5 * torch.randn(LAYERS, FEATURES, generator=g, device=device, dtype=dt)}


def step(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The model step: every line is 5 small kernels when run eagerly (mul, add, tanh, mul, add)."""
    for layer in range(w.shape[0]):
        x = x + 0.1 * torch.tanh(x * w[layer] + b[layer])
    return x


def reference(x, w, b) -> torch.Tensor:
    return step(x.double(), w.double(), b.double())


def bytes(size: int, dtype="float32") -> int:
    return getattr(torch, dtype).itemsize * (2 * size * FEATURES + 2 * LAYERS * FEATURES)   # x in, y out, w, b


def flops(size: int, dtype="float32") -> int:
    return KERNELS * size * FEATURES          # one operation per element per kernel (tanh counted as one)


@pl.variant(note="plain PyTorch: 160 kernels per step, each paying Python, dispatcher and launch time on the host")
def eager(x, w, b):
    return step(x, w, b)


@pl.variant(needs="cuda", note="the same 160 kernels captured once in a torch.cuda.CUDAGraph and replayed: "
                               "one launch per step (first call: warm-up + capture)")
def cuda_graph(x, w, b):
    return graph_for(x, w, b)(x)


@pl.variant(note="torch.compile: Inductor fuses the 160 ops into one kernel; mode reduce-overhead on a GPU also "
                 "replays it as a CUDA graph (CPU: one fused C++ loop)")
def compiled(x, w, b):
    fn = compiled_step(x.device.type)
    if x.is_cuda:
        torch.compiler.cudagraph_mark_step_begin()      # a new step: the last step's outputs may be reused
    with one_thread():
        return fn(x, w, b)


@contextlib.contextmanager
def one_thread():
    """Run with torch's intra-op threads at 1, as ``torch.utils.benchmark`` (perflab's CPU timer) does.

    torch.compile guards on the thread count: called once inside the timer and once outside, it
    would compile the step twice. Pinning the count here lets one compiled step serve every call.
    """
    before = torch.get_num_threads()
    if before != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if before != 1:
            torch.set_num_threads(before)


# ---- the captured graph ----------------------------------------------------------------------

class GraphedStep:
    """``step`` captured once in a CUDA graph, for one shape of x and one pair of weights.

    The documented recipe (``capture``): warm up on a side stream, then capture into a static input and
    output. The weights w and b are read from their addresses (as a model's weights would be); each call
    copies x into the static input and replays. The output lives in the graph's memory pool and is
    overwritten by the next replay: clone it to keep it.
    """

    def __init__(self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor):
        self.w, self.b = w, b                                # hold them: the graph reads their memory
        self.static_x = x.clone()
        self.graph, self.static_y = capture(lambda: step(self.static_x, w, b))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.static_x.copy_(x)
        self.graph.replay()
        return self.static_y


_GRAPHS: OrderedDict = OrderedDict()
MAX_GRAPHS = 2               # each graph keeps a private memory pool; keep the latest two


def graph_for(x, w, b) -> GraphedStep:
    """The captured step for this shape of x and these weights (captured on first use)."""
    if not x.is_cuda:
        raise ValueError(f"CUDA graphs need CUDA tensors, got x on {x.device}. Use device='cuda'.")
    key = (tuple(x.shape), x.dtype, x.device, w.data_ptr(), b.data_ptr(), tuple(w.shape))
    if key not in _GRAPHS:
        _GRAPHS[key] = GraphedStep(x, w, b)
        while len(_GRAPHS) > MAX_GRAPHS:
            _GRAPHS.popitem(last=False)
    _GRAPHS.move_to_end(key)
    return _GRAPHS[key]


def reset() -> None:
    """Forget every captured graph and compiled function, so the next call pays its first-call cost again."""
    _GRAPHS.clear()
    compiled_step.cache_clear()
    torch._dynamo.reset()


@functools.cache
def compiled_step(device_type: str):
    """``step`` under torch.compile: reduce-overhead (fusion + CUDA graphs) on a GPU, default on a CPU."""
    mode = "reduce-overhead" if device_type == "cuda" else "default"
    return torch.compile(step, mode=mode, dynamic=False)


variants = [eager, cuda_graph, compiled]
