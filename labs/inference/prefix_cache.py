"""Prefix caching two ways: block hashing over the paged allocator (what the engine uses) and a
token radix tree with LRU leaf eviction (the structure of the chapter's listing, for hit-rate studies).

Block hashing: a prompt's full blocks get chained keys, key_i = (hash(key_{i-1}), tokens of block i),
so equal keys mean equal *whole prefixes*, not just equal blocks. A new request walks its keys and
takes every block already registered; it computes only what follows. The last prompt token is always
computed (its logits give the first output token), so at most len(prompt) - 1 tokens are reused.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count

from labs.inference.paged import BlockAllocator


def block_keys(tokens: list[int], block_size: int) -> list[tuple]:
    """Chained keys of every *full* block of ``tokens``."""
    keys, parent = [], 0
    for start in range(0, len(tokens) - block_size + 1, block_size):
        key = (parent, tuple(tokens[start:start + block_size]))
        keys.append(key)
        parent = hash(key)
    return keys


def match_prefix(allocator: BlockAllocator, prompt: list[int]) -> list[int]:
    """Own (refcount +1) the registered blocks of the longest cached prefix of prompt[:-1]."""
    blocks = []
    for key in block_keys(prompt[:-1], allocator.block_size):
        block = allocator.lookup(key)
        if block is None:
            break
        blocks.append(block)
    return blocks


def register_prefix(allocator: BlockAllocator, prompt: list[int], blocks: list[int]) -> None:
    """After prefill: record each full prompt block so later requests can reuse it."""
    for key, block in zip(block_keys(prompt, allocator.block_size), blocks):
        allocator.register(block, key)


# --- a token radix tree (compressed trie) with LRU eviction of leaves ---------------------------------

_clock = count()


@dataclass(eq=False)
class Node:
    edge: tuple = ()                              # the tokens on the edge from the parent to this node
    children: dict = field(default_factory=dict)  # first token of a child's edge -> child
    parent: "Node | None" = None
    last_used: int = 0


class RadixTree:
    """Token sequences sharing prefixes, stored once. ``capacity`` (tokens) bounds the cached KV:
    inserting beyond it evicts least-recently-used leaves first, as SGLang's RadixAttention does.

    >>> t = RadixTree()
    >>> t.insert([1, 2, 3, 4]); t.insert([1, 2, 9])
    4
    1
    >>> t.match([1, 2, 3, 7]), t.size
    (3, 5)
    """

    def __init__(self, capacity: int | None = None):
        self.root, self.capacity, self.size, self.evicted = Node(), capacity, 0, 0

    def match(self, tokens) -> int:
        """Length of the longest cached prefix of tokens (touches the nodes it walks: LRU)."""
        node, i = self.root, 0
        while i < len(tokens) and tokens[i] in node.children:
            child = node.children[tokens[i]]
            n = _common(child.edge, tokens[i:])
            child.last_used = next(_clock)
            i += n
            if n < len(child.edge):
                break
            node = child
        return i

    def insert(self, tokens) -> int:
        """Add tokens (splitting an edge where they diverge); returns how many tokens were new."""
        tokens, node, i = tuple(tokens), self.root, 0
        stamp = next(_clock)
        while i < len(tokens):
            child = node.children.get(tokens[i])
            if child is None:                         # no edge starts here: hang the rest as a new leaf
                leaf = Node(tokens[i:], parent=node, last_used=stamp)
                node.children[tokens[i]] = leaf
                self.size += len(leaf.edge)
                self._evict(keep=leaf)
                return len(leaf.edge)
            n = _common(child.edge, tokens[i:])
            if n < len(child.edge):                   # diverge inside the edge: split it at n
                mid = Node(child.edge[:n], parent=node, last_used=stamp)
                node.children[tokens[i]] = mid
                child.edge, child.parent = child.edge[n:], mid
                mid.children[child.edge[0]] = child
                child = mid
            child.last_used = stamp
            node, i = child, i + n
        return 0

    def _evict(self, keep: Node) -> None:
        while self.capacity is not None and self.size > self.capacity:
            leaves = [n for n in self._nodes() if not n.children and n is not keep]
            if not leaves:
                return
            victim = min(leaves, key=lambda n: n.last_used)
            del victim.parent.children[victim.edge[0]]
            self.size -= len(victim.edge)
            self.evicted += len(victim.edge)

    def _nodes(self):
        stack = [self.root]
        while stack:
            n = stack.pop()
            if n is not self.root:
                yield n
            stack.extend(n.children.values())

    def edges(self) -> list[tuple]:
        """Every edge label (for printing small trees)."""
        return sorted(n.edge for n in self._nodes())


def _common(a, b) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


@dataclass(frozen=True)
class HitRate:
    """Prompt tokens found in a radix-tree prefix cache over a replayed trace (hit_rate())."""
    hit_tokens: int
    prompt_tokens: int
    hit_rate: float              # hit_tokens / prompt_tokens
    evicted_tokens: int          # tokens the LRU eviction dropped to stay within the capacity


def hit_rate(prompts: list[list[int]], capacity: int | None = None, replies: list | None = None) -> HitRate:
    """Replay prompts through a RadixTree: the share of prompt tokens found cached. ``replies``: the
    tokens generated for each prompt, inserted after it (as the chapter's listing caches generated prefixes)."""
    tree, hits, total = RadixTree(capacity), 0, 0
    for i, p in enumerate(prompts):
        hits += min(tree.match(p), len(p) - 1)
        total += len(p)
        tree.insert(list(p) + list(replies[i] if replies else []))
    return HitRate(hit_tokens=hits, prompt_tokens=total, hit_rate=hits / total if total else 0.0,
                   evicted_tokens=tree.evicted)
