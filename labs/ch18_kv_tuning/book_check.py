"""Chapter 18's book check: KV transfer collation (L7941), KV sizes and budgets (L7321, L7796, L7898, L7975), 4-bit KV (L8474)."""
from __future__ import annotations

import math

from perflab import book
from perflab.table import Table

from labs.ch18_kv_tuning import calculators as calc


def _collation(records, lab) -> str:
    """How many times faster 128-token pages are than 16-token ones, from one lab's records."""
    return book.times(book.ratio(records, lab, "per_page_16", "collated_128"), 1)


def rows_transfer(transfer=None, to_host=None, sweeps=()) -> list:
    mine = book.records_of(transfer, to_host)
    alpha, fixed = calc.book_transfer_fit()
    fits = "; ".join(f"{s.direction} α = {s.fit.alpha_s * 1e6:.1f} µs" for s in sweeps if s is not None and s.fit)
    ref = book.reference_at_gpu_size("ch18.kv_transfer") + book.reference_at_gpu_size("ch18.kv_to_host")
    return [
        ["7,500-token KV: 470 small transfers 20 ms → 128-token pages 8 ms (L7941, L7996)", "2.5×",
         f"D2D {_collation(mine, 'ch18.kv_transfer')}, D2H {_collation(mine, 'ch18.kv_to_host')}",
         f"D2D {_collation(ref, 'ch18.kv_transfer')}, D2H {_collation(ref, 'ch18.kv_to_host')}",
         "same direction, our own link: the book's copies are RDMA writes between hosts, ours stay on one GPU "
         "(HBM) or cross PCIe to pinned host memory; the gain is α·(pages saved) over the total, so it is "
         "largest where each page is small next to the per-copy overhead"],
        ["470 transfers for 7,500 tokens (L7941)", "470", f"{math.ceil(7500 / 16)} pages of 16 "
         f"({math.ceil(7500 / 128)} of 128)", "(arithmetic)", "7,500 / 16 = 468.75, so 469 pages; the book rounds"],
        ["per-transfer overhead implied by 20 → 8 ms", f"{alpha * 1e6:.0f} µs",
         fits or "— (run the sweep)", "—",
         f"solving t = n·α + c through (469, 20 ms) and (59, 8 ms) gives α ≈ {alpha * 1e6:.0f} µs and "
         f"c ≈ {fixed * 1e3:.1f} ms of byte time; our α is one torch copy call (Python + driver + DMA setup)"],
    ]


def rows_sizes() -> list:
    mha, gqa = (80, 32, 128), (80, 8, 128)
    per_tok = calc.kv_bytes_per_token(*mha, 2)
    small = calc.kv_bytes(1000, 40, 16, 64, 2)
    return [
        ["decode GPU: 180 GB − 70 GB weights ≈ 122 GB for KV (L7321)", "122 GB",
         f"{calc.kv_budget_gb(180, 70):.0f} GB", "(arithmetic)",
         "a subtraction slip: 180 − 70 = 110 GB, and activations and workspace take some of that too"],
        ["70B: 1.31 MB per token, 250,000 tokens ≈ 328 GB (L7796)", "328 GB",
         f"{per_tok / 1e6:.2f} MB, {calc.kv_bytes(250_000, *mha, 2) / 1e9:.0f} GB", "(arithmetic)",
         "correct with 32 KV heads (full multi-head attention); with 8 KV heads (GQA) it is 4× less, 82 GB"],
        ["FP8 + selective layers: 250k tokens in 100–150 GB (L7800)", "100–150 GB",
         f"FP8 alone {calc.kv_bytes(250_000, *mha, 1) / 1e9:.0f} GB", "(arithmetic)",
         "FP8 halves 328 GB to 164 GB; reaching 100–150 GB needs the selective layers as well"],
        ["1 GB buffer ≈ 4–8k FP16 tokens for 80 layers × 32 heads × 128 (L7975)", "4–8k",
         f"{calc.tokens_per_buffer(2**30, *mha, 2):,} (32 KV heads), {calc.tokens_per_buffer(2**30, *gqa, 2):,} "
         f"(8 KV heads), {calc.tokens_per_buffer(2**30, *gqa, 1):,} (8 KV heads, FP8)", "(arithmetic)",
         "the book's own formula gives ~820 tokens per GiB for that shape; 4–8k fits only with 8 KV heads "
         "and FP8, or a smaller model"],
        ["40 layers × 16 heads × 64, 1,000 tokens: 'hundreds of MB' (L7898)", "100s of MB",
         f"{small / 1e6:.0f} MB (FP16); ×5 tokens: {5 * small / 1e6:.0f} MB", "(arithmetic)",
         "2 × 40 × 16 × 64 × 2 B = 164 KB per token: about 164 MB, the low end of 'hundreds'; "
         "the '40,000 KV vectors' are 40 layers × 1,000 tokens (per K and per V)"],
    ]


def rows_quant(study=None) -> list:
    if study is None:
        return []
    from labs.ch18_kv_tuning import quant_study as qs
    i8 = study.row(f"int8 per token + {qs.WINDOW} recent")
    i4 = study.row(f"int4 (groups of 32) + {qs.WINDOW} recent")
    ch = study.row(f"int8 K per channel + {qs.WINDOW} recent")
    err = lambda r: f"{r.error['random']:.1%} random, {r.error['structured']:.1%} structured"  # noqa: E731
    return [
        ["quantize KV to INT8/FP8 before sending: fewer bytes (L8135–L8143)", "no number",
         f"int8: {i8.fraction:.2f}× the bf16 bytes, error {err(i8)}", "— (Lab 4 on the GPU)",
         "int8 codes are half of bf16; the float32 scales (4 B per token and head) and the bf16 window add the rest"],
        ["keep the last 128 tokens full precision, the rest 4-bit (L8474)", "recipe, no number",
         f"int4: {i4.fraction:.2f}×, error {err(i4)}; int8 K per channel: {err(ch)}", "— (Lab 4 on the GPU)",
         "per-token 4-bit scales are stretched by the few large key channels; the window only protects the "
         "recent tokens' share of attention. Per-channel K scales (as int8 shows here) are what make low-bit K work"],
    ]


def table(transfer=None, to_host=None, sweeps=(), study=None) -> Table:
    """The claims beside this session's runs (LabRuns, page sweeps, the quantization study) and the H200 reference."""
    rows = rows_transfer(transfer, to_host, sweeps) + rows_sizes() + rows_quant(study)
    return book.table(rows, "Book check · Chapter 18", f"yours ({book.device_of(transfer, to_host)})",
                      notes=["'—' under yours: that lab did not time on this tier (device-to-host needs a GPU)",
                             "'(arithmetic)': the same on every device; the formula is the book's own (L7295, L7896)"])
