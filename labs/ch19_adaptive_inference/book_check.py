"""Chapter 19's book check: the precision table (19-2), the FP8 speed claim, INT4 KV, batching timeouts.

    >>> round(kv_saving(group=64, scale_bits=16), 3)     # int4 vs int8 KV with an fp16 scale per 64 values
    0.485
"""
from __future__ import annotations

from perflab import book
from perflab.book import Ratio
from perflab.table import Table


def kv_saving(group: int = 64, scale_bits: int = 16) -> float:
    """Memory saved by int4 instead of int8 KV when every ``group`` values share one scale."""
    int8, int4 = 8 + scale_bits / group, 4 + scale_bits / group
    return 1 - int4 / int8


def _time(s: float) -> str:
    return f"{s * 1e3:,.0f} ms" if s < 10 else f"{s:,.0f} s"


def table(precision=None, gemv=None, memory=None, batching_records=None) -> Table:
    """precision / gemv: LabRuns of ch19.decode_precision and ch19.w8_gemv; memory: ``ladder.memory()``
    (bytes of weights per rung); batching_records: the timeout sweep (``batching.run``)."""
    rows = []
    mem = (f"{memory.fp8 / memory.bf16:.2f}× with 8-bit weights; 1.00× with 16-bit weights"
           if memory else "—")
    rows.append(["Table 19-2 · FP16 weights + FP8 activations: memory (L8392–L8399)", "~0.5×", mem,
                 "same bytes on any device",
                 "halving memory needs 8-bit *weights*: at decode the activations are a few KB; the 0.5× row "
                 "only fits W8A8 (our fp8 rung). Our models keep the embedding tables in bf16, so a little above 0.5×"])
    fp8_why = ("1-byte weights halve the bytes, so up to 2×; activation quantization kernels and the parts left "
               "in bf16 (attention, LayerNorms, embeddings) take some back. fp8 needs sm_89+ to run")
    rows += [Ratio(f"L8384 · FP8 on memory-bound work: ~1.5× ({what})", 1.5, lab, b, a, why, said="1.5×")
             for lab, b, a, what, why in [
                 ("ch19.decode_precision", "bf16", "fp8", "decode step, batch 1", fp8_why),
                 ("ch19.w8_gemv", "bf16_weights", "fp8_scaled_mm", "one decode GEMV", fp8_why),
                 ("ch19.w8_gemv", "bf16_weights", "int8_triton", "same GEMV, int8 W8A16",
                  "not in the book: the same halving of bytes without fp8 hardware (int8 widened in registers, any "
                  "GPU); Triton is interpreted on the cpu tier, so only a GPU times it")]]
    rows.append(["L8382 · INT4 instead of INT8 KV: 50% less memory", "50%",
                 f"{kv_saving(64):.1%} (fp16 scale per 64 values); {kv_saving(32):.1%} per 32", "same arithmetic",
                 "each group of values carries a scale (and often a zero point), which does not shrink with the bits"])
    if batching_records:
        load90 = max(r.rate for r in batching_records)       # the sweep's highest and lowest loads
        load10 = min(r.rate for r in batching_records)
        t2 = next(r for r in batching_records if r.policy == "timer" and r.rate == load90
                  and abs(r.timeout - 0.002) < 1e-9)
        best = {lo: min((r for r in batching_records if r.policy == "timer" and r.rate == lo),
                        key=lambda r: r.p50) for lo in (load10, load90)}
        rows.append(["L6300 · a 2 ms timeout bounds the batching delay to 2 ms", "≤ 2 ms",
                     f"p99 {_time(t2.p99)} at the highest load (timer, T = 2 ms)", "—",
                     "the timer bounds the wait to be *batched*; under load the closed batch then queues for a busy "
                     "GPU, and batches of one cannot keep up"])
        rows.append(["L6320 · adaptive delay: ~0 ms at low RPS, 5–10 ms at peak", "0 → 5–10 ms",
                     f"lowest p50 at T = {best[load10].timeout * 1e3:g} ms at the lowest load, "
                     f"{best[load90].timeout * 1e3:g} ms at the highest", "—",
                     "the right timeout grows with load (about batch/λ); where batches are slow the 'peak' timeout "
                     "is longer than the book's 5–10 ms. A batcher that waits for the GPU to be free adapts by itself"])
    ref = book.reference_at_gpu_size("ch19.decode_precision") + book.reference_at_gpu_size("ch19.w8_gemv")
    return book.table(rows, "Book check · Chapter 19 (and Chapter 16's batching timeouts)",
                      f"yours ({book.device_of(precision, gemv)})", runs=(precision, gemv), reference_records=ref,
                      notes=["'—' under yours: that variant cannot run on this tier (fp8 needs sm_89+, Triton is "
                             "interpreted on the cpu tier)", "the batching rows come from the simulator fed with this "
                             "device's measured batch cost; run the notebook on a GPU for GPU-sized numbers"])
