"""Planted bugs for the labs of chapters 1-9: plausible wrong variants that the correctness gate must reject."""
from __future__ import annotations

import torch

from labtests import planted_in

import perflab as pl

from labs.ch01_goodput import train_loop as tl
from labs.ch02_hardware import cache_ladder as cl


# ---- ch01 --------------------------------------------------------------------------------------

@planted_in("ch01.train_loop")
def ch01_wrong_order(raw, labels, order, init, staged_x, staged_y, ckpt_dir):
    params, opt = tl.make_model(init)
    b = staged_x.shape[1]
    losses = [tl.step(params, opt, *tl.fast_batch(raw, labels, order[(tl.STEPS - 1 - s) * b:(tl.STEPS - s) * b], "cpu"))
              for s in range(tl.STEPS)]                                     # batches in reverse order
    return tl.result(params, torch.stack(losses))


@planted_in("ch01.train_loop")
def ch01_skips_a_step(raw, labels, order, init, staged_x, staged_y, ckpt_dir):
    params, opt = tl.make_model(init)
    losses = [tl.step(params, opt, staged_x[s], staged_y[s]) for s in range(tl.STEPS - 1)]
    losses.append(losses[-1])
    return tl.result(params, torch.stack(losses))


# ---- ch02 --------------------------------------------------------------------------------------

@planted_in("ch02.cache_ladder")
def ch02_drops_tail(x, passes):                       # forgets the last partial chunk
    n = (x.numel() // cl.BLOCK) * cl.BLOCK
    return (passes * x[:n].sum()).reshape(1)


@planted_in("ch02.cache_ladder")
def ch02_one_pass_short(x, passes):
    return ((passes - 1) * x.sum()).reshape(1)


# ---- ch04 --------------------------------------------------------------------------------------

@planted_in("ch04.ring_allreduce")
def ch04_ring_missing_a_step(x):          # one reduce-scatter step too few
    ranks = x.shape[0]
    buf = x.clone()
    bounds = [(int(c[0]), int(c[-1]) + 1) for c in torch.tensor_split(torch.arange(x.shape[1]), ranks)]
    for step in range(ranks - 2):
        for r in range(ranks):
            lo, hi = bounds[(r - step) % ranks]
            buf[(r + 1) % ranks, lo:hi] += buf[r, lo:hi]
    for step in range(ranks - 1):
        for r in range(ranks):
            lo, hi = bounds[(r + 1 - step) % ranks]
            buf[(r + 1) % ranks, lo:hi] = buf[r, lo:hi]
    return buf


# ---- ch05 --------------------------------------------------------------------------------------

def _batched(images, flip, mean, std):
    return pl.load("ch05.transforms").get_variant("torch_batched")(images, flip, mean, std)


@planted_in("ch05.transforms")
def ch05_flips_none(images, flip, mean, std):
    return _batched(images, torch.zeros_like(flip), mean, std)


@planted_in("ch05.transforms")
def ch05_flips_the_wrong_axis(images, flip, mean, std):
    return _batched(images.transpose(-1, -2), flip, mean, std).transpose(-1, -2)


@planted_in("ch05.transforms")
def ch05_swaps_mean_and_std(images, flip, mean, std):
    return _batched(images, flip, std, mean)


# ---- ch06 --------------------------------------------------------------------------------------

@planted_in("ch06.first_kernel", "ch06.triton_sweep")
def ch06_saxpy_forgets_the_tail(x, y, a):
    from labs.ch06_gpu_architecture import first_kernel
    out = torch.zeros_like(x)
    n = x.numel() - x.numel() % 32                   # a grid of n // 32 full blocks, no guard needed... and no tail
    first_kernel.saxpy_kernel[(n // 32,)](x, y, out, float(a), n, BLOCK=32, num_warps=1)
    return out


@planted_in("ch06.block_sweep")
def ch06_saxpy_swaps_x_and_y(x, y, a):
    return torch.add(x, y, alpha=a)


@planted_in("ch06.unified_memory")
def ch06_um_forgets_the_shift(x, x_host):
    from perflab.machine import device
    return 2 * x_host.to(device())


# ---- ch07 --------------------------------------------------------------------------------------

@planted_in("ch07.copy_ladder")
def ch07_copy_skips_last(x):
    y = torch.zeros_like(x)
    y[:-1] = x[:-1]
    return y


@planted_in("ch07.aos_soa")
def ch07_particles_wrong_field(aos, soa, dt):
    return torch.add(soa[0:3], soa[4:7], alpha=dt)          # velocity read one field too far


@planted_in("ch07.matmul_ladder")
def ch07_matmul_drops_k_tail(a, b):
    k = a.shape[1] - a.shape[1] % 16                          # forgets the last partial k block
    return a[:, :k] @ b[:k]


@planted_in("ch07.transpose")
def ch07_transpose_swapped_indices(x):
    return x.reshape(x.shape[1], x.shape[0]).clone()          # right shape, wrong element order


@planted_in("ch07.saxpy2d")
def ch07_saxpy_mask_off_by_one_row(x, a, b):
    from labs.ch07_memory_access import saxpy2d
    rows, cols = x.shape
    y = torch.zeros_like(x)
    grid = (-(-rows * cols // saxpy2d.BLOCK),)
    saxpy2d._saxpy_row_walk_kernel[grid](x, y, a, b, rows - 1, cols, BLOCK=saxpy2d.BLOCK)
    return y


# ---- ch08 --------------------------------------------------------------------------------------

@planted_in("ch08.ilp_stream")
def ch08_stream_skips_tail(x, a, b):
    y = a * x + b
    y[-(x.numel() % 128):] = 0                              # forgets the part past the last full block
    return y


@planted_in("ch08.fma_ilp")
def ch08_fma_one_step_short(x, a, b, chain):
    return x + (chain - 1) * b                              # the chain loop stops one FMA early


@planted_in("ch08.divergence")
def ch08_divergence_wrong_path(x, flag, a, b, c, chain):
    return torch.where(~flag, x + chain * b, x - chain * c)   # branch taken the wrong way round


@planted_in("ch08.launch_bounds")
def ch08_regs_wrong_stride(x, a, b, chain):
    y = x + chain * b
    return torch.cat([y[1:], y[:1]])                        # element i written to i - 1


# ---- ch09 --------------------------------------------------------------------------------------

@planted_in("ch09.l2norm")
def ch09_l2norm_forgets_last_column(x):
    from labs.ch09_arithmetic_intensity import l2norm
    from labs.ch09_arithmetic_intensity._common import row_plan
    rows, cols = x.shape
    y, plan = torch.zeros_like(x), row_plan(cols)
    l2norm._l2norm_kernel[(rows,)](x, y, rows, cols - 1, x.stride(0), l2norm.EPS, BLOCK=plan.block,
                                   ONE_PASS=plan.one_pass, PERSISTENT=False)
    return y


@planted_in("ch09.l2norm")
def ch09_l2norm_wrong_row(x):
    return x / torch.sqrt((x * x).sum(dim=1, keepdim=True)).roll(1, dims=0)


@planted_in("ch09.softmax")
def ch09_softmax_unshifted_denominator(x):
    return torch.exp(x - x.amax(dim=1, keepdim=True)) / torch.exp(x).sum(dim=1, keepdim=True)


@planted_in("ch09.layernorm")
def ch09_layernorm_unbiased_variance(x, w, b):
    from labs.ch09_arithmetic_intensity.layernorm import EPS
    return (x - x.mean(1, keepdim=True)) / torch.sqrt(x.var(1, keepdim=True, unbiased=True) + EPS) * w + b


@planted_in("ch09.rmsnorm")
def ch09_rmsnorm_last_row_unwritten(x, w):
    from labs.ch09_arithmetic_intensity import rmsnorm
    from labs.ch09_arithmetic_intensity._common import row_plan
    rows, cols = x.shape
    y, plan = torch.zeros_like(x), row_plan(cols, "rmsnorm")
    rmsnorm._rmsnorm_kernel[(rows - 1,)](x, w, y, rows, cols, x.stride(0), rmsnorm.EPS, BLOCK=plan.block,
                                         ONE_PASS=plan.one_pass, PERSISTENT=False)
    return y


@planted_in("ch09.layernorm")
def ch09_layernorm_grid_misses_rows(x, w, b):
    """A fixed grid that forgets to loop: only the first `programs` rows are written."""
    from labs.ch09_arithmetic_intensity import layernorm
    rows, cols = x.shape
    y = torch.zeros_like(x)
    layernorm._layernorm_kernel[(3,)](x, w, b, y, rows, cols, x.stride(0), layernorm.EPS, BLOCK=256, ONE_PASS=False,
                                      PERSISTENT=False)
    return y


@planted_in("ch09.precision_ladder")
@pl.variant(precision="float8", needs="sm_89")
def ch09_fp8_forgets_a_scale(a, b):
    from labs.ch09_arithmetic_intensity import precision_ladder as pl9
    qa, _ = pl9._to_fp8(a, column_major=False)
    qb, sb = pl9._to_fp8(b, column_major=True)
    one = torch.tensor(1.0, device=a.device)
    return torch._scaled_mm(qa, qb, scale_a=one, scale_b=sb, out_dtype=torch.bfloat16)[: a.shape[0], : b.shape[1]]
