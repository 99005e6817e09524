"""Paged KV: a block allocator (free list, reference counts, prefix-hash registry) and a KV cache made of blocks.

Instead of one max_len slab per sequence, K/V live in a pool of fixed-size blocks of ``block_size``
tokens. A sequence owns a *block table*: its i-th entry is the pool block that holds positions
i*block_size ... (i+1)*block_size - 1. Memory is taken a block at a time as the sequence grows, so the
only waste is the unfilled tail of each sequence's last block.

Block 0 is the *null block*: never handed out, it absorbs the writes of idle and padded rows.
Blocks can be shared (prefix caching): a block whose reference count drops to zero but which holds a
registered prefix is kept as *evictable* (LRU order) instead of being freed, so a later request with
the same prefix can take it back; it is reclaimed only when the free list runs dry.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from labs.inference.kv_cache import SequenceLengths

NULL_BLOCK = 0


@dataclass(frozen=True)
class PoolStats:
    """Where the allocator's blocks are now (BlockAllocator.stats), in blocks; the null block not counted."""
    blocks: int                  # all usable blocks: owned + free + cached
    owned: int                   # referenced by a running sequence
    free: int                    # on the free list
    cached: int                  # unreferenced but still holding a registered prefix (evictable)
    evictions: int               # cached blocks reclaimed so far


@dataclass(frozen=True)
class Fragmentation:
    """Tokens stored vs the capacity of the blocks some rows own (PagedKVCache.fragmentation)."""
    blocks_owned: int
    tokens: int
    capacity: int                # blocks_owned × block_size
    waste: float                 # 1 - tokens / capacity: internal fragmentation


class OutOfBlocks(RuntimeError):
    pass


class BlockAllocator:
    """Hands out block ids 1..num_blocks-1. Every block is in exactly one state:
    free (on the free list), owned (refcount > 0) or evictable (refcount 0, holds a cached prefix)."""

    def __init__(self, num_blocks: int, block_size: int):
        if num_blocks < 2:
            raise ValueError(f"num_blocks={num_blocks}: need at least 2 (block 0 is the null block)")
        self.num_blocks, self.block_size = num_blocks, block_size
        self.free = list(range(num_blocks - 1, 0, -1))       # pop() gives the lowest id first
        self.ref = [0] * num_blocks
        self.key_of: dict[int, tuple] = {}                     # block -> prefix key (registered blocks)
        self.block_of: dict[tuple, int] = {}                   # prefix key -> block
        self.evictable: OrderedDict[int, None] = OrderedDict()  # refcount-0 registered blocks, LRU first
        self.evictions = 0

    # --- owning blocks ----------------------------------------------------------------------------
    def available(self) -> int:
        return len(self.free) + len(self.evictable)

    def allocate(self) -> int:
        if self.free:
            block = self.free.pop()
        elif self.evictable:
            block, _ = self.evictable.popitem(last=False)      # least recently used cached block
            del self.block_of[self.key_of.pop(block)]
            self.evictions += 1
        else:
            raise OutOfBlocks(f"all {self.num_blocks - 1} blocks are in use")
        self.ref[block] = 1
        return block

    def release(self, block: int) -> None:
        if block == NULL_BLOCK or self.ref[block] <= 0:
            raise ValueError(f"block {block} is not owned (refcount {self.ref[block]}): double free?")
        self.ref[block] -= 1
        if self.ref[block] == 0:
            if block in self.key_of:
                self.evictable[block] = None                   # most recently used end
            else:
                self.free.append(block)

    # --- prefix registry (used by prefix caching) --------------------------------------------------
    def lookup(self, key: tuple) -> int | None:
        """The block registered under ``key``, now owned once more by the caller; None on a miss."""
        block = self.block_of.get(key)
        if block is None:
            return None
        if self.ref[block] == 0:
            del self.evictable[block]
        self.ref[block] += 1
        return block

    def register(self, block: int, key: tuple) -> None:
        """Record that ``block`` holds the prefix ``key`` (first writer wins)."""
        if key in self.block_of or block in self.key_of:
            return
        self.block_of[key], self.key_of[block] = block, key

    # --- checks and statistics ---------------------------------------------------------------------
    def check(self) -> None:
        """Raise if a block is leaked, double-owned or in two states at once."""
        free, evict = set(self.free), set(self.evictable)
        if len(free) != len(self.free):
            raise AssertionError("a block is on the free list twice")
        owned = {b for b in range(1, self.num_blocks) if self.ref[b] > 0}
        if free & evict or free & owned or evict & owned:
            raise AssertionError(f"block in two states: {sorted((free & evict) | (free & owned) | (evict & owned))}")
        if len(free) + len(evict) + len(owned) != self.num_blocks - 1 or NULL_BLOCK in free | evict | owned:
            raise AssertionError("a block is leaked (in no state) or the null block was handed out")
        if any(r < 0 for r in self.ref) or any(self.ref[b] for b in evict):
            raise AssertionError("negative refcount or an evictable block still referenced")
        if {self.block_of[k] for k in self.key_of.values()} != set(self.key_of):
            raise AssertionError("prefix registry out of sync")

    def stats(self) -> PoolStats:
        owned = self.num_blocks - 1 - len(self.free) - len(self.evictable)
        return PoolStats(blocks=self.num_blocks - 1, owned=owned, free=len(self.free), cached=len(self.evictable),
                         evictions=self.evictions)


class PagedKVCache(SequenceLengths):
    """KV for ``rows`` sequences in a shared pool of blocks; same model-facing methods as KVCache.

    pool per layer: (num_blocks, block_size, n_heads, head_dim); table: (rows, 2 * max_blocks) block
    ids, the second half always the null block, so the padding of a right-padded batch (positions past a
    row's own tokens) lands in the null block instead of failing. ``update`` writes each new K/V at (table[b, pos // bs], pos % bs) and gathers a row's blocks back
    into a (B, H, S, hd) view ordered by position: plain PyTorch pays a gather that a paged-attention
    kernel (vLLM's) avoids by reading the blocks in place. ``kernel``: decode steps (one new token per
    row) attend with the Triton kernel of ``decode_attention.py``, which reads the blocks through the
    table in place; None picks it on a GPU and the torch gather on a CPU (where Triton is interpreted).
    """

    def __init__(self, config, num_blocks: int, block_size: int, rows: int, max_len: int,
                 device="cpu", dtype=torch.float32, allocator: BlockAllocator | None = None, _views=None,
                 kernel: bool | None = None):
        self.config, self.block_size, self.rows = config, block_size, rows
        self.kernel = torch.device(device).type == "cuda" if kernel is None else kernel
        self.max_blocks = -(-max_len // block_size)
        self.max_len = self.max_blocks * block_size
        if _views is not None:                     # a one-row view made by slot()
            self.k, self.v, self.table, self.lengths, self.allocator = _views
        else:
            shape = (num_blocks, block_size, config.n_heads, config.head_dim)
            self.k = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(config.n_layers)]
            self.v = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(config.n_layers)]
            self.table = torch.zeros(rows, 2 * self.max_blocks, dtype=torch.long, device=device)
            self.lengths = torch.zeros(rows, dtype=torch.long, device=device)
            self.allocator = allocator or BlockAllocator(num_blocks, block_size)
        self.blocks: list[list[int]] = [[] for _ in range(rows)]    # host copy of each row's table
        self.used = 0

    def bytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.k + self.v)

    # --- the model-facing methods (see kv_cache.py) ------------------------------------------------
    def positions(self, T: int) -> torch.Tensor:
        if self.used + T > 2 * self.max_len:
            raise ValueError(f"rows hold {self.max_len} positions (plus as many of padding); "
                             f"{self.used} used + {T} new does not fit")
        pos = self.lengths[:, None] + torch.arange(T, device=self.lengths.device)      # (B, T)
        # where each new token goes and which blocks to gather: the same for every layer, so once here
        bs = self.block_size
        self._pos = pos
        self._slots = (self.table.gather(1, pos // bs) * bs + pos % bs).reshape(-1)  # rows of the flat pool
        self._ids = self.table[:, :self.span(T) // bs]                               # (B, nb)
        return pos

    def span(self, T: int) -> int:
        return -(-(self.used + T) // self.block_size) * self.block_size

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor, pos: torch.Tensor):
        B, H, T, D = k.shape
        if pos is not getattr(self, "_pos", None):
            self.positions(T)                      # called without positions() first: recompute
        nb = self._ids.shape[1]
        self.k[layer].view(-1, H, D).index_copy_(0, self._slots, k.transpose(1, 2).reshape(-1, H, D))
        self.v[layer].view(-1, H, D).index_copy_(0, self._slots, v.transpose(1, 2).reshape(-1, H, D))
        K = self.k[layer][self._ids].view(B, nb * self.block_size, H, D).transpose(1, 2)  # (B, H, S, D)
        V = self.v[layer][self._ids].view(B, nb * self.block_size, H, D).transpose(1, 2)
        return K, V

    def attend(self, layer: int, q, k, v, pos, mask):
        """Store the new K/V and attend (q: (B, H, T, hd)). Decode steps with ``kernel`` on read the pool
        through the block table; everything else gathers the blocks and calls masked SDPA."""
        if not self.kernel or q.shape[2] != 1:
            K, V = self.update(layer, k, v, pos)
            return F.scaled_dot_product_attention(q, K, V, attn_mask=mask)
        from labs.inference.decode_attention import decode
        if pos is not getattr(self, "_pos", None):
            self.positions(1)
        B, H, _, D = k.shape
        self.k[layer].view(-1, H, D).index_copy_(0, self._slots, k.transpose(1, 2).reshape(-1, H, D))
        self.v[layer].view(-1, H, D).index_copy_(0, self._slots, v.transpose(1, 2).reshape(-1, H, D))
        return decode(q, self.k[layer], self.v[layer], pos[:, 0] + 1, table=self.table, longest=self.used + 1)

    # --- sequence bookkeeping (host side) ----------------------------------------------------------
    def reserve(self, row: int, n_tokens: int) -> None:
        """Own enough blocks for row to hold n_tokens (allocating only what is missing)."""
        need = -(-n_tokens // self.block_size)
        if need > self.max_blocks:
            raise ValueError(f"{n_tokens} tokens need {need} blocks; a row holds {self.max_blocks}")
        while len(self.blocks[row]) < need:
            self.blocks[row].append(self.allocator.allocate())
        self._sync_row(row)

    def attach(self, row: int, blocks: list[int]) -> None:
        """Start row with already-owned blocks (a cached prefix)."""
        if self.blocks[row]:
            raise ValueError(f"row {row} still owns blocks {self.blocks[row]}: free it first")
        self.blocks[row] = list(blocks)
        self._sync_row(row)

    def free(self, row: int) -> None:
        for b in self.blocks[row]:
            self.allocator.release(b)
        self.blocks[row] = []
        self._sync_row(row)

    def _sync_row(self, row: int) -> None:
        ids = self.blocks[row] + [NULL_BLOCK] * (2 * self.max_blocks - len(self.blocks[row]))
        self.table[row] = torch.tensor(ids, dtype=torch.long)

    def slot(self, i: int, length: int | None = None) -> "PagedKVCache":
        """A one-row view of row i (writes land in the shared pool); ``length``: the row's length if known."""
        view = PagedKVCache(self.config, 0, self.block_size, 1, self.max_len, kernel=self.kernel,
                            _views=(self.k, self.v, self.table[i:i + 1], self.lengths[i:i + 1], self.allocator))
        view.blocks = [self.blocks[i]]
        view.used = int(self.lengths[i]) if length is None else length
        return view

    def rows_view(self, rows: list[int], lengths: list[int]) -> "PagedKVCache":
        """A view of several rows (any order) with the given current lengths: the pool is shared, the
        table rows are gathered. The scheduler keeps lengths on the host, so nothing is written back."""
        idx = torch.tensor(rows, dtype=torch.long, device=self.table.device)
        view = PagedKVCache(self.config, 0, self.block_size, len(rows), self.max_len, kernel=self.kernel,
                            _views=(self.k, self.v, self.table[idx], None, self.allocator))
        view.blocks = [self.blocks[r] for r in rows]
        view.lengths = torch.tensor(lengths, dtype=torch.long).to(self.table.device)
        view.used = max(lengths)
        return view

    def fragmentation(self, lengths: list[int]) -> Fragmentation:
        """Tokens stored vs capacity of the blocks the rows own (internal fragmentation)."""
        owned = sum(len(b) for b in self.blocks)
        stored = sum(lengths)
        cap = owned * self.block_size
        return Fragmentation(blocks_owned=owned, tokens=stored, capacity=cap, waste=1 - stored / cap if cap else 0.0)

    def __repr__(self):
        return (f"PagedKVCache(rows={self.rows}, block_size={self.block_size}, "
                f"blocks={self.allocator.num_blocks}, {self.bytes() / 2**20:.1f} MiB)")
