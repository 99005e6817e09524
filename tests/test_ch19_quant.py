"""Chapter 19 quantizers and quantized linear layers: error bounds, the Triton kernel vs torch, fp8 emulation vs
torch._scaled_mm, whole-model conversion, and the exercise grader."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

import perflab as pl
from labs.ch19_adaptive_inference import quant, solutions
from labs.ch19_adaptive_inference.quant import (fp8_linear, int8_linear_torch, int8_linear_triton, quantize_fp8,
                                                quantize_int8)

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def _weights(n, k, seed, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, k, generator=g) * scale).to(DEVICE)


@pytest.mark.parametrize("n,k,scale", [(37, 45, 1.0), (389, 1031, 0.02), (5, 3, 300.0)])
def test_int8_round_trip_within_half_a_step(n, k, scale):
    w = _weights(n, k, 1, scale)
    w[0] = 0.0                                              # an all-zero row must not divide by zero
    iw = quantize_int8(w)
    assert iw.q.dtype == torch.int8 and iw.q.abs().max() <= 127
    err = (iw.dequantize() - w).abs()
    assert torch.isfinite(err).all()
    assert (err <= iw.scale[:, None] / 2 * (1 + 1e-5)).all(), "round-to-nearest moves a weight at most scale/2"
    assert (iw.q.abs().amax(dim=1)[1:] == 127).all(), "the largest |w| of every row maps to ±127"


def test_int8_rows_are_16_byte_aligned_and_padded_with_zeros():
    iw = quantize_int8(_weights(7, 45, 2))
    assert iw.q.shape == (7, 45) and iw.q.stride() == (48, 1)
    storage = iw.q.as_strided((7, 48), (48, 1))
    assert (storage[:, 45:] == 0).all()


def test_fp8_round_trip_within_e4m3_rounding():
    w = _weights(131, 77, 3)
    fw = quantize_fp8(w)
    assert fw.q.shape == (144, 80) and fw.q.dtype == torch.float8_e4m3fn     # padded to multiples of 16
    err = (fw.dequantize() - w).abs()
    # 3 mantissa bits: half a step is 2^-4 of the value; subnormals (below 2^-6 · scale) step by 2^-9 · scale
    assert (err <= 2 ** -4 * w.abs() + 2 ** -10 * fw.scale + 1e-7).all()
    assert (fw.q[131:].float() == 0).all() and (fw.q[:, 77:].float() == 0).all()


@pytest.mark.parametrize("m,n,k", [(1, 37, 45), (3, 389, 1031), (2, 771, 517)])
def test_quantized_linear_close_to_float_linear(m, n, k):
    """Stated tolerances (normwise, relative to x @ W^T with the unquantized W): int8 paths 2%, fp8 8%."""
    w, x = _weights(n, k, 4) / k ** 0.5, _weights(m, k, 5).to(torch.bfloat16)
    bias = _weights(1, n, 6)[0].to(torch.bfloat16)
    exact = x.float() @ w.t() + bias.float()
    rel = lambda y: float((y.float() - exact).norm() / exact.norm())  # noqa: E731
    iw = quantize_int8(w)
    assert rel(int8_linear_torch(x, iw, bias)) < 2e-2
    assert rel(int8_linear_triton(x, iw, bias)) < 2e-2
    assert rel(fp8_linear(x, quantize_fp8(w), bias)) < 8e-2
    on_grid = x.float() @ iw.dequantize().t() + bias.float()   # against the int8 grid itself: only bf16 rounding
    assert float((int8_linear_triton(x, iw, bias).float() - on_grid).norm() / on_grid.norm()) < 5e-3


def test_triton_kernel_matches_torch_path_with_and_without_bias():
    w, x = _weights(131, 77, 7), _weights(3, 77, 8).to(torch.bfloat16)
    iw = quantize_int8(w)
    for bias in (None, _weights(1, 131, 9)[0].to(torch.bfloat16)):
        a, b = int8_linear_triton(x, iw, bias).float(), int8_linear_torch(x, iw, bias).float()
        assert float((a - b).norm() / b.norm()) < 1e-2


def test_fp8_emulation_equals_scaled_mm_where_both_run():
    """On the CPU fp8_linear emulates; torch._scaled_mm (where this torch has a CPU kernel) must agree."""
    w, x = _weights(131, 77, 10), _weights(3, 77, 11).to(torch.bfloat16)
    fw = quantize_fp8(w)
    ours = fp8_linear(x.cpu(), quantize_fp8(w.cpu())).float()
    xs = (x.float().abs().amax() / quant.E4M3_MAX).cpu()
    xq = torch.nn.functional.pad(x.float().cpu() / xs, (0, 3, 0, 13)).to(torch.float8_e4m3fn)
    try:
        ref = torch._scaled_mm(xq, fw.q.cpu().t(), scale_a=xs, scale_b=fw.scale.cpu(), out_dtype=torch.float32)
    except (RuntimeError, NotImplementedError) as e:
        pytest.skip(f"no CPU fp8 matmul in this torch: {e}")
    assert float((ours - ref[:3, :131]).norm() / ref.norm()) < 1e-2


@torch.no_grad()
def test_convert_keeps_the_master_and_halves_linear_bytes():
    from labs.inference.model import ModelConfig, build_model
    cfg = ModelConfig(vocab_size=97, d_model=64, n_layers=2, n_heads=2, max_seq_len=40)
    master = build_model(cfg, DEVICE)
    before = {k: v.clone() for k, v in master.state_dict().items()}
    tokens = torch.randint(0, 97, (2, 11), device=DEVICE)
    ref = master(tokens)
    for kind in quant.KINDS:
        model = quant.convert(master, kind)
        out = model(tokens).float()
        assert out.shape == ref.shape
        assert float((out - ref).norm() / ref.norm()) < (0.1 if kind == "fp8" else 0.03), kind
        if kind.startswith("int8") or kind == "fp8":
            assert not any(isinstance(m, torch.nn.Linear) for m in model.modules())
    assert all(torch.equal(before[k], v) for k, v in master.state_dict().items()), "convert changed the master"
    linears = [m for m in master.modules() if isinstance(m, torch.nn.Linear)]
    saved = quant.weight_bytes(quant.convert(master, "bf16")) - quant.weight_bytes(quant.convert(master, "int8_torch"))
    # one byte per weight, less a 4-byte fp32 scale per output channel
    assert saved == sum(m.weight.numel() - 4 * m.out_features for m in linears)


def test_kernel_lowers_for_sm75_and_sm90_offline():
    """Compile the Triton kernel for real targets (no GPU needed) and check the int8 loads are vectorized."""
    code = (
        "import os, re; os.environ.pop('TRITON_INTERPRET', None)\n"
        "import triton\nfrom triton.backends.compiler import GPUTarget\nfrom triton.compiler import ASTSource\n"
        "from labs.ch19_adaptive_inference._w8_kernel import SIGNATURE as S, w8_gemv_kernel as K\n"
        "names = list(S); div = {(names.index(n),): [['tt.divisibility', 16]] for n in "
        "('x_ptr','q_ptr','s_ptr','b_ptr','y_ptr','stride_qn')}\n"
        "for arch in (75, 90):\n"
        "    ck = triton.compile(ASTSource(K, S, {'HAS_BIAS': True, 'BLOCK_N': 16, 'BLOCK_K': 256}, div),\n"
        "                        target=GPUTarget('cuda', arch, 32), options={'num_warps': 4})\n"
        "    print(arch, len(re.findall(r'ld\\.global\\.v4', ck.asm['ptx'])))\n")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=root, timeout=120)
    if out.returncode != 0:
        pytest.skip(f"this Triton cannot compile offline: {out.stderr.strip().splitlines()[-1:]}")
    counts = dict(line.split() for line in out.stdout.split("\n") if line.strip())
    assert int(counts["75"]) >= 1 and int(counts["90"]) >= 1, out.stdout


# ---- the exercise grader ------------------------------------------------------------------------------

def starter(x, w):
    return torch.nn.functional.linear(x, w.q.to(x.dtype)) * w.scale.to(x.dtype)


def forgets_scale(x, w):
    return torch.nn.functional.linear(x, w.q.to(x.dtype))


def drops_last_channel(x, w):
    y = starter(x, w)
    y[:, -1] = 0
    return y


def test_grader_passes_the_starter_and_the_solution():
    assert pl.grade("ch19.w8_gemv", starter).correct
    assert pl.grade("ch19.w8_gemv", solutions.int8_triton).correct


@pytest.mark.parametrize("wrong", [forgets_scale, drops_last_channel])
def test_grader_fails_a_wrong_answer(wrong):
    g = pl.grade("ch19.w8_gemv", wrong)
    assert not g.correct and not g.passed and "❌" in repr(g)


def test_fp8_scaled_mm_branch_runs_where_torch_has_a_kernel(monkeypatch):
    """Run fp8_linear's tensor-core branch (padding, scales, slicing) on this device when this torch has an
    fp8 matmul here, and compare it with the emulated branch."""
    w, x = _weights(131, 77, 12), _weights(3, 77, 13).to(torch.bfloat16)
    fw = quantize_fp8(w)
    emulated = fp8_linear(x, fw).float() if not quant.has_fp8_matmul(x.device) else None
    monkeypatch.setattr(quant, "has_fp8_matmul", lambda device: True)
    try:
        real = fp8_linear(x, fw).float()
    except (RuntimeError, NotImplementedError) as e:
        pytest.skip(f"no fp8 matmul on {x.device} in this torch: {e}")
    assert real.shape == (3, 131)
    if emulated is not None:
        assert float((real - emulated).norm() / emulated.norm()) < 1e-2
