"""Paged-KV decode attention: gather the pages then SDPA vs one Triton kernel that reads the block table; bf16, int8, fp8 KV."""
from __future__ import annotations

import math

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch

from labs.ch18_kv_tuning import kv_quant
from labs.inference.decode_attention import decode

TITLE = "Decode attention over a paged KV cache: gather + SDPA vs a block-table Triton kernel, bf16 / int8 / fp8 KV"
# (sequences, mean cached tokens, heads, head_dim, block size): each sequence has its own odd length, so
# last blocks are partial; the pool holds other sequences' KV around them, in random blocks
SIZES = {"gpu": [(32, 3_001, 16, 128, 16), (128, 1_023, 16, 128, 16), (8, 12_001, 16, 128, 16)],
         "cpu": [(3, 77, 2, 32, 16), (2, 45, 3, 16, 16), (4, 101, 2, 16, 8)]}
DTYPES = ["bfloat16", "float16"]


OPTIONS = pl.LabOptions(gate_note=(
    "bandwidth is not what bounds these kernels at this size: the int8 and fp8 variants read half the KV "
    "bytes of bf16 and take the same time on the H100 reference (all three about two thirds of the copy "
    "rate), so the per-page block-table lookups and the split's final reduction do; `python -m "
    "labs.gate_counters` reads their counters."))


def _unpack(size):
    if len(size) != 5:
        raise ValueError(f"size is (sequences, mean cached tokens, heads, head_dim, block size), got {size!r}")
    return size


def lengths_of(size) -> list[int]:
    """Each sequence's cached tokens: spread from half to 1.5× the mean, fixed by the size alone (so bytes()
    can count them), never a multiple of the block size.

    >>> lengths_of((3, 77, 2, 32, 16))
    [38, 77, 116]
    """
    B, mean, _, _, bs = _unpack(size)
    out = []
    for i in range(B):
        n = max(1, round(mean * (0.5 + i / max(B - 1, 1))))
        out.append(n + 1 if n % bs == 0 else n)
    return out


def make_inputs(size, device="cpu", dtype="bfloat16", seed: int = 0) -> dict:
    """One layer's pool (blocks, block size, heads, head_dim) for K and V, each sequence's blocks in random
    slots among 25% spare blocks of other KV, the block table, lengths, one query per sequence, and the
    same pools stored as int8 and fp8 codes with one scale per (slot, head) (kv_quant, per token)."""
    B, _, H, D, bs = _unpack(size)
    lengths = lengths_of(size)
    lengths = lengths[seed % B:] + lengths[:seed % B]         # which sequence is long depends on the seed
    need = [-(-n // bs) for n in lengths]
    total = sum(need) + max(1, sum(need) // 4) + 1                    # + spare; block 0 stays the null block
    g = torch.Generator(device=device).manual_seed(seed)
    dt = getattr(torch, dtype)
    pool = {n: torch.randn(total, bs, H, D, generator=g, device=device).to(dt) for n in ("k", "v")}
    order = torch.randperm(total - 1, generator=torch.Generator().manual_seed(seed)) + 1
    table = torch.zeros(B, max(need), dtype=torch.int32)
    taken = 0
    for b, n in enumerate(need):
        table[b, :n] = order[taken:taken + n]
        taken += n
    q = torch.randn(B, H, D, generator=g, device=device).to(dt)
    inputs = {"q": q, "k": pool["k"], "v": pool["v"], "table": table.to(device),
              "lengths": torch.tensor(lengths, dtype=torch.int32, device=device)}
    for kind in ("int8", "fp8"):
        inputs[kind] = {n: quantize_pool(pool[n], kind) for n in ("k", "v")}
    return inputs


def quantize_pool(pool: torch.Tensor, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(codes, scale): a (blocks, bs, H, D) pool as int8 / fp8 codes and one float32 scale per (slot, head),
    by ch18's quantizer (per token, no full-precision window)."""
    qt = kv_quant.quantize(pool.transpose(1, 2), kind, "token", window=0)        # (blocks, H, bs, D)
    return qt.codes.transpose(1, 2).contiguous(), qt.scale[..., 0].transpose(1, 2).contiguous()


def _gathered(pool, table, lengths):
    """(B, H, S, D) K or V (or (B, H, S) scales) gathered from the pool in position order, S = the
    table's width in tokens; positions past a sequence's length hold other KV and must be masked."""
    return pool[table.long()].flatten(1, 2).transpose(1, 2)


def _mask(table, lengths, bs):
    keys = torch.arange(table.shape[1] * bs, device=table.device)
    return (keys[None, :] < lengths[:, None].long())[:, None, None, :]            # (B, 1, 1, S)


def reference(q, k, v, table, lengths, int8, fp8) -> torch.Tensor:
    """float64 attention over each sequence's own keys of the bf16/fp16 pool."""
    K, V = _gathered(k, table, lengths).double(), _gathered(v, table, lengths).double()
    s = (q.double()[:, :, None] @ K.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    s = s.masked_fill(~_mask(table, lengths, k.shape[1]), float("-inf"))
    return (torch.softmax(s, dim=-1) @ V)[:, :, 0]


def bytes(size, dtype="bfloat16") -> int:
    """K and V of every cached token once in the lab dtype (+ q and o): what the bf16 variants must read."""
    B, _, H, D, _ = _unpack(size)
    return (2 * sum(lengths_of(size)) + 2 * B) * H * D * torch.empty(0, dtype=getattr(torch, dtype)).element_size()


def flops(size, dtype="bfloat16") -> int:
    B, _, H, D, _ = _unpack(size)
    return 4 * sum(lengths_of(size)) * H * D


def _sdpa(q, K, V, mask):
    return torch.nn.functional.scaled_dot_product_attention(q[:, :, None], K, V, attn_mask=mask)[:, :, 0]


@pl.variant(backend="torch", note="the engine's torch path: gather every page into (B, H, S, D), then masked SDPA")
def gather_sdpa(q, k, v, table, lengths, int8, fp8):
    return _sdpa(q, _gathered(k, table, lengths), _gathered(v, table, lengths), _mask(table, lengths, k.shape[1]))


@pl.variant(backend="triton", note="one kernel reads each key through the block table: no gathered copy")
def triton_paged(q, k, v, table, lengths, int8, fp8):
    return decode(q, k, v, lengths, table=table, longest=max_length(table, k))


@pl.variant(backend="torch", precision="bfloat16", tol=2e-2,
            note="int8 KV without a fused kernel: gather the codes, dequantize to a bf16 copy, then SDPA")
def gather_dequant_sdpa_int8(q, k, v, table, lengths, int8, fp8):
    K, V = (_gathered(c, table, lengths).to(q.dtype) * _gathered(s, table, lengths)[..., None].to(q.dtype)
            for c, s in (int8["k"], int8["v"]))
    return _sdpa(q, K, V, _mask(table, lengths, k.shape[1]))


@pl.variant(backend="triton", precision="bfloat16", tol=2e-2,
            note="int8 KV read through the block table, scaled in registers: half the bytes of bf16")
def triton_paged_int8(q, k, v, table, lengths, int8, fp8):
    (ck, sk), (cv, sv) = int8["k"], int8["v"]
    return decode(q, ck, cv, lengths, table=table, k_scale=sk, v_scale=sv, longest=max_length(table, k))


@pl.variant(backend="triton", needs="sm_89", precision="float8",
            note="fp8 (e4m3) KV read through the block table (sm_89+ on a GPU): half the bytes, coarser values")
def triton_paged_fp8(q, k, v, table, lengths, int8, fp8):
    (ck, sk), (cv, sv) = fp8["k"], fp8["v"]
    return decode(q, ck, cv, lengths, table=table, k_scale=sk, v_scale=sv, longest=max_length(table, k))


def max_length(table, pool) -> int:
    """An upper bound of the lengths known on the host (the table's width in tokens): no device read."""
    return table.shape[1] * pool.shape[1]


variants = [gather_sdpa, triton_paged, gather_dequant_sdpa_int8, triton_paged_int8, triton_paged_fp8]


def kv_bytes(variant: str, size, dtype="bfloat16") -> int:
    """Bytes of KV a variant reads per call (the traffic model): the gather path also writes and re-reads
    its copy; quantized codes are 1 byte per element plus a 4-byte scale per (slot, head).

    >>> kv_bytes("triton_paged_int8", (1, 100, 1, 64, 16)) / kv_bytes("triton_paged", (1, 100, 1, 64, 16))
    0.53125
    """
    B, _, H, D, bs = _unpack(size)
    tokens = sum(lengths_of(size))
    padded = B * max(-(-n // bs) for n in lengths_of(size)) * bs          # the gather copies whole tables
    e = torch.empty(0, dtype=getattr(torch, dtype)).element_size()
    quant = 2 * tokens * H * (D + 4)
    return {"gather_sdpa": 2 * padded * H * D * e * 3, "triton_paged": 2 * tokens * H * D * e,
            "gather_dequant_sdpa_int8": 2 * padded * H * ((D + 4) + 2 * D * e + D * e),
            "triton_paged_int8": quant, "triton_paged_fp8": quant}[variant]


def engine_table(device, n: int = 24, seed: int = 3):
    """The course engine (labs/inference, in its default precision) serving one workload twice: decode
    attention by gather + SDPA, then by the block-table kernel. Tokens/s from the engine's own timestamps."""
    from perflab.table import Table
    from labs.inference.metrics import summarize
    from labs.inference.model import ModelConfig, build_model
    from labs.inference.scheduler import EngineConfig, serve
    from labs.inference.workload import make_workload
    if torch.device(device).type != "cuda":
        return "the engine comparison needs a CUDA GPU (on the cpu tier Triton is interpreted; tests check its tokens)"
    model = build_model(ModelConfig.gpt2(), device, dtype=None, seed=0)
    reqs = make_workload(n, vocab_size=model.config.vocab_size, prompt_len=("uniform", 16, 400),
                         output_len=("uniform", 16, 64), seed=seed)
    out, rows = {}, []
    for attention in ("torch", "triton", "torch", "triton"):          # the first pair warms up
        traces = serve(model, reqs, EngineConfig(max_batch=16, attention=attention))
        out[attention] = (traces, summarize(traces))
    same = sum(a.tokens == b.tokens for a, b in zip(out["torch"][0], out["triton"][0]))
    for attention, (_, s) in out.items():
        rows.append([attention, f"{s.tokens_per_s:,.0f}", f"{s.tpot_p50 * 1e3:,.2f}", f"{s.span_s * 1e3:,.0f}"])
    dtype = str(next(model.parameters()).dtype).removeprefix("torch.")
    return Table(["decode attention", "tokens/s", "TPOT p50 ms", "total ms"], rows,
                 f"GPT-2 small ({dtype}), {n} requests, continuous batching of 16 · {device}",
                 [f"{same}/{n} requests give identical tokens both ways (a difference would be a near-tie "
                  f"flipped by bf16 rounding; the CPU tests match the plain loop token for token)"])


def speedup_line(run, guess: float | None = None) -> str:
    """How much faster the int8 kernel ran than the bf16 kernel, and the kernel than the gather (a LabRun)."""
    t = {r.name: r.measurement.median for r in run.rows if r.measurement}
    said = f" (you guessed {guess:.2f}×)" if guess is not None else ""
    if "triton_paged" not in t or "triton_paged_int8" not in t:
        return f"not timed on {run.device}: Triton is interpreted on the cpu tier (checked, not timed){said}"
    return (f"on {run.device}: int8 kernel {t['triton_paged'] / t['triton_paged_int8']:.2f}× the bf16 kernel{said}; "
            f"bf16 kernel {t['gather_sdpa'] / t['triton_paged']:.2f}× gather + SDPA")
