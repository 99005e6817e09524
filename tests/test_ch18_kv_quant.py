"""Chapter 18 KV quantization: error bounds per element, the exact recent window, real byte counts, the study."""
from __future__ import annotations

import pytest
import torch

from labs.ch18_kv_tuning import kv_quant as kq
from labs.ch18_kv_tuning import quant_study as qs

SHAPE = (2, 3, 301, 64)          # (batch, heads, tokens, head_dim): tokens not a multiple of 16


def kv(seed=0, shape=SHAPE, outliers=False):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(*shape, generator=g)
    if outliers:
        x[..., 5] *= 20.0
    return x.bfloat16()


def per_element_scale(q: kq.QuantizedTensor) -> torch.Tensor:
    """The scale that applies to each old element, broadcast to the old tokens' shape."""
    b, h, t, d = q.shape
    n_old = t - q.recent.shape[-2]
    if q.kind == "int4":
        return q.scale.expand(b, h, n_old, d // kq.INT4_GROUP, kq.INT4_GROUP).flatten(-2)
    return q.scale.expand(b, h, n_old, d)


@pytest.mark.parametrize("kind, axis", [("int8", "token"), ("int8", "channel"), ("int4", "token")])
@pytest.mark.parametrize("outliers", [False, True])
def test_round_trip_error_is_at_most_half_a_scale(kind, axis, outliers):
    x = kv(1, outliers=outliers)
    q = kq.quantize(x, kind, axis, window=0)
    err = (q.dequantize() - x.float()).abs()
    bound = per_element_scale(q) / 2
    assert bool((err <= bound * (1 + 1e-5) + 1e-12).all()), f"worst excess {(err - bound).max():.3e}"
    assert float(err.max()) > 0                               # it did quantize


@pytest.mark.parametrize("kind", ["int8", "fp8", "int4"])
@pytest.mark.parametrize("window", [1, 128, 301, 500])
def test_recent_window_is_exact(kind, window):
    x = kv(2)
    q = kq.quantize(x, kind, window=window)
    back = q.dequantize(torch.bfloat16)
    w = min(window, x.shape[2])
    assert back.shape == x.shape
    assert torch.equal(back[..., -w:, :], x[..., -w:, :])
    if w < x.shape[2]:
        assert not torch.equal(back[..., :-w, :], x[..., :-w, :])


def test_codes_dtypes_and_byte_counts():
    x = kv(3)
    b, h, t, d = x.shape
    i8 = kq.quantize(x, "int8", window=0)
    assert i8.codes.dtype == torch.int8 and i8.nbytes() == b * h * t * (d + 4)       # 1 B codes + fp32 scale per token
    ch = kq.quantize(x, "int8", "channel", window=0)
    assert ch.nbytes() == b * h * t * d + b * h * d * 4
    i4 = kq.quantize(x, "int4", window=0)
    assert i4.codes.dtype == torch.uint8 and i4.codes.shape[-1] == d // 2             # two codes per byte
    assert i4.nbytes() == b * h * t * (d // 2 + 4 * d // kq.INT4_GROUP)
    f8 = kq.quantize(x, "fp8", window=0)
    assert f8.codes.dtype == torch.float8_e4m3fn and f8.nbytes() == i8.nbytes()
    win = kq.quantize(x, "int8", window=128)
    assert win.nbytes() == b * h * (t - 128) * (d + 4) + b * h * 128 * d * 2
    assert kq.quantize(x, "none").nbytes() == x.numel() * 2


def test_int8_halves_bf16_memory_at_long_context():
    x = torch.randn(1, 2, 8_191, 128).bfloat16()
    q = kq.quantize(x, "int8", window=128)
    frac = q.nbytes() / (x.numel() * 2)
    assert 0.5 < frac < 0.53                      # half, plus scales (4 B per 128 values) and the window


def test_int4_packing_round_trips_every_code():
    codes = torch.arange(-7, 8, dtype=torch.int8).repeat(2)[:30].reshape(1, 1, 1, 30)
    assert torch.equal(kq._unpack_int4(kq._pack_int4(codes), 30), codes)


def test_fp8_relative_error_is_within_three_mantissa_bits():
    x = kv(4)
    q = kq.quantize(x, "fp8", window=0)
    xf, back = x.float(), q.dequantize()
    normal = xf.abs() >= per_element_scale(q) * 2 ** -6            # e4m3's normal range, relative to the scale
    rel = ((back - xf).abs() / xf.abs())[normal]
    assert float(rel.max()) <= 2 ** -4 * (1 + 1e-6)


def test_zero_rows_and_bad_arguments():
    x = torch.zeros(1, 1, 20, 64, dtype=torch.bfloat16)
    assert torch.equal(kq.quantize(x, "int8").dequantize(torch.bfloat16), x)
    with pytest.raises(ValueError, match="kind"):
        kq.quantize(x, "int3")
    with pytest.raises(ValueError, match="per-channel"):
        kq.quantize(x, "int4", "channel")
    with pytest.raises(ValueError, match="batch, heads, tokens, head_dim"):
        kq.quantize(x[0], "int8")
    with pytest.raises(ValueError, match="not a multiple"):
        kq.quantize(torch.zeros(1, 1, 4, 48), "int4")


def test_attention_matches_sdpa():
    q, k, v = (kv(5, (1, 2, n, 64)) for n in (4, 301, 301))
    ref = torch.nn.functional.scaled_dot_product_attention(q.float(), k.float(), v.float())
    assert torch.allclose(kq.attention(q, k, v), ref, atol=1e-5)


def test_study_orders_the_schemes_as_expected():
    s = qs.run(device="cpu", size=(2, 1_009, 64))
    bf16 = s.row("bf16 (no quantization)")
    assert bf16.error == {"random": 0.0, "structured": 0.0} and bf16.fraction == 1.0
    i8 = s.row("int8 per token + 128 recent")
    i4 = s.row("int4 (groups of 32) per token")
    assert 0.5 < i8.fraction < 0.65 and i4.fraction < 0.35
    for case in qs.CASES:
        assert 0 < i8.error[case] < 0.03 < i4.error[case]
    # a few large key channels: per-channel K scales beat per-token ones, and the window helps
    assert s.row("int8 K per channel + 128 recent").error["structured"] < s.row("int8 per token").error["structured"]
    assert i8.error["structured"] < s.row("int8 per token").error["structured"]
    assert 0 < s.bf16_rounding < 0.01
    assert "error · structured" in str(s.table())


def test_structured_case_puts_attention_on_the_sink_and_recent_tokens():
    q, k, v = qs.make_case("structured", (2, 2_011, 64), "cpu", 0)
    w = torch.softmax(q.float() @ k.float().transpose(-1, -2) / 8.0, dim=-1)
    share = w[..., 0].mean() + w[..., -128:].sum(-1).mean()
    assert share > 0.3                            # vs 129/2011 ≈ 6 % if attention were uniform
    with pytest.raises(ValueError, match="case"):
        qs.make_case("zipf", (1, 10, 64))
