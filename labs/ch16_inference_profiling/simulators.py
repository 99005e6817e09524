"""Cost models and simulators for chapter 16 (no model runs here): KV-cache arithmetic, the batching
iteration count, chunked-prefill attention work (Table 16-5), and a KV allocator simulator."""
from __future__ import annotations

import random
from dataclasses import dataclass

from perflab.table import Table

from labs.inference.model import ModelConfig
from perflab.validate import calculator_inputs

PRESETS = {"gpt2-small (ours on GPU)": ModelConfig.gpt2(), "tiny (ours on CPU)": ModelConfig.tiny(),
           "7B-class (32 layers, d 4096)": ModelConfig(32000, 4096, 32, 32, 4096)}


# --- Concept: what the KV cache saves and what it costs ---------------------------------------------
@calculator_inputs(positive="context batch dtype_bytes")
def kv_calculator(model: str = "gpt2-small (ours on GPU)", context: int = 512, batch: int = 16,
                  dtype_bytes: int = 2) -> str:
    """Per new token at a given context: FLOPs with and without the cache, and the cache's size."""
    cfg = PRESETS[model]
    weights = cfg.n_params() - (cfg.vocab_size + cfg.max_seq_len) * cfg.d_model
    attn = 4 * cfg.n_layers * cfg.d_model
    with_cache = 2 * weights + attn * context                         # one token, attends to `context`
    without = 2 * weights * (context + 1) + attn * (context + 1) * (context + 2) // 2   # rerun all positions
    kv = cfg.kv_bytes_per_token(dtype_bytes)
    return (f"{model}: per new token {without / 1e9:,.2f} GFLOP without a cache vs {with_cache / 1e9:,.3f} "
            f"GFLOP with it ({without / with_cache:,.0f}× less work); the cache holds {kv / 1024:,.1f} KiB per "
            f"token → {kv * context * batch / 2**30:,.2f} GiB for {batch} sequences × {context} tokens")


# --- Batching: how many forward passes each policy needs ----------------------------------------------
@dataclass(frozen=True)
class PassCount:
    """Forward passes each batching policy needs if every pass costs the same (batching_model)."""
    static_passes: int
    continuous_passes: int
    ratio: float                 # static / continuous passes: continuous batching's modelled speed-up
    static_slot_use: float       # share of static batching's decode slots that hold a live request


def batching_model(outputs: list[int], slots: int) -> PassCount:
    """Forward passes if every pass costs the same: static runs each batch to its longest output;
    continuous decodes every busy slot each iteration, refills freed slots at once, and spends one
    extra (prefill) pass in each iteration that admits requests."""
    static = sum(max(outputs[i:i + slots]) + 1 for i in range(0, len(outputs), slots))  # +1: prefill
    queue, left, passes = list(outputs), [0] * slots, 0
    while queue or any(left):
        admitted = False
        for i in range(slots):
            if left[i] == 0 and queue:
                left[i], admitted = queue.pop(0), True
        decoding = any(x > 0 and not (admitted and x == 0) for x in left)
        passes += int(admitted) + int(decoding)
        left = [max(0, x - 1) for x in left]
    useful = sum(outputs)
    return PassCount(static_passes=static, continuous_passes=passes, ratio=static / passes,
                     static_slot_use=useful / (slots * (static - -(-len(outputs) // slots))))


# --- Chunked prefill: Table 16-5 ------------------------------------------------------------------------
def attention_ops(n: int) -> int:
    """Q·K dot products per layer per head for causal self-attention over n tokens: n(n+1)/2."""
    return n * (n + 1) // 2


def chunk_ops(n: int, chunk: int) -> list[int]:
    """Dot products of each chunk: its tokens attend to every earlier token and to themselves."""
    out = []
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        out.append(attention_ops(e) - attention_ops(s))
    return out


def table_16_5(n: int = 20_000, chunks=(20_000, 10_000, 5_000)) -> Table:
    rows = []
    for c in chunks:
        ops = chunk_ops(n, c)
        rows.append([f"{c:,}", len(ops), " + ".join(f"{o / 1e6:,.1f}M" for o in ops),
                     f"{sum(ops) / 1e6:,.1f}M", f"{n:,}"])
    return Table(["chunk", "chunks", "attention dot products per chunk", "total", "MLP tokens"], rows,
                 f"A {n:,}-token prompt in chunks (per layer per head; Table 16-5, L6384–L6390)",
                 ["total = n(n+1)/2 for every chunk size: chunking moves work in time, it does not remove it"])


# --- Paged KV: an allocator simulator -----------------------------------------------------------------
def kv_requests(n: int = 200, max_tokens: int = 1024, seed: int = 0) -> list[tuple[int, int, int]]:
    """(prompt, actual output, output cap) per request: prompts 20-600, a max_tokens cap of 128, 256 or
    512 (what a client sends), outputs lognormal under the cap."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        prompt = rng.randint(20, 600)
        cap = min(max_tokens - prompt, rng.choice((128, 256, 512)))
        actual = max(1, min(cap, int(rng.lognormvariate(4.5, 0.9))))
        out.append((prompt, actual, cap))
    return out


@dataclass(frozen=True)
class AllocatorRun:
    """One KV allocator policy served to the end by simulate_allocator()."""
    policy: str
    waste: float                 # share of the pool holding no KV while requests wait for memory
    peak_running: int            # concurrency: most and mean requests running at once
    mean_running: float
    steps: int                   # decode steps to finish every request
    preempted: int               # requests evicted (paged only) and recomputed later


def simulate_allocator(reqs, pool_tokens: int, policy: str, block: int = 16, max_len: int = 1024) -> AllocatorRun:
    """Serve reqs (all waiting at t=0, one token per running request per step) from a KV pool of
    pool_tokens. Policies:
      "max_len"  contiguous, reserve max_len per request (a preallocated slot)
      "cap"      contiguous, reserve prompt + output cap (first fit in one arena: holes form)
      "exact"    contiguous, reserve exactly prompt + actual output (an oracle: only the holes remain)
      "paged"    blocks of ``block`` tokens, taken as the sequence grows
    Returns the share of the pool holding no KV while requests wait for memory, and the concurrency."""
    queue, running, step = list(reqs), [], 0
    holes = [(0, pool_tokens)]                       # contiguous arena: free (start, size), by start
    free_blocks = pool_tokens // block
    waste, samples, peak, conc, preempted = 0.0, 0, 0, 0, 0

    def fit(size):
        for i, (s, n) in enumerate(holes):
            if n >= size:
                holes[i] = (s + size, n - size)
                return s
        return None

    def release(s, size):
        holes.append((s, size))
        holes.sort()
        merged = []
        for a, n in holes:
            if merged and merged[-1][0] + merged[-1][1] == a:
                merged[-1] = (merged[-1][0], merged[-1][1] + n)
            elif n:
                merged.append((a, n))
        holes[:] = merged

    while queue or running:
        while queue:                                 # admit in order while memory allows
            p, a, cap = queue[0]
            if policy == "paged":
                need = -(-(p + 1) // block)
                if need > free_blocks:
                    break
                free_blocks -= need
                running.append([p, a, 0, need, None])
            else:
                size = {"max_len": max_len, "cap": p + cap, "exact": p + a}[policy]
                start = fit(size)
                if start is None:
                    break
                running.append([p, a, 0, size, start])
            queue.pop(0)
        if queue:                                    # memory is the limit right now: measure its use
            held = sum(r[0] + r[2] for r in running)
            waste += 1 - held / pool_tokens
            samples += 1
        peak = max(peak, len(running))
        conc += len(running)
        step += 1
        for r in list(running):                      # every running request makes one token
            if r not in running:
                continue
            r[2] += 1
            if policy == "paged" and r[0] + r[2] + 1 > r[3] * block:
                while free_blocks == 0 and running[-1] is not r:   # no block left: preempt the newest
                    victim = running.pop()                          # request (vLLM's RECOMPUTE mode)
                    free_blocks += victim[3]
                    queue.insert(0, (victim[0], victim[1], 0))
                    preempted += 1
                if free_blocks == 0:
                    r[2] -= 1                        # nothing left to preempt: wait a step
                    continue
                free_blocks -= 1
                r[3] += 1
        done = [r for r in running if r[2] >= r[1]]
        for r in done:
            running.remove(r)
            if policy == "paged":
                free_blocks += r[3]
            else:
                release(r[4], r[3])
    return AllocatorRun(policy=policy, waste=waste / samples if samples else 0.0, peak_running=peak,
                        mean_running=conc / step, steps=step, preempted=preempted)


def allocator_table(pool_tokens: int = 16 * 1024, n: int = 200, seed: int = 0) -> Table:
    reqs = kv_requests(n, seed=seed)
    rows = []
    names = {"max_len": "contiguous, max_len per request", "cap": "contiguous, prompt + output cap",
             "exact": "contiguous, exact size (oracle)", "paged": "paged, 16-token blocks on demand"}
    for policy in ("max_len", "cap", "exact", "paged"):
        r = simulate_allocator(reqs, pool_tokens, policy)
        rows.append([names[policy], f"{r.waste:.0%}", r.peak_running, f"{r.mean_running:.1f}", r.steps,
                     r.preempted])
    mean_len = sum(p + a for p, a, _ in reqs) / len(reqs)
    return Table(["allocator", "pool without KV (while requests wait)", "peak running", "mean running",
                  "steps to finish", "preempted"], rows,
                 f"KV allocator simulator: {n} requests, pool of {pool_tokens:,} tokens (simulated, no model)",
                 [f"prompts 20–600 tokens, caps 128/256/512, outputs lognormal under the cap (mean prompt + "
                  f"output {mean_len:.0f} tokens), max_len = 1024",
                  "paged admits on the prompt alone and preempts the newest request when a block runs out"])


# --- Prefix caching: radix-tree hit rates on three kinds of traffic --------------------------------------
def prefix_traces(seed: int = 0) -> dict:
    """Traffic for the radix-tree table: name -> (prompts, replies)."""
    rng = random.Random(seed)
    tok = lambda n: [rng.randrange(50_000) for _ in range(n)]       # noqa: E731
    doc = tok(500)
    traces = {"10 questions on one 500-token document": ([doc + tok(20) for _ in range(10)], None)}
    sessions = [tok(60) for _ in range(6)]                          # 6 chats, each with a 60-token system turn
    chat, replies = [], []
    for _turn in range(5):                                          # 5 turns each, interleaved
        for s in range(6):
            sessions[s] = sessions[s] + tok(30)                     # the user's new message
            chat.append(list(sessions[s]))
            replies.append(tok(40))                                 # the model's reply joins the history
            sessions[s] = sessions[s] + replies[-1]
    traces["6 chats × 5 turns, interleaved"] = (chat, replies)
    traces["30 unrelated prompts"] = ([tok(rng.randint(50, 400)) for _ in range(30)], None)
    return traces


def radix_table(capacities=(None, 2000, 800)) -> Table:
    from labs.inference.prefix_cache import hit_rate
    rows = []
    for name, (prompts, replies) in prefix_traces().items():
        row = [name, f"{sum(map(len, prompts)):,}"]
        for cap in capacities:
            r = hit_rate(prompts, cap, replies)
            row.append(f"{r.hit_rate:.0%}" + (f" ({r.evicted_tokens:,} evicted)" if r.evicted_tokens else ""))
        rows.append(row)
    heads = ["unbounded" if c is None else f"cache {c:,} tokens" for c in capacities]
    return Table(["traffic", "prompt tokens"] + [f"hit rate, {h}" for h in heads], rows,
                 "Radix-tree prefix cache, LRU leaf eviction (simulated: token counts, no model)",
                 ["hit rate = prompt tokens found cached / all prompt tokens (the last token of each prompt "
                  "is always computed); each reply is inserted after its prompt, as the chapter's listing does"])
