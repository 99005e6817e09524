"""Chapter 18 calculators and book check, against values worked by hand."""
from __future__ import annotations

import pytest

from labs.ch18_kv_tuning import book_check
from labs.ch18_kv_tuning import calculators as calc


def test_kv_bytes_per_token_by_hand():
    assert calc.kv_bytes_per_token(80, 32, 128, 2) == 1_310_720          # L7796: "1.31 MB"
    assert calc.kv_bytes_per_token(80, 8, 128, 2) == 327_680              # the same with 8 KV heads
    assert calc.kv_bytes_per_token(40, 16, 64, 2) == 163_840              # L7898's model
    assert calc.kv_bytes_per_token(12, 12, 64, 0.5) == 9_216              # int4 GPT-2 small
    with pytest.raises(ValueError, match="kv_heads must be positive"):
        calc.kv_bytes_per_token(80, 0, 128)


def test_book_numbers_by_hand():
    assert calc.kv_bytes(250_000, 80, 32, 128, 2) == 327_680_000_000     # L7796: "about 328 GB"
    assert calc.kv_bytes(1_000, 40, 16, 64, 2) == 163_840_000             # L7898: 164 MB, not "hundreds"
    assert calc.kv_budget_gb(180, 70) == 110                              # L7321 says 122
    assert calc.tokens_per_buffer(2**30, 80, 32, 128, 2) == 819           # L7975 says 4-8k
    assert calc.tokens_per_buffer(2**30, 80, 8, 128, 2) == 3_276
    assert calc.tokens_per_buffer(2**30, 80, 8, 128, 1) == 6_553
    with pytest.raises(ValueError, match="exceed HBM"):
        calc.kv_budget_gb(80, 70, 20)


def test_transfer_time_and_the_book_fit():
    # 469 copies × 10 µs + 30.72 MB at 50 GB/s (0.6144 ms)
    assert calc.transfer_seconds(7_500, 4096, 16, 10e-6, 50) == pytest.approx(469 * 10e-6 + 7_500 * 4096 / 50e9)
    alpha, fixed = calc.book_transfer_fit()
    assert alpha == pytest.approx(12e-3 / 410)                              # (20 − 8) ms over (469 − 59) copies
    assert fixed == pytest.approx(8e-3 - 59 * 12e-3 / 410)
    assert 469 * alpha + fixed == pytest.approx(20e-3)
    with pytest.raises(ValueError):
        calc.transfer_seconds(10, 1, 0, 1e-6, 1)


def test_explainers_print_the_numbers():
    text = calc.explain_kv("70B, 32 KV heads (book L7796)", "bf16", 7_500, 141, 70)
    assert "1.311 MB per token" in text and "819 tokens" in text and "71 GB for KV" in text
    t = calc.explain_transfer(7_500, 4.0, 16, 29.0, 53.0)
    assert "469 copies" in t and "ms" in t


def test_engine_preset_matches_the_course_engine():
    model = pytest.importorskip("labs.inference.model")
    cfg = model.ModelConfig.gpt2()
    layers, heads, dim = calc.PRESETS["GPT-2 small (the course engine)"]
    assert (layers, heads, dim) == (cfg.n_layers, cfg.n_heads, cfg.d_model // cfg.n_heads)
    assert calc.kv_bytes_per_token(layers, heads, dim, 2) == cfg.kv_bytes_per_token(2)


def test_book_check_table_without_runs():
    t = book_check.table()
    text = str(t)
    assert "122 GB" in text and "110 GB" in text and "819" in text and "164 MB" in text and "29 µs" in text
    assert all(len(r) == len(t.columns) for r in t.rows)
