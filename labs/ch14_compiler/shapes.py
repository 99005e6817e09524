"""Recompiles as the batch size changes: static shapes vs automatic dynamic vs mark_dynamic / dynamic=True."""
from __future__ import annotations

import perflab as pl  # noqa: F401
import torch
from perflab.validate import calculator_inputs

BATCHES = (3, 5, 7, 11, 13, 17)      # every new batch size is a new shape


def _block(x, w):
    return torch.nn.functional.gelu(x @ w).sum(dim=1)


def compiles(setting: str, batches=BATCHES, backend: str = "eager") -> tuple[int, int]:
    """(graphs compiled, calls) for one setting over ``batches``, read from torch._dynamo.utils.counters.

    setting: "dynamic=False" (one graph per shape), "default" (automatic dynamic: static first, one
    dynamic recompile on the first new shape), "mark_dynamic" (dim 0 declared dynamic before the first
    call) or "dynamic=True". backend="eager" keeps it fast: what is counted is Dynamo's tracing, which
    every backend shares (inductor would add its code generation to each of those compiles).
    """
    import torch._dynamo as dynamo
    from torch._dynamo.utils import counters
    dynamo.reset()
    counters.clear()
    kw = {"dynamic=False": {"dynamic": False}, "dynamic=True": {"dynamic": True}}.get(setting, {})
    fn = torch.compile(_block, backend=backend, **kw)
    g = torch.Generator().manual_seed(0)
    w = torch.randn(19, 23, generator=g)
    with dynamo.config.patch(recompile_limit=len(batches) + 2):     # let every shape compile, to count them
        for b in batches:
            x = torch.randn(b, 19, generator=g)
            if setting == "mark_dynamic":
                dynamo.mark_dynamic(x, 0)
            fn(x, w)
    graphs = counters["stats"]["unique_graphs"]
    dynamo.reset()
    return graphs, len(batches)


def recompile_log(setting: str = "dynamic=False", batches=BATCHES[:4]) -> list[str]:
    """The guard failure behind each recompile, as ``TORCH_LOGS="recompiles"`` would print it.

    Turns the ``recompiles`` log on with ``torch._logging.set_logs``, collects its records with a handler of
    our own (torch's stderr handler is set aside meanwhile, so nothing is printed twice) and returns the
    first guard failure of each recompile: ``"tensor 'x' size mismatch at index 0. expected 3, actual 5"``.
    """
    import logging
    import torch._logging

    class _Collect(logging.Handler):
        def __init__(self):
            super().__init__()
            self.lines: list[str] = []

        def emit(self, record):
            fails = [ln.strip()[2:] for ln in record.getMessage().splitlines() if ln.strip().startswith("- ")]
            if fails:
                self.lines.append(fails[0])

    logger, grab = logging.getLogger("torch._dynamo"), _Collect()
    torch._logging.set_logs(recompiles=True)
    saved = list(logger.handlers)
    logger.handlers = [grab]
    try:
        compiles(setting, batches)
    finally:
        logger.handlers = saved
        torch._logging.set_logs()
    return grab.lines


SETTINGS = {
    "dynamic=False": "one graph per batch size: a recompile on every new shape",
    "default": "automatic dynamic: the 2nd shape triggers one recompile with a symbolic batch",
    "mark_dynamic": "torch._dynamo.mark_dynamic(x, 0): symbolic from the first call",
    "dynamic=True": "every dimension symbolic from the first call",
}


def table(batches=BATCHES):
    from perflab.table import Table
    rows = []
    for s, why in SETTINGS.items():
        graphs, calls = compiles(s, batches)
        rows.append([f"torch.compile({s})" if s.startswith("dynamic") else s, str(calls), str(graphs),
                     str(graphs - 1), why])
    return Table(["setting", "calls (batch sizes)", "graphs compiled", "recompiles", "what happens"], rows,
                 title=f"Recompiles as the batch size walks {list(batches)}",
                 notes=["counted with torch._dynamo.utils.counters['stats']['unique_graphs'] "
                        "(TORCH_LOGS=recompiles prints the same events with their failing guard)"])


@calculator_inputs(positive="n min_len max_len compile_s")
def padding_waste(n: int = 64, min_len: int = 16, max_len: int = 512, compile_s: float = 1.0) -> str:
    """Pad n sequences with lengths spread evenly over [min_len, max_len] to max_len, or compile per length.

    Padding waste = Σ(max_len − len_i) / (n · max_len): that share of the FLOPs works on padding.

    >>> padding_waste(2, 100, 300, 1.0).split(';')[0]
    'padding to 300 wastes 33% of the work'
    """
    if n < 1 or not 0 < min_len <= max_len:
        raise ValueError(f"need n ≥ 1 and 0 < min_len ≤ max_len, got n={n}, min_len={min_len}, max_len={max_len}")
    lens = [min_len + (max_len - min_len) * i / max(n - 1, 1) for i in range(n)]
    waste = sum(max_len - L for L in lens) / (n * max_len)
    distinct = len({round(L) for L in lens})
    return (f"padding to {max_len} wastes {waste:.0%} of the work; without padding and with static shapes, "
            f"up to {distinct} lengths → {distinct} compiles ≈ {distinct * compile_s:,.0f} s; "
            f"dynamic shapes: 1–2 compiles ≈ {2 * compile_s:,.0f} s and no padding")
