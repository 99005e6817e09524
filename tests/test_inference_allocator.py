"""The paged KV allocator and the prefix caches: invariants under seeded random operation sequences
(no block leaked, none owned twice), the paged cache's bookkeeping, and the radix tree by hand."""
import random

import pytest
import torch

from labs.inference.model import ModelConfig, build_model
from labs.inference.kv_cache import KVCache
from labs.inference.paged import NULL_BLOCK, BlockAllocator, OutOfBlocks, PagedKVCache, PoolStats
from labs.inference.prefix_cache import RadixTree, block_keys, hit_rate, match_prefix, register_prefix


@pytest.mark.parametrize("seed", range(12))
def test_random_operations_keep_every_block_in_exactly_one_state(seed):
    rng = random.Random(seed)
    alloc = BlockAllocator(rng.randint(2, 40), block_size=4)
    owned: list[int] = []                        # one entry per reference we hold
    keys = [(0, (i,)) for i in range(12)]
    for _ in range(400):
        op = rng.random()
        if op < 0.35:
            try:
                b = alloc.allocate()
            except OutOfBlocks:
                assert alloc.available() == 0
                continue
            assert b != NULL_BLOCK and alloc.ref[b] == 1
            owned.append(b)
        elif op < 0.65 and owned:
            alloc.release(owned.pop(rng.randrange(len(owned))))
        elif op < 0.8 and owned:
            alloc.register(rng.choice(owned), rng.choice(keys))
        else:
            b = alloc.lookup(rng.choice(keys))
            if b is not None:
                owned.append(b)
        alloc.check()
        for b in set(owned):
            assert alloc.ref[b] == owned.count(b), "refcount disagrees with the references held"
    for b in owned:
        alloc.release(b)
    alloc.check()
    assert alloc.stats().owned == 0
    assert alloc.available() == alloc.num_blocks - 1


def test_double_free_and_null_block_are_refused():
    alloc = BlockAllocator(4, 8)
    b = alloc.allocate()
    alloc.release(b)
    with pytest.raises(ValueError, match="double free"):
        alloc.release(b)
    with pytest.raises(ValueError):
        alloc.release(NULL_BLOCK)
    with pytest.raises(ValueError, match="null block"):
        BlockAllocator(1, 8)


def test_check_catches_a_corrupted_allocator():
    alloc = BlockAllocator(6, 4)
    b = alloc.allocate()
    alloc.free.append(b)                         # planted bug: owned and free at once
    with pytest.raises(AssertionError):
        alloc.check()
    alloc = BlockAllocator(6, 4)
    alloc.free.pop()                             # planted bug: a block in no state (leaked)
    with pytest.raises(AssertionError, match="leaked"):
        alloc.check()


def test_cached_blocks_are_evicted_lru_only_when_the_free_list_is_empty():
    alloc = BlockAllocator(4, 2)                  # blocks 1, 2, 3
    a, b = alloc.allocate(), alloc.allocate()
    alloc.register(a, ("a",))
    alloc.register(b, ("b",))
    alloc.release(a)
    alloc.release(b)                              # both cached, a older than b
    assert alloc.stats() == PoolStats(blocks=3, owned=0, free=1, cached=2, evictions=0)
    assert alloc.lookup(("a",)) == a              # a hit makes a the most recent
    alloc.release(a)
    c = alloc.allocate()                          # the free block first
    assert c not in (a, b) and alloc.evictions == 0
    d = alloc.allocate()                          # then the least recently used cached block: b
    assert d == b and alloc.lookup(("b",)) is None and alloc.evictions == 1
    alloc.check()


def test_block_keys_chain_the_whole_prefix():
    k1 = block_keys([1, 2, 3, 4, 5], 2)
    assert len(k1) == 2 and k1[0] == (0, (1, 2)) and k1[1][1] == (3, 4)
    k2 = block_keys([9, 9, 3, 4], 2)
    assert k2[1][1] == k1[1][1] and k2[1] != k1[1], "equal blocks after different prefixes differ"


def test_match_and_register_prefix():
    alloc = BlockAllocator(10, 4)
    prompt = list(range(13))
    blocks = [alloc.allocate() for _ in range(4)]
    register_prefix(alloc, prompt, blocks)        # 3 full blocks registered, the partial 4th not
    assert len(alloc.key_of) == 3
    got = match_prefix(alloc, prompt[:12] + [99])
    assert got == blocks[:3]
    assert match_prefix(alloc, prompt[:12]) == blocks[:2], "the last prompt token is always recomputed"
    assert match_prefix(alloc, [7] + prompt[1:]) == []


def test_paged_cache_reserve_free_and_views():
    cfg = ModelConfig.tiny()
    cache = PagedKVCache(cfg, num_blocks=9, block_size=4, rows=2, max_len=16)
    cache.reserve(0, 10)
    assert len(cache.blocks[0]) == 3 and cache.table[0, :4].tolist()[:3] == cache.blocks[0]
    assert cache.table[0, 3:].eq(NULL_BLOCK).all()
    cache.reserve(0, 12)                          # still 3 blocks
    assert len(cache.blocks[0]) == 3
    with pytest.raises(ValueError, match="blocks"):
        cache.reserve(1, 17)
    assert cache.fragmentation([10, 0]).waste == pytest.approx(2 / 12)
    cache.free(0)
    cache.allocator.check()
    assert cache.allocator.available() == 8


def test_paged_forward_equals_contiguous_forward():
    torch.manual_seed(0)
    cfg = ModelConfig.tiny()
    model = build_model(cfg)
    tokens = torch.randint(0, cfg.vocab_size, (3, 21))
    lengths = [21, 9, 14]
    contiguous = KVCache.empty(cfg, 3, 30)
    paged = PagedKVCache(cfg, num_blocks=40, block_size=5, rows=3, max_len=30)
    for r in range(3):
        paged.reserve(r, 30)
    a = model(tokens, contiguous, n_new=lengths)
    b = model(tokens, paged, n_new=lengths)
    for r, n in enumerate(lengths):
        torch.testing.assert_close(a[r, :n], b[r, :n], atol=1e-5, rtol=1e-5)
    nxt = torch.randint(0, cfg.vocab_size, (3, 1))
    torch.testing.assert_close(model(nxt, contiguous), model(nxt, paged), atol=1e-5, rtol=1e-5)


def test_radix_tree_by_hand():
    t = RadixTree()
    assert t.insert([1, 2, 3, 4]) == 4
    assert t.insert([1, 2, 5]) == 1               # splits the edge (1,2,3,4) at 2
    assert t.edges() == [(1, 2), (3, 4), (5,)]
    assert t.match([1, 2, 3, 9]) == 3 and t.match([7]) == 0 and t.match([1, 2, 5, 6]) == 3
    assert t.insert([1, 2, 3, 4]) == 0 and t.size == 5


def test_radix_tree_evicts_least_recently_used_leaves():
    t = RadixTree(capacity=6)
    t.insert([1, 2, 3])                           # size 3
    t.insert([1, 2, 4, 5])                        # split: (1,2) (3) (4,5): size 5
    t.match([1, 2, 3])                            # touch the (3) leaf: (4,5) is now the LRU leaf
    t.insert([7, 8])                              # size 7 > 6: evict (4,5)
    assert t.size == 5 and t.evicted == 2
    assert t.match([1, 2, 4, 5]) == 2 and t.match([1, 2, 3]) == 3 and t.match([7, 8]) == 2


def test_hit_rate_of_a_shared_document():
    doc = list(range(100))
    prompts = [doc + [1000 + i] for i in range(10)]
    r = hit_rate(prompts)
    assert r.hit_tokens == 9 * 100 and r.prompt_tokens == 1010
    assert r.hit_rate == pytest.approx(900 / 1010)
