"""Chapter 19's measured outcomes as checked claims (perflab.claims), beside the book check.

Lab claims read ``pl.run`` records; ``ch19.warmup`` is the table ``warmup.table()`` returns and
``ch19.batching`` the records ``batching.run()`` returns (``values={...}`` in ``claims.show``);
``ch19.quant`` and ``ch19.exits`` are deterministic arithmetic (``model=``)."""
from perflab.claims import AtMost, Faster, Holds, cell


def _int8_error():
    import torch
    from labs.ch19_adaptive_inference import quant
    w = torch.randn(389, 1031, generator=torch.Generator().manual_seed(0))
    iw = quant.quantize_int8(w)
    return float(((iw.dequantize() - w).abs() / (iw.scale[:, None] / 2)).max())


def _gpt2_head_share():
    from labs.ch19_adaptive_inference.exits import head_share
    return head_share((768, 12, 127))


def _break_even(prefix):
    """Tokens until a warm-up pays back, from warmup.table()'s 'break-even vs eager' column."""
    return cell(prefix, "break-even vs eager", "startswith")


def _best_timeout(load_end):
    """The timer policy's timeout with the lowest p50 at the lowest (or highest) load, over the largest timeout."""
    def read(records):
        if not isinstance(records, list) or not records:
            return None
        timer = [r for r in records if r.policy == "timer"]
        rate = (min if load_end == "low" else max)(r.rate for r in timer)
        best = min((r for r in timer if r.rate == rate), key=lambda r: r.p50)
        return best.timeout / max(r.timeout for r in timer)
    return read


CLAIMS = [
    Holds("ch19.quant", "int8 per output channel moves each weight by at most half a step (≤ 1.0 of scale/2)",
          lambda v: v, at_most=1.0 + 1e-6, unit="", model=_int8_error),
    Holds("ch19.exits", "on GPT-2 small one exit head is ≥ 25% of a decode step (the vocabulary projection)",
          lambda v: v, at_least=0.25, unit="%", model=_gpt2_head_share),
    Faster("ch19.w8_gemv", "bf16_weights", than="int8_torch", by=2.0, tier="gpu",
           text="widening int8 to a bf16 temporary first is ≥ 2× slower than plain bf16 weights"),
    Faster("ch19.w8_gemv", "int8_triton", than="bf16_weights", by=1.4, tier="gpu",
           text="the fused int8 kernel (1 byte per weight read once) is ≥ 1.4× bf16"),
    Faster("ch19.w8_gemv", "fp8_scaled_mm", than="bf16_weights", by=1.4, tier="sm_90",
           text="fp8 weights on fp8 tensor cores are ≥ 1.4× bf16 on one GEMV"),
    Faster("ch19.decode_precision", "bf16", than="fp32", by=1.4, tier="gpu",
           text="on the engine, bf16 is ≥ 1.4× fp32 (half the bytes)"),
    Faster("ch19.decode_precision", "int8_triton", than="bf16", by=1.15, tier="gpu",
           text="int8 weights (fused kernel) speed the whole decode step by ≥ 1.15×"),
    AtMost("ch19.decode_precision", "int8_triton", "speedup_vs_baseline", 2.0, tier="gpu",
           text="but by less than the 2× byte ratio: attention, LayerNorms and small kernels do not shrink"),
    Faster("ch19.decode_precision", "bf16", than="int8_torch", by=2.0, tier="gpu",
           text="on the engine too, int8 widened to a temporary is ≥ 2× slower than bf16"),
    Faster("ch19.decode_graph", "cuda_graph", than="eager", by=3.5, tier="gpu",
           text="GPT-2 small at batch 1: a CUDA-graph decode step is ≥ 3.5× eager (how much depends on the "
                "host CPU's launch speed)"),
    Holds("ch19.warmup", "a decode graph's capture pays back within 100 tokens", _break_even("cuda_graph"),
          at_most=100, unit=" tokens", tier="gpu"),
    Holds("ch19.warmup", "a cold torch.compile needs ≥ 1,000 tokens to pay back", _break_even("torch_compile"),
          at_least=1000, unit=" tokens", tier="gpu"),
    Holds("ch19.batching", "at the lowest load the timer's best timeout is the shortest (0 ms)", _best_timeout("low"),
          at_most=0.0, unit=""),
    Holds("ch19.batching", "at the highest load the timer's best timeout is the longest", _best_timeout("high"),
          at_least=1.0, unit=""),
]
