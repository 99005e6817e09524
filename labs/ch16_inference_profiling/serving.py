"""The chapter's serving experiments on the course engine: static vs continuous batching (offline and
with arrivals), chunked prefill vs decode stalls, paged vs contiguous KV in one memory budget.

Numbers come from the engine's per-token timestamps (labs/inference/scheduler.py: each iteration ends
with a device sync, and its tokens are stamped then) — the same way a server reports TTFT and TPOT.
Each experiment runs a small warm-up workload first, so one-time costs (allocator, kernels) stay out.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from perflab.table import Table

from labs.ch16_inference_profiling import _common as C
from labs.inference.metrics import Summary, summarize
from labs.inference.scheduler import EngineConfig, EngineStats, serve
from labs.inference.workload import Request, make_workload, skewed

# per tier: requests, slots, long output length (batching); decoders, long prompt, chunks (chunked prefill)
BATCHING = {"cpu": dict(n=40, slots=8, long_len=100), "gpu": dict(n=40, slots=8, long_len=100)}
CHUNKED = {"cpu": dict(decoders=7, out=40, prompt=450, chunks=(None, 128, 64, 32)),
           "gpu": dict(decoders=7, out=40, prompt=950, chunks=(None, 256, 128, 64))}


@dataclass(frozen=True)
class Batching:
    """Static vs continuous batching on one offline workload, as batching() returns it."""
    # each policy's serving numbers (with its traces)
    static: Summary
    continuous: Summary
    # continuous / static tokens per second, and how many requests gave the same tokens both ways
    ratio: float
    match: str
    # the workload: each request's output length, and the decode slots
    outputs: tuple
    slots: int


@dataclass(frozen=True)
class Arrivals:
    """Both policies under Poisson arrivals, judged against an SLO, as with_arrivals() returns it."""
    static: Summary
    continuous: Summary


@dataclass(frozen=True)
class ChunkRow:
    """One chunk size of chunked_prefill(): the decoders' gaps, the long prompt's TTFT, the work done."""
    chunk: int | None            # prefill tokens per iteration (None: the whole prompt at once)
    max_gap: float | None        # decoders' longest gap between tokens, s
    tpot_p50: float | None       # decoders' TPOT p50, s
    long_ttft: float             # the long prompt's TTFT, s
    computed: int                # prompt tokens run through the model


@dataclass(frozen=True)
class PrefixTokens:
    """Prompt tokens each prefix-caching variant computes, as prefix_tokens() returns it."""
    recompute: int
    prefix_cache: int


@dataclass(frozen=True)
class BatchSweep:
    """Decode throughput per batch size, as batch_sweep() returns it."""
    context: int                 # tokens of context every sequence decodes at
    tokens_per_s: dict           # batch size -> tokens/s of one cached decode step (batch ÷ step time)

    def gain(self, batch: int, over: int = 1) -> float:
        """tokens/s at ``batch`` ÷ tokens/s at ``over``."""
        return self.tokens_per_s[batch] / self.tokens_per_s[over]


def _ms(x):
    return "—" if x is None else f"{x * 1e3:,.1f}"


def _warm(model):
    serve(model, skewed(4, model.config.vocab_size, 6, seed=99), EngineConfig(policy="static", max_batch=2))
    serve(model, skewed(4, model.config.vocab_size, 6, seed=99), EngineConfig(max_batch=2, chunk=8))


# --- static vs continuous ------------------------------------------------------------------------
def batching(device: str, seed: int = 0) -> Batching:
    """Offline (everything queued at t=0) skewed workload under both policies."""
    p = BATCHING[C.tier_of(device)]
    model = C.model_for(device)
    reqs = skewed(p["n"], model.config.vocab_size, p["long_len"], seed=seed)
    _warm(model)
    static, cont = (summarize(serve(model, reqs, EngineConfig(policy=policy, max_batch=p["slots"])))
                    for policy in ("static", "continuous"))
    same = sum(a.tokens == b.tokens for a, b in zip(static.traces, cont.traces))
    match = f"{same}/{len(reqs)} requests give the same tokens under both policies" + (
        "" if same == len(reqs) else " (batch shapes differ, so float sums are ordered differently; a "
                                     "near-tie between two logits can then flip one greedy choice)")
    return Batching(static=static, continuous=cont, ratio=cont.tokens_per_s / static.tokens_per_s, match=match,
                    outputs=tuple(r.max_new_tokens for r in reqs), slots=p["slots"])


def batching_table(res: Batching, device: str) -> Table:
    from labs.ch16_inference_profiling.simulators import batching_model
    model = batching_model(res.outputs, res.slots)
    rows = []
    for policy, s in (("static", res.static), ("continuous", res.continuous)):
        rows.append([policy, f"{s.span_s * 1e3:,.0f}", f"{s.tokens_per_s:,.0f}", _ms(s.ttft_p50),
                     _ms(s.ttft_p99), _ms(s.tpot_p50), _ms(s.tpot_p99)])
    outs = res.outputs
    return Table(["policy", "total ms", "tokens/s", "TTFT p50 ms", "TTFT p99 ms", "TPOT p50 ms", "TPOT p99 ms"],
                 rows, f"{len(outs)} requests, {res.slots} slots, outputs {min(outs)}–{max(outs)} tokens "
                       f"(mean {sum(outs) / len(outs):.0f}) · measured on {device}",
                 [f"continuous / static throughput: {res.ratio:.2f}×", res.match,
                  f"pass-count model (every forward costs the same): {model.ratio:.2f}× "
                  f"({model.static_passes} vs {model.continuous_passes} passes); static keeps only "
                  f"{model.static_slot_use:.0%} of its decode slots busy"])


# --- the same with arrivals and an SLO ----------------------------------------------------------------
def with_arrivals(device: str, offline: Batching, load: float = 0.8, seed: int = 1) -> tuple[Table, Arrivals]:
    """Poisson arrivals at ``load`` × the continuous engine's offline request rate (``offline``: the
    result of batching()); SLOs from the offline run: TTFT ≤ 30 × and TPOT ≤ 2 × its TPOT p50."""
    p = BATCHING[C.tier_of(device)]
    model = C.model_for(device)
    cont = offline.continuous
    rate = load * cont.requests / cont.span_s
    reqs = skewed(p["n"], model.config.vocab_size, p["long_len"], seed=seed + 1, rate_rps=rate)
    tpot_slo = 2 * cont.tpot_p50
    ttft_slo = 30 * cont.tpot_p50
    rows, out = [], {}
    for policy in ("static", "continuous"):
        s = summarize(serve(model, reqs, EngineConfig(policy=policy, max_batch=p["slots"])), ttft_slo, tpot_slo)
        out[policy] = s
        rows.append([policy, _ms(s.ttft_p50), _ms(s.ttft_p99), _ms(s.tpot_p99), f"{s.tokens_per_s:,.0f}",
                     f"{s.slo_met:.0%}", f"{s.goodput_rps:.1f}"])
    t = Table(["policy", "TTFT p50 ms", "TTFT p99 ms", "TPOT p99 ms", "tokens/s", "met SLO", "goodput req/s"],
              rows, f"Poisson arrivals at {rate:.1f} req/s ({load:.0%} of the offline continuous rate) · {device}",
              [f"SLO: TTFT ≤ {ttft_slo * 1e3:.0f} ms and TPOT ≤ {tpot_slo * 1e3:.1f} ms (from the offline run's "
               "TPOT p50: 30× and 2×)", "goodput = requests per second that met both"])
    return t, Arrivals(**out)


# --- chunked prefill -------------------------------------------------------------------------------
def chunked_prefill(device: str) -> tuple[Table, list[ChunkRow]]:
    """Decoders are streaming when one long prompt arrives; sweep the prefill token budget per iteration."""
    p = CHUNKED[C.tier_of(device)]
    model = C.model_for(device)
    V = model.config.vocab_size
    decoders = make_workload(p["decoders"], vocab_size=V, prompt_len=("fixed", 16),
                             output_len=("fixed", p["out"]), seed=5)
    long = make_workload(1, vocab_size=V, prompt_len=("fixed", p["prompt"]), output_len=("fixed", 2), seed=6)[0]
    reqs = decoders + [Request(len(decoders), long.prompt, 2, 1e-9)]       # arrives after iteration 1
    _warm(model)
    rows, raw = [], []
    for chunk in p["chunks"]:
        traces = serve(model, reqs, EngineConfig(max_batch=p["decoders"] + 1, chunk=chunk))
        dec = summarize(traces[:-1])
        lt = traces[-1]
        computed = sum(t.computed_tokens for t in traces)
        raw.append(ChunkRow(chunk=chunk, max_gap=dec.max_gap, tpot_p50=dec.tpot_p50, long_ttft=lt.ttft,
                            computed=computed))
        rows.append(["whole prompt" if chunk is None else f"{chunk}", _ms(dec.max_gap), _ms(dec.tpot_p50),
                     _ms(lt.ttft), f"{computed:,}"])
    return Table(["prefill tokens / iteration", "decoders' max gap ms", "decoders' TPOT p50 ms",
                  "long prompt TTFT ms", "prompt tokens computed"], rows,
                 f"{p['decoders']} decoders streaming; a {p['prompt']}-token prompt arrives · {device}",
                 ["the prompt tokens computed are the same in every row (the attention work too: Table 16-5)"]), raw


# --- paged vs contiguous in one budget -------------------------------------------------------------
KV_SETUPS = (  # (row label, block size: None = one max_len slab, KV reserved at admission)
    ("contiguous: one max_len slab each", None, "max_len"),
    ("paged, reserving max_len (the layout alone)", 16, "max_len"),
    ("paged, on demand (a block as tokens arrive)", 16, "on_demand"),
    ("paged, reserving the known final length (oracle)", 16, "final"))


def paged_vs_contiguous(device: str, seed: int = 2) -> Table:
    """The same KV memory (8 max-length sequences' worth) under four allocators, so each gain has its
    cause: the paged layout alone (same max_len reservation as contiguous), paging's own on-demand growth
    (neither knows the output length), and an oracle that reserves each request's final length."""
    model = C.model_for(device)
    V = model.config.vocab_size
    max_len = model.config.max_seq_len // 2
    reqs = make_workload(32, vocab_size=V, prompt_len=("uniform", 16, max_len // 4),
                         output_len=("lognormal", 24, 0.7, 4, max_len // 2), seed=seed)
    reqs.append(Request(len(reqs), (1,) * (max_len - 1), 1))     # one request of exactly max_len tokens
    budget = 8 * max_len
    _warm(model)
    rows = []
    for name, block, reserve in KV_SETUPS:
        block = block or max_len
        cfg = EngineConfig(max_batch=32, block_size=block, num_blocks=budget // block + 1, reserve=reserve)
        st = EngineStats()
        s = summarize(serve(model, reqs, cfg, stats=st))
        rows.append([name, st.peak_running, f"{st.peak_blocks * block:,}", st.preempted,
                     f"{s.tokens_per_s:,.0f}", f"{s.span_s * 1e3:,.0f}", st.iterations])
    mean = sum(len(r.prompt) + r.max_new_tokens for r in reqs) / len(reqs)
    return Table(["KV allocator", "peak sequences", "peak KV tokens reserved", "preempted", "tokens/s", "total ms",
                  "iterations"], rows,
                 f"{len(reqs)} requests (mean {mean:.0f} tokens each), KV budget {budget:,} tokens · {device}",
                 ["paging's own gain: 'on demand' vs 'contiguous' (neither knows an output length in advance; "
                  "on demand preempts the newest sequence when the pool runs dry and recomputes it later)",
                  "'reserving max_len': blocks alone admit no more sequences (it runs faster only because the "
                  "torch path attends over whole blocks, and a slab is one max_len block)",
                  "the oracle row needs every output length in advance, which a server whose model can stop "
                  "early does not have"])


# --- decode throughput against batch size (the L6334 claim) -------------------------------------------
def batch_sweep(device: str, batches=(1, 2, 4, 8), context: int = 200) -> tuple[Table, BatchSweep]:
    """One cached decode step per batch size, timed with pl.bench: tokens/s = batch / step time."""
    import perflab as pl
    from labs.ch16_inference_profiling.profiling import decode_step
    rows, rate = [], {}
    for b in batches:
        m = pl.bench(decode_step(device, b, context), rep_ms=60, label=f"decode batch {b}")
        rate[b] = b / m.median
        rows.append([b, f"{m.median * 1e3:,.2f}", f"{rate[b]:,.0f}", f"{rate[b] / rate[batches[0]]:.1f}×"])
    return Table(["batch", "step ms", "tokens/s", "vs batch 1"], rows,
                 f"Decode throughput vs batch size at a {context}-token context · {device}",
                 ["a step reads every weight once whatever the batch: while that (and launch overhead) "
                  "dominates, tokens/s grows almost linearly with the batch"]), BatchSweep(context, rate)


def prefix_tokens(device: str) -> PrefixTokens:
    """Prompt tokens each prefix-caching variant computes at the lab's default size on this tier."""
    import perflab as pl
    from labs.ch16_inference_profiling.prefix_caching import answer
    lab = pl.load("ch16.prefix_caching")
    inputs = lab.make_inputs(lab.SIZES[C.tier_of(device)][0], device, "float32", 0)
    out = {}
    for name, flag in (("recompute", False), ("prefix_cache", True)):
        answer(inputs["model"], inputs["prompts"], prefix_cache=flag)
        out[name] = sum(t.computed_tokens for t in answer.last)
    return PrefixTokens(**out)


def headlines(kv_run, batching_result, graph_run) -> str:
    """The chapter's three headline ratios from this session's runs, one line each."""
    def ratio(run, variant):
        rec = next((r for r in run.records if r.variant == variant), None) if run else None
        return rec.speedup_vs_baseline if rec and rec.speedup_vs_baseline else None
    kv, graph = ratio(kv_run, "kv_cache"), ratio(graph_run, "cuda_graph")
    b, p, n = kv_run.size if kv_run else (0, 0, 0)
    lines = [f"KV cache vs no cache: {kv:.1f}× tokens/s ({b} sequences at a ~{p + n // 2}-token context)" if kv
             else "KV cache vs no cache: not measured",
             f"continuous vs static batching: {batching_result.ratio:.1f}× tokens/s (skewed outputs)",
             f"CUDA-graph vs eager decode at batch 1: {graph:.1f}× per token" if graph
             else "CUDA-graph vs eager decode at batch 1: needs a CUDA GPU (not measured on this tier)"]
    return "\n".join(lines)
