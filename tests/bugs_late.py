"""Planted bugs for the labs of chapters 10-19: plausible wrong variants that the correctness gate must reject."""
from __future__ import annotations

import torch

from labtests import planted_in

# ---- ch10 --------------------------------------------------------------------------------------


@planted_in("ch10.stages", "ch10.tile_order")
def ch10_matmul_drops_last_k(a, b):
    from labs.ch10_pipelining import _matmul
    return _matmul.matmul(a[:, :-1], b[:-1])


@planted_in("ch10.persistent")
def ch10_tasks_skip_last(x):
    from labs.ch10_pipelining import persistent
    y = persistent.persistent(x)
    y[-1] = x[-1]                                   # the last task never ran: its row is not normalized
    return y


@planted_in("ch10.cluster")
def ch10_cluster_without_combining(x):
    """Each of 8 pieces normalized by its own norm: what a split kernel computes if it never combines
    the partial sums across blocks."""
    from labs.ch10_pipelining import _cuda
    parts = torch.tensor_split(x, _cuda.SPLIT, dim=1)
    return torch.cat([p / p.norm(dim=1, keepdim=True) for p in parts], dim=1)


# ---- ch11 --------------------------------------------------------------------------------------

@planted_in("ch11.overlap")
def ch11_overlap_drops_tail(x, out, iters, chunks):
    from labs.ch11_streams import overlap
    overlap.pipeline(x[:-1], out[:-1], iters, chunks)         # forgets the ragged last element
    return out


@planted_in("ch11.overlap")
def ch11_overlap_off_by_one_step(x, out, iters, chunks):
    from labs.ch11_streams import solutions
    return solutions.three_streams(x, out, iters + 1, chunks)


@planted_in("ch11.threads")
def ch11_threads_loses_a_chunk(x, out, iters, chunks):
    from labs.ch11_streams import compute, threads
    ranges = compute.chunk_ranges(x.numel(), chunks)
    src, dst = x.numpy().view("uint32"), out.numpy().view("uint32")
    buf = threads.np.empty(ranges[0][1], dtype=threads.np.uint32)
    for a, b in ranges[:-1]:
        threads.copy_out(dst, a, b, threads.compute(threads.copy_in(src, a, b, buf), iters))
    return out


# ---- ch12 --------------------------------------------------------------------------------------

@planted_in("ch12.launch_bound")
def ch12_step_skips_last_layer(x, w, b):
    from labs.ch12_graphs_scheduling import launch_bound as lb
    return lb.step(x, w[:-1], b[:-1])


@planted_in("ch12.skewed_queue")
def ch12_static_floor_ranges(x, cost, a, b, unit):
    """per = tiles // programs (floor): the last tiles belong to nobody."""
    from labs.ch12_graphs_scheduling import _triton as T
    y = torch.full_like(x, float("nan"))
    n = x.numel()
    T.static_kernel[(3,)](x, cost, y, n, a, b, -(-n // 32) // 3, BLOCK=32, UNIT=unit)
    return y


@planted_in("ch12.atomic_batch")
def ch12_queue_one_unit_short(x, cost, a, b, unit):
    from labs.ch12_graphs_scheduling import skewed_queue as sq
    return sq.dynamic(x, (cost - 1).clamp_min(0).to(torch.int32), a, b, unit)


@planted_in("ch12.book_queue")
def ch12_book_wrong_period(x, a, b, unit):
    idx = torch.arange(x.numel(), device=x.device, dtype=torch.float64)
    return (x.double() + torch.remainder(idx, 255) * (unit * b)).float()


# ---- ch14 --------------------------------------------------------------------------------------

@planted_in("ch14.graph_breaks")
def ch14_peak_without_one(x, w, b):              # divides by max instead of max + 1
    y = torch.relu(x @ w)
    y = y / y.max()
    return torch.tanh(torch.where(y.mean() > 0.25, y + b, y - b))


@planted_in("ch14.triton_matmul")
def ch14_matmul_drops_k_tail(a, b):
    return a[:, :-1] @ b[:-1]


# ---- ch15 --------------------------------------------------------------------------------------

@planted_in("ch15.greedy_verify")
def ch15_verify_forgets_bonus(logits, draft):     # keeps the accepted drafts but not the target's own token
    from labs.ch15_parallel_decoding import solutions
    out = solutions.vectorized(logits, draft)
    n = (out >= 0).sum(1, keepdim=True) - 1
    return torch.where(torch.arange(out.shape[1]) < n, out, torch.full_like(out, -1))


@planted_in("ch15.greedy_verify")
def ch15_verify_off_by_one(logits, draft):        # compares each draft with the argmax one position later
    best = logits.argmax(-1)
    ok = (draft == best[:, 1:]).long().cumprod(1)
    keep = torch.arange(best.shape[1]) <= ok.sum(1, keepdim=True)
    return torch.where(keep, best, torch.full_like(best, -1))


@planted_in("ch15.decode_linear")
def ch15_linear_drops_last_token(x, w, b):
    y = torch.nn.functional.linear(x, w, b)
    y[-1] = 0
    return y


@planted_in("ch15.speculative")
def ch15_spec_without_verification(prompt, target, draft, greedy, k, new_tokens, seed):
    """Emits the draft's proposals as they are: right only when every draft matches."""
    from labs.ch15_parallel_decoding import spec_decode as sd
    d = sd.ControlledDraft(draft, greedy, 0.8, seed)
    return torch.tensor(sd.target_greedy(target, prompt.tolist(), 1) + d.tokens[1:new_tokens])


# ---- ch17 --------------------------------------------------------------------------------------

@planted_in("ch17.kv_relayout")
def ch17_drops_last_token(src):
    from labs.ch17_disaggregation import kv_relayout
    out = kv_relayout.one_copy(src).clone()
    out[:, :, :, -1] = 0
    return out


@planted_in("ch17.kv_relayout")
def ch17_wrong_axes(src):                 # reads head h's row from the wrong place: a plain reshape, no transpose
    layers, two, tokens, heads, dim = src.shape
    return src.contiguous().view(layers, two, heads, tokens, dim).clone()


@planted_in("ch17.kv_relayout")
def ch17_empty_tail(src):                 # forgets the last head: leaves uninitialized memory there
    layers, two, tokens, heads, dim = src.shape
    out = torch.empty(layers, two, heads, tokens, dim, dtype=src.dtype)
    out[:, :, :heads - 1] = src.transpose(2, 3)[:, :, :heads - 1]
    return out


# ---- ch18 --------------------------------------------------------------------------------------

@planted_in("ch18.kv_transfer")
def ch18_skips_partial_last_page(pool16, pages16, pool128, pages128, out):
    full = out.shape[0] // 16
    for i, slot in enumerate(pages16[:full].tolist()):
        out[16 * i:16 * i + 16].copy_(pool16[slot])
    return out


@planted_in("ch18.kv_transfer")
def ch18_pages_in_pool_order(pool16, pages16, pool128, pages128, out):
    from labs.ch18_kv_tuning import paging
    ordered, _ = torch.sort(pages16)                     # loses the request's page order
    return paging.copy_pages(pool16, ordered, out)


@planted_in("ch18.kv_transfer")
def ch18_copies_whole_pool_prefix(pool16, pages16, pool128, pages128, out):
    return out.copy_(pool16.reshape(-1, out.shape[1])[:out.shape[0]])     # ignores the page table


# ---- ch19 --------------------------------------------------------------------------------------

@planted_in("ch19.w8_gemv")
def ch19_gemv_forgets_scale(x, w):
    return torch.nn.functional.linear(x, w.q.to(x.dtype))


@planted_in("ch19.w8_gemv")
def ch19_gemv_transposed_scale(x, w):                 # scales the inputs' columns instead of the outputs
    return torch.nn.functional.linear(x * w.scale[: x.shape[1]].to(x.dtype), w.q.to(x.dtype))


@planted_in("ch19.decode_precision")
@torch.no_grad()
def ch19_decode_without_prompt(model, prompt, token):  # forgets the KV cache: the token attends to nothing before it
    from labs.ch19_adaptive_inference import engine
    return engine.bundle_of(model).model("bf16")(token)[:, -1].float()


@planted_in("ch19.decode_precision")
@torch.no_grad()
def ch19_decode_one_position_late(model, prompt, token):   # decodes the token twice: its logits one position late
    from labs.ch19_adaptive_inference import engine
    from labs.inference.kv_cache import KVCache
    m = engine.bundle_of(model).model("bf16")
    cache = KVCache.empty(m.config, 1, prompt.shape[1] + 2, prompt.device, torch.bfloat16)
    m(prompt, cache)
    m(token, cache)
    return m(token, cache)[:, -1].float()
