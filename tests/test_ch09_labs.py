"""Chapter 9 labs: naming and sizes, the gate's precision rules, the online-softmax bug, every kernel path, and
the traffic model against hand counts (shape, variants at two sizes, planted bugs: tests/test_contract.py)."""
from __future__ import annotations

import pytest
import torch

import perflab as pl
from labtests import DEVICE
from perflab.check import compare
from perflab.lab import info

ROW_LABS = ["ch09.l2norm", "ch09.softmax", "ch09.layernorm", "ch09.rmsnorm"]


def test_triton_variants_are_named_triton():
    for name in ROW_LABS:
        for fn in pl.load(name).variants:
            assert (info(fn).backend == "triton") == fn.__name__.startswith("triton"), fn.__name__


def test_ladder_sizes_keep_n_and_k_aligned_for_tensor_cores():
    ladder = pl.load("ch09.precision_ladder")
    for m, n, k in [*ladder.SIZES["cpu"], *ladder.SIZES["gpu"]]:
        assert m % 16 and not n % 16 and not k % 16, (m, n, k)


def test_gpu_sizes_fit_the_budget():
    """One call moves or computes enough to time (≥ 0.2 ms on an H200) and holds ≤ 8 GB of inputs."""
    for name in ROW_LABS:
        lab = pl.load(name)
        for size in lab.SIZES["gpu"]:
            assert lab.bytes(size, "float32") / 4.2e12 > 0.2e-3, (name, size)      # at the H200's copy BW
            assert size[0] * size[1] * 4 * 8 < 8e9                 # x, y, float64 reference and temporaries
    ladder = pl.load("ch09.precision_ladder")
    assert ladder.flops(ladder.SIZES["gpu"][0], "float32") / 51e12 < 60e-3      # fp32 at the H200 ceiling


def test_rows_have_their_own_scale_and_offset():
    x = pl.load("ch09.l2norm").make_inputs((509, 1021), "cpu", "float32", 0)["x"]
    assert x.std(dim=1).std() > 0.3 and x.mean(dim=1).std() > 0.3


# ---- the gate's precision rules on this chapter's labs ---------------------------------------------

def test_low_precision_results_need_their_declared_tolerance():
    """A bf16 matmul passes as 'bfloat16' but would fail the float32 gate: the declaration matters."""
    lab = pl.load("ch09.precision_ladder")
    inputs = lab.make_inputs((67, 48, 32), DEVICE, "float32", 5)
    out, ref = lab.get_variant("bf16")(**inputs), lab.reference(**inputs)
    assert compare(out, ref, "bfloat16").ok and not compare(out, ref, "float32").ok
    if DEVICE == "cuda" and not pl.env().has("sm_89"):
        return
    out8 = lab.get_variant("fp8")(**inputs)
    assert compare(out8, ref, "float8").ok and not compare(out8, ref, "bfloat16").ok


def test_cast_cache_follows_in_place_updates():
    lab = pl.load("ch09.precision_ladder")
    inputs = lab.make_inputs((67, 48, 32), DEVICE, "float32", 6)
    bf16 = lab.get_variant("bf16")
    bf16(**inputs)
    inputs["a"].mul_(-2.0)                                   # a stale cached cast would now be wrong
    assert compare(bf16(**inputs), lab.reference(**inputs), "bfloat16").ok


# ---- planted bugs (the others: tests/test_contract.py) -----------------------------------------------

def softmax_online_without_rescale(x, block=4096):
    """The classic online-softmax bug: the running sum is not rescaled when the running max grows."""
    m = torch.full((x.shape[0], 1), float("-inf"), dtype=torch.float64)
    s = torch.zeros_like(m)
    xd = x.double()
    for c0 in range(0, x.shape[1], block):
        blk = xd[:, c0:c0 + block]
        m = torch.maximum(m, blk.amax(dim=1, keepdim=True))
        s = s + torch.exp(blk - m).sum(dim=1, keepdim=True)
    return torch.exp(xd - m) / s


def test_online_softmax_bug_is_caught_on_wide_rows():
    lab = pl.load("ch09.softmax")
    inputs = lab.make_inputs((37, 9_001), DEVICE, "float32", seed=3)
    assert not compare(softmax_online_without_rescale(**inputs), lab.reference(**inputs), "float32").ok


# ---- traffic model: hand counts ---------------------------------------------------------------

def test_l2norm_traffic_matches_hand_count():
    from labs.ch09_arithmetic_intensity import l2norm
    # 10 rows × 100 float32: x·x reads and writes 4,000 B each; the sum writes 10 values; + ε and sqrt
    # touch 10 values each; the divide reads x and the 10 norms and writes y
    assert [k.bytes for k in l2norm.kernels("eager_chain", (10, 100))] == [8000, 4040, 80, 80, 8040]
    assert [k.bytes for k in l2norm.kernels("torch_normalize", (10, 100))] == [4040, 80, 8040]
    assert l2norm.kernels("torch_compile", (10, 1000), device="cuda")[0].bytes == 8 * 10 * 1000
    assert l2norm.kernels("torch_compile", (10, 1100), device="cuda")[0].bytes == 12 * 10 * 1100
    assert l2norm.kernels("torch_compile", (10, 1000), device="cpu")[0].bytes == 12 * 10 * 1000
    assert l2norm.kernels("triton_fused", (10, 9001))[0].bytes == 12 * 10 * 9001      # looped: two reads
    assert l2norm.kernels("triton_fused", (10, 100), "bfloat16")[0].bytes == 4 * 10 * 100
    eager = l2norm.kernels("eager_chain", (1024, 4096))
    chain = sum(k.flops for k in eager) / sum(k.bytes for k in eager)
    assert abs(chain - 0.15) < 1e-3                          # 3 FLOP over 20 B per element
    with pytest.raises(ValueError, match="no traffic model"):
        l2norm.kernels("nope", (10, 100))


def test_other_labs_traffic_matches_hand_count():
    from labs.ch09_arithmetic_intensity import layernorm, precision_ladder, rmsnorm, softmax
    n = 100 * 1000
    per_elem = lambda ks: sum(k.bytes for k in ks) / n  # noqa: E731
    assert round(per_elem(softmax.kernels("eager_chain", (100, 1000)))) == 32        # 5 reads + 3 writes
    assert round(per_elem(layernorm.kernels("eager_chain", (100, 1000)))) == 48      # 7 reads + 5 writes
    assert round(per_elem(rmsnorm.kernels("eager_chain", (100, 1000)))) == 28        # 4 reads + 3 writes
    assert layernorm.kernels("triton_fused", (100, 9001))[0].read == (2 * 100 * 9001 + 2 * 9001) * 4    # 2 reads
    assert precision_ladder.kernels("fp8", (10, 20, 30))[0].bytes == 1 * (10 * 30 + 30 * 20) + 2 * 10 * 20
    assert precision_ladder.kernels("tf32", (10, 20, 30))[0].bytes == precision_ladder.bytes((10, 20, 30))


def test_row_plan():
    from labs.ch09_arithmetic_intensity._common import row_plan
    assert row_plan(1021).block == 1024 and row_plan(1021).one_pass and row_plan(1021).num_warps == 4
    assert row_plan(8192).one_pass and not row_plan(8193).one_pass
    wide = row_plan(32771, "softmax", "bfloat16")
    assert not wide.one_pass and wide.programs > 0 and wide.grid(10**6) == (wide.programs,) and wide.grid(3) == (3,)
    assert row_plan(4099, "l2norm").grid(77) == (77,)                   # one program per row
    with pytest.raises(ValueError, match="at least one column"):
        row_plan(0)
    with pytest.raises(ValueError, match="no launch plan for kernel 'gelu'"):
        row_plan(4099, "gelu")


# every path of the row kernels at odd sizes: one pass, a loop with one program per row, and a small fixed
# grid of programs that loop over rows (rows > programs, and rows < programs)
ROW_PATHS = [(256, False, 0), (128, False, 3), (512, False, 64), (1024, True, 0), (1024, True, 5)]


@pytest.mark.parametrize("name", ["l2norm", "softmax", "layernorm", "rmsnorm"])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_every_kernel_path_matches_reference(name, dtype):
    import importlib
    from labs.ch09_arithmetic_intensity._common import RowPlan
    mod = importlib.import_module(f"labs.ch09_arithmetic_intensity.{name}")
    kern = getattr(mod, f"_{name}_kernel")
    for size in ((13, 1001), (7, 131)):
        inputs = mod.make_inputs(size, DEVICE, dtype, seed=size[1])
        ref = mod.reference(**inputs)
        for block, one_pass, programs in ROW_PATHS:
            plan = RowPlan(block, one_pass, 4, programs)
            if one_pass and block < size[1]:
                continue
            x = inputs["x"]
            y = torch.full_like(x, float("nan"))                        # an unwritten element cannot pass
            args = [x] + [inputs[k] for k in ("w", "b") if k in inputs]     # layernorm: w and b; rmsnorm: w
            eps = [] if name == "softmax" else [mod.EPS]
            kern[plan.grid(size[0])](*args, y, size[0], size[1], x.stride(0), *eps, BLOCK=plan.block,
                                     ONE_PASS=plan.one_pass, PERSISTENT=plan.programs > 0)
            check = compare(y, ref, dtype)
            assert check.ok, f"{name} {size} {dtype} {plan}: {check.reason}"


def test_looped_layernorm_variance_survives_a_large_offset():
    """The looped pass sums x − k with k the row's first value: on rows far from zero it stays as accurate as
    the one-pass kernel (which subtracts the exact mean), where E[x²] − E[x]² in float32 falls apart."""
    from labs.ch09_arithmetic_intensity import layernorm
    from labs.ch09_arithmetic_intensity._common import RowPlan
    inputs = layernorm.make_inputs((5, 3001), DEVICE, "float32", 4)
    x, w, b = inputs["x"] + 1e4, inputs["w"], inputs["b"]               # |mean| / std ≈ 10⁴
    ref = layernorm.reference(x, w, b)
    err = lambda y: float((y.double() - ref).norm() / ref.norm())      # noqa: E731
    looped = err(layernorm.launch(x, w, b, torch.empty_like(x), RowPlan(256, False, 4, 2)))
    one_pass = err(layernorm.launch(x, w, b, torch.empty_like(x), RowPlan(4096, True, 4)))
    naive_var = (x * x).mean(1, keepdim=True) - x.mean(1, keepdim=True) ** 2      # unshifted, in float32
    naive = err((x - x.mean(1, keepdim=True)) / torch.sqrt(naive_var.clamp_min(0) + layernorm.EPS) * w + b)
    assert looped <= 2 * one_pass and naive > 100 * one_pass, (looped, one_pass, naive)


def test_online_softmax_handles_fully_masked_blocks():
    """A looped softmax whose first blocks are all -inf (a causal mask) must not produce NaN."""
    from labs.ch09_arithmetic_intensity import softmax
    from labs.ch09_arithmetic_intensity._common import RowPlan
    x = torch.full((3, 700), float("-inf"), device=DEVICE)
    x[:, 600:] = torch.randn(3, 100, device=DEVICE)
    y = softmax.launch(x, torch.empty_like(x), RowPlan(256, False, 4, 2))
    assert compare(y, torch.softmax(x.double(), dim=1), "float32").ok


def test_launch_sweep_plans_and_cpu_refusal(capsys):
    from labs.ch09_arithmetic_intensity import launch_sweep
    from labs.ch09_arithmetic_intensity._common import RowPlan, row_plan
    p = launch_sweep.plans(4099, sms=132)
    assert RowPlan(8192, True, 8) in p and RowPlan(2048, False, 8) in p and RowPlan(2048, False, 8, 264) in p
    assert all(not plan.one_pass for plan in launch_sweep.plans(40000))          # too wide for one pass
    assert any(plan.programs == 132 for plan in launch_sweep.plans(40000, sms=132))
    assert launch_sweep.main([]) == 2 and "needs a CUDA GPU" in capsys.readouterr().out
    cur = row_plan(4099, "softmax")
    rows = [{"kernel": "softmax", "size": [4, 4099], "dtype": "float32", "one_pass": True, "block": 8192, "warps": w,
             "gbps": g} for w, g in ((cur.num_warps, 1000.0), (cur.num_warps * 2, 2000.0))]
    t = launch_sweep.table(rows, copy_gbps=4000.0)
    assert t.rows[0][3:] == [f"one pass 8192, {cur.num_warps * 2} warps", "50%", "25%"]


def test_every_row_plan_launches_a_power_of_two_warps():
    """The interpreter ignores num_warps, so a plan with a bad one passes every CPU run: check the plans."""
    from labs.ch09_arithmetic_intensity._common import ONE_PASS_WARPS, row_plan
    for kernel in ONE_PASS_WARPS:
        for cols in (1, 37, 1021, 4099, 8192, 8193, 32771):
            plan = row_plan(cols, kernel)
            w = plan.num_warps
            assert isinstance(w, int) and not isinstance(w, bool) and w > 0 and w & (w - 1) == 0, (kernel, cols, plan)
            assert isinstance(plan.one_pass, bool) and plan.block & (plan.block - 1) == 0
