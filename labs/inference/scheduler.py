"""The serving loop: static batching (a contiguous KV cache per batch), or continuous (iteration-level)
batching on the paged KV cache, with a prefill token budget (chunked prefill) and optional prefix caching.
A continuous engine with block_size = max_len gives each sequence one contiguous slab.

    traces = serve(model, requests, EngineConfig(policy="continuous", max_batch=8, chunk=64))

The clock is the sum of measured iteration times: each iteration ends by reading its new tokens on
the host (a device sync), so every token's timestamp is real. When nothing is running and the next
request has not arrived yet, the clock jumps to its arrival instead of sleeping. Each phase of an
iteration is a named range (engine.admit / engine.prefill / engine.decode) for torch.profiler.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

import torch
from torch.profiler import record_function

from labs.inference.generate import _pad
from labs.inference.kv_cache import KVCache
from labs.inference.metrics import Trace
from labs.inference.paged import PagedKVCache
from labs.inference.prefix_cache import match_prefix, register_prefix


@dataclass(frozen=True)
class EngineConfig:
    policy: str = "continuous"    # "static": fixed batches run to their longest request; "continuous"
    max_batch: int = 8            # sequences decoded together (slots)
    chunk: int | None = None      # continuous: prefill tokens per iteration (None: whole prompts at once)
    block_size: int = 16          # continuous: KV block size in tokens (= max_len: one slab per sequence)
    num_blocks: int | None = None  # continuous: KV pool size in blocks (default: every slot at max_len)
    prefix_cache: bool = False    # continuous: reuse the registered blocks of earlier prompts
    reserve: str = "final"        # continuous: KV reserved at admission: "final" (prompt + output: knows
    #                               the output length, an oracle), "max_len" (a row's full length) or
    #                               "on_demand" (the prompt; a block more as decoding fills one; when the
    #                               pool runs dry the newest sequence is preempted and later recomputed)
    attention: str = "auto"       # continuous decode attention: "torch" (gather + SDPA), "triton" (the
    #                               block-table kernel) or "auto" (triton on a GPU, torch on a CPU)

    def __post_init__(self):
        if self.reserve not in ("final", "max_len", "on_demand"):
            raise ValueError(f"reserve must be 'final', 'max_len' or 'on_demand', got {self.reserve!r}")
        if self.attention not in ("auto", "torch", "triton"):
            raise ValueError(f"attention must be 'auto', 'torch' or 'triton', got {self.attention!r}")
        if self.policy not in ("static", "continuous"):
            raise ValueError(f"policy must be 'static' or 'continuous', got {self.policy!r}")
        if self.chunk is not None and self.chunk < 1:
            raise ValueError(f"chunk must be None or >= 1, got {self.chunk}")
        if self.policy == "static" and (self.chunk or self.prefix_cache):
            raise ValueError("static batching prefills whole batches: chunk and prefix_cache need 'continuous'")


@dataclass
class _Seq:
    req: object
    trace: Trace
    done: int = 0                 # context tokens already in the cache
    generated: int = 0
    last: int = 0                 # the newest token (the next decode input)
    context: tuple = ()           # tokens to prefill: the prompt, or after a preemption prompt + output so far

    def __post_init__(self):
        self.context = self.context or tuple(self.req.prompt)


@dataclass
class EngineStats:
    """The continuous engine's counters over one serve(): pass ``stats=EngineStats()`` to receive them."""
    # iterations run, and the most sequences, KV blocks and cached tokens held at once
    iterations: int = 0
    peak_running: int = 0
    peak_blocks: int = 0
    peak_tokens: int = 0
    # sequences evicted when the pool ran dry (recomputed later), and the allocator at the end (.check() it)
    preempted: int = 0
    allocator: object = None


@torch.no_grad()
def serve(model, requests, cfg: EngineConfig = EngineConfig(), stats: EngineStats | None = None) -> list[Trace]:
    """Run every request to completion; return one Trace per request, in request order (a request's
    output length is its max_new_tokens: random weights have no end-of-sequence token). ``stats``: an
    EngineStats the continuous engine fills with its counters and final allocator."""
    requests = sorted(requests, key=lambda r: (r.arrival_s, r.id))
    for r in requests:
        if len(r.prompt) + r.max_new_tokens > model.config.max_seq_len or not r.prompt or r.max_new_tokens < 1:
            raise ValueError(f"request {r.id}: prompt {len(r.prompt)} + {r.max_new_tokens} new tokens must be "
                             f">= 1 each and fit max_seq_len={model.config.max_seq_len}")
    if cfg.policy == "static":
        traces = _static(model, cfg, requests)
    else:
        engine = _Continuous(model, cfg, requests, EngineStats() if stats is None else stats)
        traces = engine.run()
        engine.stats.allocator = engine.cache.allocator
    return sorted(traces, key=lambda t: t.id)


def _static(model, cfg, requests) -> list[Trace]:
    """Batches of max_batch in arrival order; each waits for its last member, then runs until its
    longest request is done (finished rows keep their slot, decoding tokens nobody reads)."""
    device, dtype = next(model.parameters()).device, next(model.parameters()).dtype
    now, traces = 0.0, []
    for i in range(0, len(requests), cfg.max_batch):
        batch = requests[i:i + cfg.max_batch]
        now = max(now, batch[-1].arrival_s)
        ts = [Trace(r.id, r.arrival_s, len(r.prompt), computed_tokens=len(r.prompt)) for r in batch]
        steps = max(r.max_new_tokens for r in batch)
        t0 = time.perf_counter()
        cache = KVCache.empty(model.config, len(batch), max(len(r.prompt) for r in batch) + steps, device, dtype)
        tokens, lengths = _pad([list(r.prompt) for r in batch], device)
        logits = model(tokens, cache, n_new=[len(r.prompt) for r in batch], logits_for=lengths - 1)
        nxt = logits[:, -1].argmax(-1)
        for step in range(steps):
            if step:
                nxt = model(nxt[:, None], cache)[:, -1].argmax(-1)
            host = nxt.tolist()                                   # sync: these tokens are ready now
            t1 = time.perf_counter()
            now, t0 = now + (t1 - t0), t1
            for r, t, tok in zip(batch, ts, host):
                if step < r.max_new_tokens:
                    t.tokens.append(tok)
                    t.token_times.append(now)
        traces += ts
    return traces


class _Continuous:
    """Slots refilled every iteration. An iteration: admit arrived requests into free slots (if the
    pool has their blocks), run one prefill forward for the admitted rows (at most ``chunk`` prompt
    tokens in all), run one decode forward for every row that has its first token, read the tokens."""

    def __init__(self, model, cfg: EngineConfig, requests, stats: EngineStats):
        self.model, self.cfg = model, cfg
        self.device = next(model.parameters()).device
        self.waiting = deque(requests)
        B = cfg.max_batch
        max_len = max(len(r.prompt) + r.max_new_tokens for r in requests)
        blocks = cfg.num_blocks or B * -(-max_len // cfg.block_size) + 1
        kernel = None if cfg.attention == "auto" else cfg.attention == "triton"
        self.cache = PagedKVCache(model.config, blocks, cfg.block_size, B, max_len, self.device,
                                  next(model.parameters()).dtype, kernel=kernel)
        self.preempted: deque = deque()                           # sequences to resume, before new ones
        self.rows: list[_Seq | None] = [None] * B
        self.lengths = [0] * B                                    # host copy of each row's cache length
        self.traces, self.now = [], 0.0
        self.stats = stats

    def run(self) -> list[Trace]:
        while self.waiting or self.preempted or any(self.rows):
            if not any(self.rows) and not self.preempted and self.waiting[0].arrival_s > self.now:
                self.now = self.waiting[0].arrival_s             # idle: jump to the next arrival
            t0 = time.perf_counter()
            with record_function("engine.admit"):
                self._admit()
            decode_rows = [i for i, s in enumerate(self.rows)
                           if s is not None and s.generated > 0 and s.done == len(s.context)]
            if self.cfg.reserve == "on_demand":
                decode_rows = self._grow(decode_rows)
            with record_function("engine.prefill"):
                prefill_rows, prefill_next = self._prefill()
            with record_function("engine.decode"):
                decode_next = self._decode(decode_rows)
            parts = [t for t in (prefill_next, decode_next) if t is not None]
            host = torch.cat(parts).tolist() if parts else []   # sync: this iteration's tokens are ready
            self.now += time.perf_counter() - t0
            self.stats.iterations += 1
            for row in decode_rows:
                self.lengths[row] += 1
            self._emit(prefill_rows + decode_rows, host)
        return self.traces

    def _admit(self):
        cache, cfg, alloc = self.cache, self.cfg, self.cache.allocator
        for row in range(cfg.max_batch):
            if self.rows[row] is not None:
                continue
            resumed = self.preempted[0] if self.preempted else None
            if resumed is None and (not self.waiting or self.waiting[0].arrival_s > self.now):
                break
            r = resumed.req if resumed else self.waiting[0]
            context = list(resumed.context) if resumed else list(r.prompt)
            shared = match_prefix(alloc, context) if cfg.prefix_cache and not resumed else []
            final = len(r.prompt) + r.max_new_tokens
            hold = {"final": final, "max_len": cache.max_len, "on_demand": len(context)}[cfg.reserve]
            need = -(-hold // cfg.block_size) - len(shared)
            if need > alloc.available():                          # no room: wait for a row to finish
                for b in shared:
                    alloc.release(b)
                if not any(self.rows):
                    raise ValueError(f"request {r.id} needs {need} KV blocks but the pool has only "
                                     f"{alloc.available()}: raise EngineConfig.num_blocks")
                break
            cache.attach(row, shared)
            cache.reserve(row, hold)
            cached = len(shared) * cfg.block_size
            if resumed:
                self.preempted.popleft()
                resumed.done = 0
                self.rows[row] = resumed
            else:
                self.waiting.popleft()
                self.rows[row] = _Seq(r, Trace(r.id, r.arrival_s, len(r.prompt), cached_tokens=cached), done=cached)
            self.lengths[row] = cached
        st = self.stats
        st.peak_running = max(st.peak_running, sum(s is not None for s in self.rows))
        st.peak_blocks = max(st.peak_blocks, alloc.stats().owned)

    def _grow(self, rows: list[int]) -> list[int]:
        """On-demand paging: give each decoding row the block its next token needs; when the pool is dry,
        preempt the most recently admitted sequence (its blocks freed, recomputed later: vLLM's recompute
        mode), which may be the row itself. Returns the rows that still decode this iteration."""
        alloc, order = self.cache.allocator, lambda i: (self.rows[i].req.arrival_s, self.rows[i].req.id)
        for row in sorted(rows, key=order):
            while self.rows[row] is not None:
                need = -(-(self.lengths[row] + 1) // self.cfg.block_size) - len(self.cache.blocks[row])
                if need <= alloc.available():
                    self.cache.reserve(row, self.lengths[row] + 1)
                    break
                running = [i for i, s in enumerate(self.rows) if s is not None]
                if running == [row]:
                    raise ValueError(f"request {self.rows[row].req.id} alone outgrows the KV pool: "
                                     f"raise EngineConfig.num_blocks")
                self._preempt(max(running, key=order))
        self.stats.peak_blocks = max(self.stats.peak_blocks, alloc.stats().owned)
        return [r for r in rows if self.rows[r] is not None]

    def _preempt(self, row: int) -> None:
        s = self.rows[row]
        s.context = tuple(s.req.prompt) + tuple(s.trace.tokens)    # recompute all of it on resume
        self.preempted.appendleft(s)
        self.rows[row] = None
        self.lengths[row] = 0
        self.cache.free(row)
        self.stats.preempted += 1

    def _prefill(self):
        """One forward over the rows still prefilling (oldest first), within the token budget."""
        budget = self.cfg.chunk or float("inf")
        rows, chunks = [], []
        for row in sorted((i for i, s in enumerate(self.rows) if s and s.done < len(s.context)),
                          key=lambda i: (self.rows[i].req.arrival_s, self.rows[i].req.id)):
            if budget <= 0:
                break
            s = self.rows[row]
            n = int(min(len(s.context) - s.done, budget))
            rows.append(row)
            chunks.append(list(s.context[s.done:s.done + n]))
            budget -= n
        if not rows:
            return [], None
        tokens, n_new = _pad(chunks, self.device)
        view = self.cache.rows_view(rows, [self.lengths[r] for r in rows])
        logits = self.model(tokens, view, n_new=[len(c) for c in chunks], logits_for=n_new - 1)
        finished = []
        for k, (row, c) in enumerate(zip(rows, chunks)):
            s = self.rows[row]
            s.done += len(c)
            s.trace.computed_tokens += len(c)
            self.lengths[row] += len(c)
            if s.done == len(s.context):
                finished.append(k)
                if self.cfg.prefix_cache and s.generated == 0:
                    register_prefix(self.cache.allocator, list(s.req.prompt), self.cache.blocks[row])
        if not finished:
            return [], None
        idx = torch.tensor(finished, device=self.device)
        return [rows[k] for k in finished], logits[idx, -1].argmax(-1)

    def _decode(self, rows):
        """One token for every row that already has its first token."""
        if not rows:
            return None
        tokens = torch.tensor([[self.rows[r].last] for r in rows], device=self.device)
        view = self.cache.rows_view(rows, [self.lengths[r] for r in rows])
        self.stats.peak_tokens = max(self.stats.peak_tokens, sum(self.lengths))
        return self.model(tokens, view)[:, -1].argmax(-1)

    def _emit(self, rows, host):
        for row, tok in zip(rows, host):
            s = self.rows[row]
            s.trace.tokens.append(tok)
            s.trace.token_times.append(self.now)
            s.generated += 1
            s.last = tok
            if s.generated == s.req.max_new_tokens:
                self.traces.append(s.trace)
                self.rows[row] = None
                self.lengths[row] = 0
                self.cache.free(row)
