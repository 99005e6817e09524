"""The contiguous KV cache: one preallocated [batch, heads, max_len, head_dim] slab per layer for K and V.

The model calls these methods, and any cache with the same ones (the paged cache in ``paged.py``)
can stand in:

    pos = cache.positions(T)            # (B, T) absolute positions of the T new tokens
    S = cache.span(T)                   # how many key slots update() will return (the mask's width)
    K, V = cache.update(layer, k, v, pos)   # store the new K/V, return slots 0..S-1 (B, H, S, hd)
    y = cache.attend(layer, q, k, v, pos, mask)   # update + attention (a paged cache may use a kernel)
    cache.advance(T)                    # after the last layer: every sequence is T tokens longer

Slot s holds the key of position s; slots past a row's length hold stale data and are masked.
"""
from __future__ import annotations

import torch


class SequenceLengths:
    """Per-sequence lengths on the device (``lengths``) and their maximum on the host (``used``), kept
    in step without a device sync: what every KV cache layout shares."""
    lengths: torch.Tensor
    used: int

    def advance(self, n) -> None:
        """Grow every sequence by n tokens: an int, a host list (one per row), or a (B,) tensor."""
        if isinstance(n, int):
            self.lengths += n
            self.used += n
            return
        if isinstance(n, (list, tuple)):
            self.used += max(n)                                   # no device sync needed
            n = torch.tensor(n, dtype=torch.long)
        else:
            self.used += int(n.max())
        self.lengths += n.to(self.lengths.device)

    def set_lengths(self, lengths) -> None:
        """Overwrite the per-sequence lengths (host list or tensor); ``used`` follows their max."""
        lengths = torch.as_tensor(lengths, dtype=torch.long)
        self.lengths.copy_(lengths.to(self.lengths.device))
        self.used = int(lengths.max()) if len(lengths) else 0


class KVCache(SequenceLengths):
    """Per-layer K and V tensors of shape (batch, n_heads, max_len, head_dim), plus per-sequence lengths.

    ``lengths`` lives on the device (a CUDA graph can read and bump it). ``static=True`` makes
    ``update`` always return the full max_len slab (fixed shapes for graph capture); otherwise it
    returns only the prefix in use, tracked on the host as ``self.used`` (an upper bound of lengths).
    """

    def __init__(self, k: list[torch.Tensor], v: list[torch.Tensor], lengths: torch.Tensor, static: bool = False):
        self.k, self.v, self.lengths, self.static = k, v, lengths, static
        self.max_len = k[0].shape[2]
        self.used = 0

    @classmethod
    def empty(cls, config, batch: int, max_len: int | None = None, device="cpu",
              dtype=torch.float32, static: bool = False) -> "KVCache":
        max_len = config.max_seq_len if max_len is None else max_len
        if max_len > config.max_seq_len:
            raise ValueError(f"max_len={max_len} exceeds the model's max_seq_len={config.max_seq_len}")
        shape = (batch, config.n_heads, max_len, config.head_dim)
        k = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(config.n_layers)]
        v = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(config.n_layers)]
        return cls(k, v, torch.zeros(batch, dtype=torch.long, device=device), static)

    @property
    def batch(self) -> int:
        return self.k[0].shape[0]

    def rollback(self, length: int) -> None:
        """Forget everything after ``length`` tokens in every row (the K/V beyond are overwritten later)."""
        self.lengths.fill_(length)
        self.used = length

    def bytes(self) -> int:
        """Bytes reserved for K and V (all of it, used or not: that is the cost of contiguous)."""
        return sum(t.numel() * t.element_size() for t in self.k + self.v)

    # --- the three methods the model calls --------------------------------------------------------
    def positions(self, T: int) -> torch.Tensor:
        if not self.static and self.used + T > self.max_len:
            raise ValueError(f"cache holds {self.max_len} positions; {self.used} used + {T} new does not fit")
        return self.lengths[:, None] + torch.arange(T, device=self.lengths.device)   # (B, T)

    def span(self, T: int) -> int:
        return self.max_len if self.static else self.used + T

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor, pos: torch.Tensor):
        B, H, T, D = k.shape
        idx = pos[:, None, :, None].expand(B, H, T, D)
        self.k[layer].scatter_(2, idx, k)
        self.v[layer].scatter_(2, idx, v)
        S = self.span(T)
        return self.k[layer][:, :, :S], self.v[layer][:, :, :S]

    def attend(self, layer: int, q, k, v, pos, mask):
        """Store the new K/V, then masked SDPA of q over slots 0..S-1 (what the model calls)."""
        K, V = self.update(layer, k, v, pos)
        return torch.nn.functional.scaled_dot_product_attention(q, K, V, attn_mask=mask)

    def slot(self, i: int, length: int | None = None) -> "KVCache":
        """A one-sequence view of row i: writes through it land in this cache. ``length``: the row's
        current length when the caller knows it (saves a device read)."""
        view = KVCache([t[i:i + 1] for t in self.k], [t[i:i + 1] for t in self.v],
                       self.lengths[i:i + 1], self.static)
        view.used = int(self.lengths[i]) if length is None else length
        return view

    def __repr__(self):
        return (f"KVCache(batch={self.batch}, layers={len(self.k)}, max_len={self.max_len}, "
                f"{self.bytes() / 2**20:.1f} MiB)")
