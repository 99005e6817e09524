"""Memory of one forward + backward: the bytes autograd saves for backward (any device) and the allocator's
peak (CUDA), with and without activation checkpointing."""
from __future__ import annotations

from dataclasses import dataclass

import perflab as pl  # noqa: F401  (first: sets TRITON_INTERPRET on machines without a GPU)
import torch

from labs.ch13_profiling_pytorch import model as M
from labs._shown import shows_table


@dataclass(frozen=True)
class MemoryUse:
    """What one forward + backward held. ``saved_bytes``: tensors autograd kept for backward, counted once
    per storage (device-independent). ``peak_bytes``: torch.cuda.max_memory_allocated above the weights
    (None on the CPU: its allocator keeps no peak counter)."""
    checkpoint: bool
    saved_bytes: int
    peak_bytes: int | None
    params_bytes: int


def saved_bytes(fn, exclude=()) -> tuple[int, object]:
    """Bytes of the distinct storages autograd saves while ``fn()`` runs its forward pass, and fn's result.
    Storages of the tensors in ``exclude`` (the weights: they live on anyway) are not counted.

    A ``saved_tensors_hooks`` pack hook sees every tensor an op stashes for its backward; with
    non-reentrant checkpointing, the blocks' own activations are not stashed (only the block inputs),
    which is exactly the memory checkpointing saves.
    """
    seen: dict[int, int] = {}
    skip = {t.untyped_storage().data_ptr() for t in exclude}

    def pack(t):
        s = t.untyped_storage()
        if s.data_ptr() not in skip:
            seen[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return sum(seen.values()), out


def measure(size, checkpoint: bool, seed: int = 0, layers: int = 4) -> MemoryUse:
    """One forward + backward of the tiny model at ``size`` = (batch, seq, d_model)."""
    from perflab.machine import device
    dev = device()
    batch, seq, d = size
    c = M.Config(batch=batch, seq=seq, d_model=d, layers=layers, steps=1)
    model = M.TinyLM(c).to(dev)
    model.checkpoint = checkpoint
    x, y = M.make_data(c, seed, dev)
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    cuda = torch.device(dev).type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    nbytes, loss = saved_bytes(lambda: M.loss_fn(model, x[0], y[0]), exclude=list(model.parameters()))
    loss.backward()
    peak = None
    if cuda:
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
    return MemoryUse(checkpoint, nbytes, peak, params)


@shows_table
@dataclass(frozen=True)
class Checkpointing:
    """One forward + backward measured plain and with every block checkpointed (MemoryUse each), at
    ``size`` = (batch, seq, d_model) with ``layers`` blocks; ``table()`` draws it."""
    size: tuple
    layers: int
    device: str
    plain: MemoryUse
    checkpointed: MemoryUse

    @property
    def saved_share(self) -> float:
        """Bytes saved for backward with checkpointing over without."""
        return self.checkpointed.saved_bytes / self.plain.saved_bytes

    def table(self):
        from perflab.table import Table
        plain = self.plain
        mib = lambda b: "—" if b is None else f"{b / 2**20:,.2f} MiB"   # noqa: E731
        rows = [[("checkpoint every block" if m.checkpoint else "store every activation"), mib(m.saved_bytes),
                 mib(m.peak_bytes), f"{m.saved_bytes / plain.saved_bytes:.0%}"] for m in (plain, self.checkpointed)]
        notes = [f"weights: {mib(plain.params_bytes)}; {self.layers} blocks; size (batch, seq, d_model) = {self.size}",
                 "saved: distinct storages autograd kept for backward (saved_tensors_hooks), weights excluded, "
                 "any device"]
        if plain.peak_bytes is None:
            notes.append("peak: needs a CUDA GPU (torch.cuda.max_memory_allocated); the CPU allocator has no "
                         "peak counter, so the saved-bytes column is this tier's estimate")
        return Table(["forward keeps", "saved for backward", "CUDA peak above weights", "saved vs plain"], rows,
                     f"Activation memory of one forward + backward · {self.device}", notes)


def compare(size, layers: int = 4) -> Checkpointing:
    """Plain vs checkpointed: saved activations and CUDA peak of one forward + backward each."""
    from perflab.machine import env
    return Checkpointing(tuple(size), layers, env().device, measure(size, False, layers=layers),
                         measure(size, True, layers=layers))
